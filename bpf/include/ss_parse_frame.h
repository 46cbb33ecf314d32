/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frame parser behind struct ss_pkt (ss_ctx.h): Ethernet with up to two VLAN tags,
 * IPv4/IPv6 with a bounded walk over IPv6 extension headers, and the first bytes of
 * TCP/UDP/ICMP. The parse FPM runs it; an FPM whose manifest says inline_parse runs it
 * itself when the deployer folds parse into it (SS_SELF_PARSE below), which saves the
 * chain a tail call. Either way the result lands in ss_scratch for the FPMs after it.
 */
#ifndef SS_PARSE_FRAME_H
#define SS_PARSE_FRAME_H

#include "ss_fpm.h"
#include "ss_parse.h"

#define SS_PARSE_OK 0xffffffffU

struct ss_parse_cfg {
	__u8 ipv4;	/* parse IPv4; off, such frames continue with l3_off 0 */
	__u8 ipv6;
	__u8 l4;	/* ports, ICMP echo id/seq */
	__u8 vlan;	/* skip up to two tags; off, tagged frames are refused (SS_P_VLAN) */
};

/* Ports for TCP/UDP, id/seq for ICMP echo. A short L4 header is not an error here:
 * the kernel forwards it untouched, so the frame just carries no SS_PKT_L4. */
static __always_inline void ss_parse_l4(void *data, void *data_end, struct ss_pkt *p, int v6)
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
static __always_inline __u32 ss_parse_ipv4(void *data, void *data_end, struct ss_pkt *p, int l4)
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
		return SS_PARSE_OK;	/* later fragment: no transport header */
	p->l4_off = l3 + hlen;
	if (l4)
		ss_parse_l4(data, data_end, p, 0);
	return SS_PARSE_OK;
}

static __always_inline __u32 ss_parse_ipv6(void *data, void *data_end, struct ss_pkt *p, int l4)
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
				return SS_PARSE_OK;
			}
		} else {
			nh = eh[0];
			off += (eh[1] + 1) * 8;
		}
	}
	p->l4_proto = nh;
	if (nh == SS_NEXTHDR_HOP || nh == SS_NEXTHDR_ROUTING ||
	    nh == SS_NEXTHDR_DEST || nh == SS_NEXTHDR_FRAGMENT)
		return SS_PARSE_OK;	/* more than we walk: the chain passes it as IP_OPTIONS */
	off &= SS_OFF_MASK;
	if (data + off > data_end)
		return SS_P_MALFORMED;
	p->l4_off = off;
	if (l4)
		ss_parse_l4(data, data_end, p, 1);
	return SS_PARSE_OK;
}

/* Fills *p from the frame. Returns SS_PARSE_OK, or the reason the frame must go to the
 * kernel (malformed, or tagged while cfg->vlan is off). */
static __always_inline __u32 ss_parse_frame(struct xdp_md *ctx, struct ss_pkt *p,
					    const struct ss_parse_cfg *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 l3 = SS_ETH_HLEN;
	__u32 rc = SS_PARSE_OK;
	__u16 proto;

	__builtin_memset(p, 0, sizeof(*p));
	p->ingress_ifindex = ctx->ingress_ifindex;
	p->pkt_len = data_end - data;
	if ((void *)(eth + 1) > data_end)
		return SS_P_MALFORMED;
	if (ss_mac_is_group(eth->h_dest))
		p->flags |= SS_PKT_L2_BCAST;
	proto = bpf_ntohs(eth->h_proto);

	if (proto == SS_ETH_P_8021Q || proto == SS_ETH_P_8021AD) {
		if (!cfg->vlan)
			return SS_P_VLAN;
		/* Up to two tags (QinQ); the outer TCI is kept for FPMs that learn VLANs. */
#pragma unroll
		for (int i = 0; i < 2; i++) {
			struct vlan_hdr *vh = data + l3;

			if (proto != SS_ETH_P_8021Q && proto != SS_ETH_P_8021AD)
				break;
			if ((void *)(vh + 1) > data_end)
				return SS_P_MALFORMED;
			if (i == 0)
				p->vlan_tci = bpf_ntohs(vh->h_vlan_TCI);
			proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
			l3 += sizeof(*vh);
		}
		if (proto == SS_ETH_P_8021Q || proto == SS_ETH_P_8021AD)
			return SS_P_VLAN;
		p->flags |= SS_PKT_VLAN;
	}
	p->eth_proto = proto;

	if (proto == SS_ETH_P_IP && cfg->ipv4) {
		p->l3_off = l3;
		rc = ss_parse_ipv4(data, data_end, p, cfg->l4);
	} else if (proto == SS_ETH_P_IPV6 && cfg->ipv6) {
		p->l3_off = l3;
		rc = ss_parse_ipv6(data, data_end, p, cfg->l4);
	}
	return rc;
}

#ifdef SS_SELF_PARSE
/* Set by the deployer when parse is folded into this FPM: it then parses first, with
 * the parse stage's knob values (parse_<knob>). */
const volatile __u8 ss_self_parse = 0;
const volatile __u8 parse_cfg_ipv4 = 1;
const volatile __u8 parse_cfg_ipv6 = 1;
const volatile __u8 parse_cfg_l4 = 0;
const volatile __u8 parse_cfg_vlan = 0;

/* The per-packet context for this FPM: parsed here when parse was folded in, else what
 * the parse stage left. NULL (with *reason set) when the frame must go to the kernel. */
static __always_inline struct ss_pkt *ss_pkt_begin(struct xdp_md *ctx, __u32 *reason)
{
	struct ss_pkt *p = ss_pkt_get();
	struct ss_parse_cfg cfg = {
		.ipv4 = parse_cfg_ipv4, .ipv6 = parse_cfg_ipv6, .l4 = parse_cfg_l4, .vlan = parse_cfg_vlan,
	};
	__u32 rc;

	*reason = SS_P_OTHER;
	if (!p)
		return NULL;
	if (!ss_self_parse)
		return p;
	rc = ss_parse_frame(ctx, p, &cfg);
	if (rc != SS_PARSE_OK) {
		*reason = rc;
		return NULL;
	}
	return p;
}
/* The frame most routed ports see gets a lane of its own: untagged unicast IPv4 without
 * options or fragmentation, or IPv6 without extension headers, that passes the checks
 * ss_parse_ipv4/ss_parse_ipv6 make. *p is filled exactly as ss_parse_frame would fill it
 * (test/unit/bpf-parse-lanes checks that), but with constant offsets and flags: an FPM
 * that inlines its work after this is compiled for them, which the general parser's
 * variable offsets (tags) do not allow. *p may be on the caller's stack when the FPM hands
 * the frame on to nobody. 0: anything else, for ss_pkt_begin. */
static __always_inline int ss_plain_fill(struct xdp_md *ctx, struct ss_pkt *p, __u16 eth_proto,
					 __u8 flag, __u16 l3_len, __u8 l4_proto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	__builtin_memset(p, 0, sizeof(*p));
	p->ingress_ifindex = ctx->ingress_ifindex;
	p->pkt_len = data_end - data;
	p->eth_proto = eth_proto;
	p->l3_off = SS_ETH_HLEN;
	p->l4_off = SS_ETH_HLEN + l3_len;
	p->l4_proto = l4_proto;
	p->flags = flag;
	if (parse_cfg_l4)
		ss_parse_l4(data, data_end, p, flag == SS_PKT_IPV6);
	return 1;
}

static __always_inline int ss_parse_plain_ipv4(struct xdp_md *ctx, struct ss_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 tot;

	if (!ss_self_parse || !parse_cfg_ipv4 || (void *)(iph + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(SS_ETH_P_IP) || ss_mac_is_group(eth->h_dest))
		return 0;
	/* version 4 and ihl 5 in one byte; neither more fragments nor an offset */
	if (*(__u8 *)iph != 0x45 || (iph->frag_off & bpf_htons(SS_IP_MF | SS_IP_OFFMASK)))
		return 0;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < sizeof(*iph) || tot > (__u32)(data_end - (void *)iph))
		return 0;
	return ss_plain_fill(ctx, p, SS_ETH_P_IP, SS_PKT_IPV4, sizeof(*iph), iph->protocol);
}

static __always_inline int ss_parse_plain_ipv6(struct xdp_md *ctx, struct ss_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u8 nh;

	if (!ss_self_parse || !parse_cfg_ipv6 || (void *)(ip6 + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(SS_ETH_P_IPV6) || ss_mac_is_group(eth->h_dest))
		return 0;
	if (ip6->version != 6 ||
	    sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > (__u32)(data_end - (void *)ip6))
		return 0;
	nh = ip6->nexthdr;
	if (nh == SS_NEXTHDR_HOP || nh == SS_NEXTHDR_ROUTING || nh == SS_NEXTHDR_DEST ||
	    nh == SS_NEXTHDR_FRAGMENT)
		return 0;
	return ss_plain_fill(ctx, p, SS_ETH_P_IPV6, SS_PKT_IPV6, sizeof(*ip6), nh);
}
#endif /* SS_SELF_PARSE */

#endif
