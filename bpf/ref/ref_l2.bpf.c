// SPDX-License-Identifier: GPL-2.0
/*
 * Reference for benchmarks: the least an XDP L2 forwarder can do. One hash lookup
 * of the destination MAC, one devmap redirect; no statistics, no checks beyond
 * what keeps it memory-safe. It is the "practical limit" the l2-bridge FPM chain
 * is compared against, not something to deploy.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct ref_mac {
	__u8 mac[6];
	__u16 pad;	/* always 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ref_mac);
	__type(value, __u32);	/* egress ifindex */
} ref_l2_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} ref_l2_tx SEC(".maps");

SEC("xdp")
int ref_l2(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ref_mac k = {};
	__u32 *out;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(k.mac, eth->h_dest, 6);
	out = bpf_map_lookup_elem(&ref_l2_fdb, &k);
	if (!out)
		return XDP_PASS;
	return bpf_redirect_map(&ref_l2_tx, *out, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
