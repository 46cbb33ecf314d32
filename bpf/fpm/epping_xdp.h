/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The latency monitor at XDP ingress, on a frame parse has described: the body of the
 * epping FPM, and the first part of the FPMs whose manifest folds the monitor in
 * (`folds: [parse, latency-monitor]`), so a monitored chain pays no tail call for it.
 */
#ifndef SS_EPPING_XDP_H
#define SS_EPPING_XDP_H

#define SS_SELF_PARSE
#include "ss_fpm.h"
#include "ss_parse_frame.h"
#include "epping_core.h"

/* Never changes a verdict: the frame continues whatever the monitor did with it. The
 * context is read back from memory, not taken from the registers parse left it in: each
 * parse path (VLAN tags, IPv6 extension headers) would otherwise reach the monitor with
 * its own known offsets, and the verifier would walk the monitor once per path. */
static __always_inline void ep_xdp(struct xdp_md *ctx, const struct ss_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 l3_off = *(volatile const __u16 *)&p->l3_off;
	__u16 l4_off = *(volatile const __u16 *)&p->l4_off;
	__u32 flags = *(volatile const __typeof__(p->flags) *)&p->flags;
	struct ep_loc loc;

	if (!l4_off || (flags & SS_PKT_FRAG))
		return;
	if (!(flags & (SS_PKT_IPV4 | SS_PKT_IPV6)))
		return;
	loc.l3_off = l3_off;
	loc.l4_off = l4_off;
	loc.ifindex = ctx->ingress_ifindex;
	loc.ipv = (flags & SS_PKT_IPV4) ? 4 : 6;
	loc.proto = *(volatile const __u8 *)&p->l4_proto;
	loc.egress = 0;
	ep_process(data, data_end, &loc);
}

/* The quiet lane: on a frame a plain parse lane took (IP header at SS_ETH_HLEN, `v6` a
 * constant), 1 when it is a TCP segment that gets the quiet check (ep_quiet_candidate),
 * with `q` set from the headers' words, hashed without building a tuple. With the lane's
 * constant offsets this and ep_is_quiet are the whole monitor for most frames of a
 * rate-limited flow. test/unit/epping-lane checks it agrees with the monitor's own path,
 * frame by frame. */
static __always_inline int ep_plain_quiet_find(struct xdp_md *ctx, const __u32 v6, struct ep_quiet *q)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *ip = data + SS_ETH_HLEN;
	__u8 *th = ip + (v6 ? 40 : 20);
	__u64 w[5], s;

	if (!cfg_tcp || !ep_quiet_on())
		return 0;
	if ((void *)(th + 20) > data_end || ip[v6 ? 6 : 9] != IPPROTO_TCP)
		return 0;
	if ((th[12] >> 4) < 5 || !ep_quiet_applies(th[13]))
		return 0;
	s = ep_seed();
	if (!ep_addr_words(ip, data_end, v6 ? 6 : 4, w))
		return 0;
	/* sport, dport, proto, ipv: the tuple's word 4 as ep_read_ip and ep_read_tcp_head fill it */
	w[4] = ss_load16(th) | ((__u64)ss_load16(th + 2) << 16) | ((__u64)IPPROTO_TCP << 32) |
	       ((__u64)(v6 ? 6 : 4) << 40);
	ep_quiet_of(ep_hash_words(s, w), q);
	return 1;
}

static __always_inline int ep_plain_quiet(struct xdp_md *ctx, const __u32 v6)
{
	struct ep_quiet q;

	return ep_plain_quiet_find(ctx, v6, &q) && ep_is_quiet(&q);
}

/* What a program that runs the monitor first does: parse (when folded in), then monitor.
 * SS_PARSE_OK, or the reason the frame goes to the kernel. The plain lanes fill the
 * context exactly as the general parser would (test/unit/bpf-parse-lanes), and their
 * frames get the quiet lane first. */
static __always_inline __u32 ep_fold(struct xdp_md *ctx)
{
	struct ss_pkt *p;
	__u32 rc;

	p = ss_pkt_get();
	if (p && ss_parse_plain_ipv4(ctx, p)) {
		if (ep_plain_quiet(ctx, 0))
			goto quiet;
	} else if (p && ss_parse_plain_ipv6(ctx, p)) {
		if (ep_plain_quiet(ctx, 1))
			goto quiet;
	} else {
		p = ss_pkt_begin(ctx, &rc);
		if (!p)
			return rc;
	}
	ep_xdp(ctx, p);
	goto out;
quiet:
	ep_count(SS_EP_C_QUIET);
out:
	/* The host reads the frame afresh: no pointer the monitor bounded stays live. */
	asm volatile("" ::: "memory");
	return SS_PARSE_OK;
}

/* A fold variant's program body: parse and monitor, then `host(ctx)`; a frame parse
 * refuses goes to the kernel with parse's reason, as it would from the parse stage. */
#define EP_FOLD_THEN(ctx, host) ({					\
	__u32 __rc = ep_fold(ctx);					\
	__rc == SS_PARSE_OK ? host(ctx) : ss_pass(ctx, __rc);		\
})

#endif
