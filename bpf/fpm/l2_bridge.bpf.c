// SPDX-License-Identifier: GPL-2.0
/*
 * l2-bridge: forwards a frame between two forwarding ports of one accelerated
 * Linux bridge when the FDB mirror knows both ends, exactly as br_forward would.
 * Whatever would make the bridge do more than forward (learning, flooding, local
 * delivery, hairpin, isolation, a qdisc) goes to the kernel with its reason.
 */
#include "ss_fpm.h"
#include "ss_parse.h"

/* 1 when l3-router follows: frames to the bridge's own MAC continue down the chain. */
const volatile __u8 cfg_local_next = 0;

/* The controller refreshes kernel FDB entries from last_seen_ns; writing it on
 * every frame would bounce the entry's cache line between CPUs. The coarse clock
 * is CLOCK_MONOTONIC_COARSE: cheaper, and at most one tick behind CLOCK_MONOTONIC,
 * which is nothing against FDB ageing times of seconds. */
#define SRC_REFRESH_NS (250ULL * 1000 * 1000)

static __always_inline void fdb_key(struct ss_fdb_key *k, __u32 bridge, const __u8 *mac)
{
	k->bridge_ifindex = bridge;
	__builtin_memcpy(k->mac, mac, 6);
	k->vlan = 0;
}

SEC("xdp")
int ss_fpm_l2_bridge(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ss_pkt *p = ss_pkt_get();
	__u32 in_if = ctx->ingress_ifindex;
	struct ss_dev *in, *out;
	struct ss_fdb_val *src, *dst;
	struct ss_fdb_key key;
	__u64 len = data_end - data;
	__u64 now;
	__u32 bridge, out_if;
	long ret;

	if (!p)
		return ss_pass(ctx, SS_P_OTHER);
	if ((void *)(eth + 1) > data_end)
		return ss_pass(ctx, SS_P_MALFORMED);
	if (p->flags & SS_PKT_VLAN)
		return ss_pass(ctx, SS_P_VLAN);

	in = ss_dev_get(in_if);
	if (!in || !in->bridge_ifindex)
		return ss_pass(ctx, SS_P_NOT_A_PORT);
	if ((in->flags & (SS_DEV_PORT_FWD | SS_DEV_UP)) != (SS_DEV_PORT_FWD | SS_DEV_UP))
		return ss_pass(ctx, SS_P_L2_PORT_STATE);
	bridge = in->bridge_ifindex;

	if (ss_mac_is_group(eth->h_dest))
		return ss_pass(ctx, SS_P_L2_MULTICAST);

	/* The bridge learns from every frame it receives, even ones it delivers
	 * locally, so an unknown or moved source always goes to the kernel first. */
	fdb_key(&key, bridge, eth->h_source);
	src = bpf_map_lookup_elem(&ss_fdb, &key);
	if (!src)
		return ss_pass(ctx, SS_P_L2_UNKNOWN_SRC);
	if (src->port_ifindex != in_if || (src->flags & SS_FDB_LOCAL))
		return ss_pass(ctx, SS_P_L2_SRC_MOVED);

	fdb_key(&key, bridge, eth->h_dest);
	dst = bpf_map_lookup_elem(&ss_fdb, &key);
	if (!dst)
		return ss_pass(ctx, SS_P_L2_UNKNOWN_DST);
	if (dst->flags & SS_FDB_LOCAL) {
		if (!cfg_local_next)
			return ss_pass(ctx, SS_P_L2_LOCAL);
		if (!(src->flags & SS_FDB_STATIC)) {
			now = bpf_ktime_get_coarse_ns();
			if (now - src->last_seen_ns > SRC_REFRESH_NS)
				src->last_seen_ns = now;
		}
		return ss_next(ctx);
	}
	out_if = dst->port_ifindex;
	if (out_if == in_if)
		return ss_pass(ctx, SS_P_L2_SAME_PORT);

	out = ss_dev_get(out_if);
	if (!out || out->bridge_ifindex != bridge ||
	    (out->flags & (SS_DEV_PORT_FWD | SS_DEV_UP)) != (SS_DEV_PORT_FWD | SS_DEV_UP))
		return ss_pass(ctx, SS_P_L2_PORT_STATE);
	if ((in->flags & SS_DEV_ISOLATED) && (out->flags & SS_DEV_ISOLATED))
		return ss_pass(ctx, SS_P_L2_ISOLATED);
	if (out->flags & SS_DEV_QDISC)
		return ss_pass(ctx, SS_P_EGRESS_QDISC);
	if (!(out->flags & SS_DEV_TX))
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);
	if (len - SS_ETH_HLEN > out->mtu)
		return ss_pass(ctx, SS_P_MTU);

	ret = bpf_redirect_map(&ss_tx_ports, out_if, 0);
	if (ret != XDP_REDIRECT)
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);
	if (!(src->flags & SS_FDB_STATIC)) {
		now = bpf_ktime_get_coarse_ns();
		if (now - src->last_seen_ns > SRC_REFRESH_NS)
			src->last_seen_ns = now;
	}
	ss_count(SS_C_FAST_L2, len);
	return XDP_REDIRECT;
}

char LICENSE[] SEC("license") = "GPL";
