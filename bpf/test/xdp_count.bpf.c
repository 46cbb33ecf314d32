// SPDX-License-Identifier: GPL-2.0
/*
 * Test counter: counts frames matching a flow (rodata knobs) and every frame seen.
 * Non-matching frames (ARP, ND, other flows) always pass, so neighbour entries live.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

const volatile __u8 match_proto = 0;	/* 0: any IPv4/IPv6; else the L4 protocol */
const volatile __u16 match_dport = 0;	/* 0: any; else UDP/TCP destination port */
const volatile __u32 match_verdict = XDP_PASS; /* verdict for matching frames */
const volatile __u64 tag = 0;		/* added to slot 2 on every match: tells objects apart */

struct counter {
	__u64 packets;
	__u64 bytes;
};

/* 0: matched, 1: all frames, 2: sum of tag over matches */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

static __always_inline void bump(__u32 idx, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int l4_match(void *l4, void *end, __u8 proto)
{
	if (match_proto && proto != match_proto)
		return 0;
	if (!match_dport)
		return 1;
	if (proto == IPPROTO_UDP) {
		struct udphdr *u = l4;

		if ((void *)(u + 1) > end)
			return 0;
		return u->dest == bpf_htons(match_dport);
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *t = l4;

		if ((void *)(t + 1) > end)
			return 0;
		return t->dest == bpf_htons(match_dport);
	}
	return 0;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	int match = 0;

	bump(1, len);
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return XDP_PASS;
		match = l4_match((void *)ip + ip->ihl * 4, end, ip->protocol);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		/* ND is ICMPv6 too: never count or drop it unless asked for ICMPv6 */
		match = l4_match(ip6 + 1, end, ip6->nexthdr);
	}
	if (!match)
		return XDP_PASS;
	bump(0, len);
	if (tag) {
		__u32 idx = 2;
		struct counter *c = bpf_map_lookup_elem(&counters, &idx);

		if (c) {
			c->packets++;
			c->bytes += tag;
		}
	}
	return match_verdict;
}

char LICENSE[] SEC("license") = "GPL";
