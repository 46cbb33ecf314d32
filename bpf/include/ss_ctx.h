/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-packet context contract. The parse FPM fills a struct ss_pkt in the
 * per-CPU scratch map; later FPMs read it. A tail-call chain runs to completion
 * on one CPU inside one NAPI poll, so the per-CPU slot cannot be clobbered
 * between FPMs. Offsets are from ctx->data; every FPM re-checks bounds before it
 * dereferences, since the verifier does not carry them across tail calls.
 * See docs/fpm-contract.md.
 */
#ifndef SS_CTX_H
#define SS_CTX_H

#define SS_PKT_IPV4     (1U << 0)
#define SS_PKT_IPV6     (1U << 1)
#define SS_PKT_L4       (1U << 2)	/* sport/dport (or ICMP id/seq) valid */
#define SS_PKT_FRAG     (1U << 3)	/* any fragment, first or later */
#define SS_PKT_IPOPTS   (1U << 4)	/* IPv4 options or IPv6 extension headers present */
#define SS_PKT_L2_BCAST (1U << 5)	/* destination MAC is broadcast or multicast */
#define SS_PKT_VLAN     (1U << 6)	/* 802.1Q/802.1ad tag(s) skipped (only with parse's cfg_vlan) */

struct ss_pkt {
	__u32 ingress_ifindex;
	__u32 pkt_len;		/* data_end - data at parse time */
	__u16 eth_proto;	/* host order */
	__u16 l3_off;		/* 0 when not IP */
	__u16 l4_off;		/* 0 when no transport header */
	__u8  l4_proto;		/* IPPROTO_*, final after IPv6 extension headers */
	__u8  flags;		/* SS_PKT_* */
	__be16 sport;		/* TCP/UDP ports; ICMP echo: sport = id, dport = seq */
	__be16 dport;
	__u16 vlan_tci;		/* outer tag's TCI, host order, when SS_PKT_VLAN */
	__u16 pad;
};

#endif
