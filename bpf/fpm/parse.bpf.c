// SPDX-License-Identifier: GPL-2.0
/*
 * parse: the first FPM of every chain. Walks Ethernet, IPv4/IPv6 (with a bounded
 * walk over IPv6 extension headers) and the first bytes of TCP/UDP/ICMP, and
 * leaves a struct ss_pkt in ss_scratch for the FPMs after it. It never forwards:
 * frames it cannot describe safely go to the kernel, everything else to ss_next.
 */
#include "ss_fpm.h"
#include "ss_parse.h"

/* Set by the assembler from what the chain needs; unset protocols are never parsed. */
const volatile __u8 cfg_ipv4 = 1;
const volatile __u8 cfg_ipv6 = 1;
const volatile __u8 cfg_l4 = 0;
const volatile __u8 cfg_vlan = 0;	/* no 802.1Q on this kernel: tagged frames go to the kernel */

#define PARSE_OK 0xffffffffU

/* Ports for TCP/UDP, id/seq for ICMP echo. A short L4 header is not an error here:
 * the kernel forwards it untouched, so the frame just carries no SS_PKT_L4. */
static __always_inline void parse_l4(void *data, void *data_end, struct ss_pkt *p, int v6)
{
	__u32 off = p->l4_off & SS_OFF_MASK;
	__u8 *l4 = data + off;

	if (p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP) {
		if ((void *)(l4 + 4) > data_end)
			return;
		__builtin_memcpy(&p->sport, l4, 2);
		__builtin_memcpy(&p->dport, l4 + 2, 2);
		p->flags |= SS_PKT_L4;
		return;
	}
	if (p->l4_proto != (v6 ? SS_IPPROTO_ICMPV6 : IPPROTO_ICMP))
		return;
	if ((void *)(l4 + 8) > data_end)
		return;
	if (v6 ? (l4[0] != SS_ICMPV6_ECHO_REQ && l4[0] != SS_ICMPV6_ECHO_REPLY)
	       : (l4[0] != SS_ICMP_ECHO && l4[0] != SS_ICMP_ECHOREPLY))
		return;
	__builtin_memcpy(&p->sport, l4 + 4, 2);
	__builtin_memcpy(&p->dport, l4 + 6, 2);
	p->flags |= SS_PKT_L4;
}

/* The checks ip_rcv_core makes before anything else; failing ones are dropped by the kernel. */
static __always_inline __u32 parse_ipv4(void *data, void *data_end, struct ss_pkt *p)
{
	__u32 l3 = p->l3_off & SS_OFF_MASK;
	struct iphdr *iph = data + l3;
	__u32 hlen, tot, avail;
	__u16 frag;

	if ((void *)(iph + 1) > data_end)
		return SS_P_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return SS_P_MALFORMED;
	hlen = iph->ihl * 4;
	avail = data_end - (void *)iph;
	tot = bpf_ntohs(iph->tot_len);
	if (hlen > avail || tot < hlen || tot > avail)
		return SS_P_MALFORMED;

	p->flags |= SS_PKT_IPV4;
	if (hlen > sizeof(*iph))
		p->flags |= SS_PKT_IPOPTS;
	p->l4_proto = iph->protocol;
	frag = bpf_ntohs(iph->frag_off);
	if (frag & (SS_IP_MF | SS_IP_OFFMASK))
		p->flags |= SS_PKT_FRAG;
	if (frag & SS_IP_OFFMASK)
		return PARSE_OK;	/* later fragment: no transport header */
	p->l4_off = l3 + hlen;
	if (cfg_l4)
		parse_l4(data, data_end, p, 0);
	return PARSE_OK;
}

static __always_inline __u32 parse_ipv6(void *data, void *data_end, struct ss_pkt *p)
{
	__u32 l3 = p->l3_off & SS_OFF_MASK;
	struct ipv6hdr *ip6 = data + l3;
	__u32 off, avail;
	__u8 nh;

	if ((void *)(ip6 + 1) > data_end)
		return SS_P_MALFORMED;
	if (ip6->version != 6)
		return SS_P_MALFORMED;
	avail = data_end - (void *)ip6;
	if (sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > avail)
		return SS_P_MALFORMED;

	p->flags |= SS_PKT_IPV6;
	nh = ip6->nexthdr;
	off = l3 + sizeof(*ip6);

#pragma unroll
	for (int i = 0; i < SS_IPV6_MAX_EXT; i++) {
		__u8 *eh;

		if (nh != SS_NEXTHDR_HOP && nh != SS_NEXTHDR_ROUTING &&
		    nh != SS_NEXTHDR_DEST && nh != SS_NEXTHDR_FRAGMENT)
			break;
		p->flags |= SS_PKT_IPOPTS;
		off &= SS_OFF_MASK;
		eh = data + off;
		if ((void *)(eh + 8) > data_end)	/* every extension header is >= 8 bytes */
			return SS_P_MALFORMED;
		if (nh == SS_NEXTHDR_FRAGMENT) {
			__u16 fo;

			__builtin_memcpy(&fo, eh + 2, 2);
			fo = bpf_ntohs(fo);
			p->flags |= SS_PKT_FRAG;
			nh = eh[0];
			off += 8;
			if (fo & 0xfff8) {	/* later fragment: no transport header */
				p->l4_proto = nh;
				return PARSE_OK;
			}
		} else {
			nh = eh[0];
			off += (eh[1] + 1) * 8;
		}
	}
	p->l4_proto = nh;
	if (nh == SS_NEXTHDR_HOP || nh == SS_NEXTHDR_ROUTING ||
	    nh == SS_NEXTHDR_DEST || nh == SS_NEXTHDR_FRAGMENT)
		return PARSE_OK;	/* more than we walk: the chain passes it as IP_OPTIONS */
	off &= SS_OFF_MASK;
	if (data + off > data_end)
		return SS_P_MALFORMED;
	p->l4_off = off;
	if (cfg_l4)
		parse_l4(data, data_end, p, 1);
	return PARSE_OK;
}

SEC("xdp")
int ss_fpm_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ss_pkt *p = ss_pkt_get();
	__u32 l3 = SS_ETH_HLEN;
	__u32 rc = PARSE_OK;
	__u16 proto;

	if (!p)
		return ss_pass(ctx, SS_P_OTHER);
	__builtin_memset(p, 0, sizeof(*p));
	p->ingress_ifindex = ctx->ingress_ifindex;
	p->pkt_len = data_end - data;
	if ((void *)(eth + 1) > data_end)
		return ss_pass(ctx, SS_P_MALFORMED);
	if (ss_mac_is_group(eth->h_dest))
		p->flags |= SS_PKT_L2_BCAST;
	proto = bpf_ntohs(eth->h_proto);

	if (proto == SS_ETH_P_8021Q || proto == SS_ETH_P_8021AD) {
		if (!cfg_vlan)
			return ss_pass(ctx, SS_P_VLAN);
		/* Up to two tags (QinQ); the outer TCI is kept for FPMs that learn VLANs. */
#pragma unroll
		for (int i = 0; i < 2; i++) {
			struct vlan_hdr *vh = data + l3;

			if (proto != SS_ETH_P_8021Q && proto != SS_ETH_P_8021AD)
				break;
			if ((void *)(vh + 1) > data_end)
				return ss_pass(ctx, SS_P_MALFORMED);
			if (i == 0)
				p->vlan_tci = bpf_ntohs(vh->h_vlan_TCI);
			proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
			l3 += sizeof(*vh);
		}
		if (proto == SS_ETH_P_8021Q || proto == SS_ETH_P_8021AD)
			return ss_pass(ctx, SS_P_VLAN);
		p->flags |= SS_PKT_VLAN;
	}
	p->eth_proto = proto;

	if (proto == SS_ETH_P_IP && cfg_ipv4) {
		p->l3_off = l3;
		rc = parse_ipv4(data, data_end, p);
	} else if (proto == SS_ETH_P_IPV6 && cfg_ipv6) {
		p->l3_off = l3;
		rc = parse_ipv6(data, data_end, p);
	}
	if (rc != PARSE_OK)
		return ss_pass(ctx, rc);
	return ss_next(ctx);
}

char LICENSE[] SEC("license") = "GPL";
