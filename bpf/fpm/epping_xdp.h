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

/* What a program that runs the monitor first does: parse (when folded in), then monitor.
 * SS_PARSE_OK, or the reason the frame goes to the kernel. */
static __always_inline __u32 ep_fold(struct xdp_md *ctx)
{
	struct ss_pkt *p;
	__u32 rc;

	p = ss_pkt_begin(ctx, &rc);
	if (!p)
		return rc;
	ep_xdp(ctx, p);
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
