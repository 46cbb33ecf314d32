// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery counter for the far host of a benchmark lab. Counts only the test flow
 * (IP protocol + destination port) and drops it after counting so the host's stack
 * does not spend the core's time on it; everything else, ARP and ND above all,
 * passes so neighbour entries stay alive.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct bench_cnt {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cnt);
} bench_count SEC(".maps");

const volatile __u8 cfg_proto = 17;	/* IPPROTO_UDP */
const volatile __u16 cfg_dport = 0;	/* host order */

SEC("xdp")
int bench_counter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 *l4;
	__u8 proto;
	__u16 dport;
	__u32 zero = 0;
	struct bench_cnt *c;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(0x0800)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5)
			return XDP_PASS;
		proto = ip->protocol;
		l4 = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(0x86DD)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		proto = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
	} else {
		return XDP_PASS;
	}
	if (proto != cfg_proto || (void *)(l4 + 4) > data_end)
		return XDP_PASS;
	__builtin_memcpy(&dport, l4 + 2, 2);
	if (bpf_ntohs(dport) != cfg_dport)
		return XDP_PASS;
	c = bpf_map_lookup_elem(&bench_count, &zero);
	if (c) {
		c->packets++;
		c->bytes += (__u64)(data_end - data);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
