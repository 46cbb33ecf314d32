// SPDX-License-Identifier: GPL-2.0
/* Tiny redirectors for live-frame tests: to a fixed ifindex, or through a devmap. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 out_ifindex = 0;

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

SEC("xdp")
int redirect_ifindex(struct xdp_md *ctx)
{
	return bpf_redirect(out_ifindex, 0);
}

SEC("xdp")
int redirect_devmap(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_ports, 0, XDP_DROP);
}

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
