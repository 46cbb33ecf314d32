// SPDX-License-Identifier: GPL-2.0
/*
 * Reference for benchmarks: the least an XDP router can do with the kernel's FIB.
 * bpf_fib_lookup, MAC rewrite, TTL/hop-limit decrement, devmap redirect; no
 * statistics and none of the l3-router FPM's fidelity checks. The "practical
 * limit" for routed traffic, not something to deploy.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define REF_ETH_P_IP   0x0800
#define REF_ETH_P_IPV6 0x86DD
#define REF_AF_INET    2
#define REF_AF_INET6   10

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} ref_fib_tx SEC(".maps");

SEC("xdp")
int ref_fib(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup f = {};
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6 = NULL;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(REF_ETH_P_IP)) {
		iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end || iph->ttl <= 1)
			return XDP_PASS;
		f.family = REF_AF_INET;
		f.tos = iph->tos;
		f.l4_protocol = iph->protocol;
		f.tot_len = bpf_ntohs(iph->tot_len);
		f.ipv4_src = iph->saddr;
		f.ipv4_dst = iph->daddr;
	} else if (eth->h_proto == bpf_htons(REF_ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1)
			return XDP_PASS;
		f.family = REF_AF_INET6;
		f.l4_protocol = ip6->nexthdr;
		f.tot_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(f.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(f.ipv6_dst, &ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}
	f.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &f, sizeof(f), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	if (iph) {
		__u32 check = iph->check;

		check += bpf_htons(0x0100);
		iph->check = (__u16)(check + (check >= 0xFFFF));
		iph->ttl--;
	} else if (ip6) {
		ip6->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, f.dmac, 6);
	__builtin_memcpy(eth->h_source, f.smac, 6);
	return bpf_redirect_map(&ref_fib_tx, f.ifindex, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
