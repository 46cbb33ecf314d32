// SPDX-License-Identifier: GPL-2.0
/* Compiles, but reads the Ethernet header without a bounds check: the verifier refuses it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bad_prog(struct xdp_md *ctx)
{
	struct ethhdr *eth = (void *)(long)ctx->data;

	return eth->h_proto == 0 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
