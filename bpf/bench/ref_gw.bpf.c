// SPDX-License-Identifier: GPL-2.0
/*
 * Reference for the gateway benchmark (routed into a bridge): bpf_fib_lookup, and
 * when the next hop sits behind a bridge, one hash lookup of its MAC for the real
 * port, then MAC rewrite, TTL/hop limit and a devmap redirect. No statistics and no
 * fidelity checks: the practical limit, not something to deploy.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct ref_gw_mac {
	__u8 mac[6];
	__u16 pad;	/* always 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ref_gw_mac);
	__type(value, __u32);	/* bridge port ifindex */
} ref_gw_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} ref_gw_tx SEC(".maps");

SEC("xdp")
int ref_gw(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup f = {};
	struct ref_gw_mac k = {};
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6 = NULL;
	__u32 *port, out;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(0x0800)) {
		iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end || iph->ttl <= 1)
			return XDP_PASS;
		f.family = 2;
		f.tos = iph->tos;
		f.l4_protocol = iph->protocol;
		f.tot_len = bpf_ntohs(iph->tot_len);
		f.ipv4_src = iph->saddr;
		f.ipv4_dst = iph->daddr;
	} else if (eth->h_proto == bpf_htons(0x86DD)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->hop_limit <= 1)
			return XDP_PASS;
		f.family = 10;
		f.l4_protocol = ip6->nexthdr;
		f.tot_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(f.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(f.ipv6_dst, &ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}
	f.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &f, sizeof(f), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	out = f.ifindex;
	__builtin_memcpy(k.mac, f.dmac, 6);
	port = bpf_map_lookup_elem(&ref_gw_port, &k);
	if (port)
		out = *port;
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
	return bpf_redirect_map(&ref_gw_tx, out, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
