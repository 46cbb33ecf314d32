// SPDX-License-Identifier: GPL-2.0
/* The last stage of the tail-call-hop benchmark: a verdict that costs nothing. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
