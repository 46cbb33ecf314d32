// SPDX-License-Identifier: GPL-2.0
/*
 * Test object: runs the plain lanes (ss_parse_plain_ipv4/ipv6) and the general parser
 * (ss_parse_frame) on the same frame. Where a lane takes the frame, both must have parsed
 * it the same; the two results land in lanes_seen for the test to show.
 * Verdicts: XDP_TX no lane took it, XDP_PASS a lane took it and agrees, XDP_DROP a lane
 * took it and the contexts differ, XDP_ABORTED a lane took a frame the parser refuses.
 */
#define SS_SELF_PARSE
#include "ss_fpm.h"
#include "ss_parse_frame.h"

struct lanes_seen {
	struct ss_pkt general;
	struct ss_pkt plain;
	__u32 rc;
	__u32 lane;	/* 0 none, 4 IPv4, 6 IPv6 */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lanes_seen);
} lanes_seen SEC(".maps");

SEC("xdp")
int parse_lanes(struct xdp_md *ctx)
{
	struct ss_parse_cfg cfg = {
		.ipv4 = parse_cfg_ipv4, .ipv6 = parse_cfg_ipv6, .l4 = parse_cfg_l4, .vlan = parse_cfg_vlan,
	};
	__u32 zero = 0;
	struct lanes_seen *s = bpf_map_lookup_elem(&lanes_seen, &zero);
	const __u64 *a, *b;

	if (!s)
		return XDP_ABORTED;
	__builtin_memset(&s->plain, 0, sizeof(s->plain));
	s->lane = 0;
	if (ss_parse_plain_ipv4(ctx, &s->plain))
		s->lane = 4;
	else if (ss_parse_plain_ipv6(ctx, &s->plain))
		s->lane = 6;
	s->rc = ss_parse_frame(ctx, &s->general, &cfg);
	if (!s->lane)
		return XDP_TX;
	if (s->rc != SS_PARSE_OK)
		return XDP_ABORTED;
	a = (const __u64 *)&s->general;
	b = (const __u64 *)&s->plain;
	for (int i = 0; i < (int)(sizeof(struct ss_pkt) / 8); i++)
		if (a[i] != b[i])
			return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
