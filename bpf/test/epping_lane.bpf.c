// SPDX-License-Identifier: GPL-2.0
/*
 * Test object: the quiet lane (ep_plain_quiet_find, fpm/epping_xdp.h) against the monitor's
 * own path to the quiet check (ep_xdp's conditions, then ep_frame's reads and
 * ep_quiet_candidate) on the same frame. Each records whether it checks the frame and the
 * set and tag it would look up, in lane_seen.
 * Verdicts: XDP_TX no plain lane takes the frame (ep_fold leaves it to the monitor's path),
 * XDP_PASS both check it with the same set and tag, or neither checks it, XDP_DROP both
 * check but differ, XDP_ABORTED only one of them checks it.
 */
#include "../fpm/epping_xdp.h"

struct lane_seen {
	struct ep_quiet lane;
	struct ep_quiet mon;
	__u32 lane_checks;
	__u32 mon_checks;
	__u32 plain;		/* the plain lane that took the frame: 0, 4 or 6 */
	__u32 rc;		/* the general parser's */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lane_seen);
} lane_seen SEC(".maps");

/* The monitor's path: what ep_fold's general branch, ep_xdp and ep_frame do up to the check. */
static __always_inline int monitor_checks(struct xdp_md *ctx, struct lane_seen *s)
{
	struct ss_parse_cfg cfg = {
		.ipv4 = parse_cfg_ipv4, .ipv6 = parse_cfg_ipv6, .l4 = parse_cfg_l4, .vlan = parse_cfg_vlan,
	};
	void *data, *data_end;
	struct ss_pkt pk;
	struct ep_loc loc;
	struct ep_pkt p;

	__builtin_memset(&pk, 0, sizeof(pk));
	s->rc = ss_parse_frame(ctx, &pk, &cfg);
	if (s->rc != SS_PARSE_OK || !pk.l4_off || (pk.flags & SS_PKT_FRAG) ||
	    !(pk.flags & (SS_PKT_IPV4 | SS_PKT_IPV6)))
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	loc.l3_off = pk.l3_off;
	loc.l4_off = pk.l4_off;
	loc.ifindex = ctx->ingress_ifindex;
	loc.ipv = (pk.flags & SS_PKT_IPV4) ? 4 : 6;
	loc.proto = pk.l4_proto;
	loc.egress = 0;
	__builtin_memset(&p, 0, sizeof(p));
	if (loc.proto != IPPROTO_TCP || !cfg_tcp)
		return 0;
	if (!ep_read_ip(data, data_end, &loc, &p.t, &p.m) || !ep_read_tcp_head(data, data_end, &loc, &p.t, &p.m))
		return 0;
	if (!ep_quiet_candidate(&loc, &p))
		return 0;
	s->mon = p.q;
	return 1;
}

SEC("xdp")
int epping_lane(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct lane_seen *s = bpf_map_lookup_elem(&lane_seen, &zero);
	struct ss_pkt plain;

	if (!s)
		return XDP_ABORTED;
	__builtin_memset(s, 0, sizeof(*s));
	if (ss_parse_plain_ipv4(ctx, &plain)) {
		s->plain = 4;
		s->lane_checks = ep_plain_quiet_find(ctx, 0, &s->lane);
	} else if (ss_parse_plain_ipv6(ctx, &plain)) {
		s->plain = 6;
		s->lane_checks = ep_plain_quiet_find(ctx, 1, &s->lane);
	}
	s->mon_checks = monitor_checks(ctx, s);
	if (!s->plain)
		return XDP_TX;
	if (s->lane_checks != s->mon_checks)
		return XDP_ABORTED;
	if (!s->lane_checks)
		return XDP_PASS;
	return s->lane.idx == s->mon.idx && s->lane.tag == s->mon.tag ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
