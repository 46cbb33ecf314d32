// SPDX-License-Identifier: GPL-2.0
/*
 * epping: the latency-monitor FPM. Sits right after parse in every monitored
 * device's chain, so it sees every packet whatever later FPMs decide, measures
 * passive RTTs from TCP timestamps and ICMP echo (see epping_core.h), and always
 * continues with ss_next: it never changes a verdict.
 */
#define SS_SELF_PARSE
#include "ss_fpm.h"
#include "ss_parse_frame.h"
#include "epping_core.h"

SEC("xdp")
int ss_fpm_epping(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ep_loc loc;
	struct ss_pkt *p;
	__u32 rc;

	p = ss_pkt_begin(ctx, &rc);
	if (!p)
		return ss_pass(ctx, rc);
	if (!p->l4_off || (p->flags & SS_PKT_FRAG))
		return ss_next(ctx);
	if (!(p->flags & (SS_PKT_IPV4 | SS_PKT_IPV6)))
		return ss_next(ctx);
	loc.l3_off = p->l3_off;
	loc.l4_off = p->l4_off;
	loc.ifindex = ctx->ingress_ifindex;
	loc.ipv = (p->flags & SS_PKT_IPV4) ? 4 : 6;
	loc.proto = p->l4_proto;
	loc.egress = 0;
	ep_process(data, data_end, &loc);
	return ss_next(ctx);
}

char LICENSE[] SEC("license") = "GPL";
