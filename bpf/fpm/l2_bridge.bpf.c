// SPDX-License-Identifier: GPL-2.0
/*
 * l2-bridge: forwards a frame between two forwarding ports of one accelerated
 * Linux bridge when the FDB mirror knows both ends, exactly as br_forward would.
 * Whatever would make the bridge do more than forward (learning, flooding, local
 * delivery, hairpin, isolation, a qdisc) goes to the kernel with its reason.
 * It reads only the Ethernet header, so a pure switch port needs no parser.
 */
#ifdef SS_FOLD_EPPING
#include "epping_xdp.h"	/* l2_bridge_ep: parse and the monitor run first */
#endif
#include "ss_fpm.h"
#include "ss_parse.h"

/* 1 when l3-router follows: frames to the bridge's own MAC continue down the chain. */
const volatile __u8 cfg_local_next = 0;
/* Set when br_netfilter hands this bridge's IPv4 (IPv6) to iptables (bridge-nf-call-*):
 * the bridge then checks and trims IP headers the way ip_rcv would (br_validate_ipv4/6)
 * and drops what fails, so such frames must reach the kernel too. */
const volatile __u8 cfg_brnf_ipv4 = 0;
const volatile __u8 cfg_brnf_ipv6 = 0;
/* bridge-nf-call-arptables: bridged ARP passes arptables' FORWARD chain (br_nf_forward_arp). */
const volatile __u8 cfg_brnf_arp = 0;
/* A port has neigh_suppress, proxyarp or proxyarp_wifi: the bridge may answer ARP (any)
 * and neighbour discovery (IPv6 whose next header is ICMPv6) itself and not forward them. */
const volatile __u8 cfg_neigh_suppress = 0;

#define SS_ETH_P_ARP 0x0806
#define SS_IPPROTO_ICMPV6_NH 58

#define CHECK_OK 0xffffffffU

/* br_validate_ipv4: header sane, checksum right, frame trimmed to tot_len. Options
 * are compiled and may be refused there: those frames go to the kernel. */
static __always_inline __u32 brnf_ipv4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + SS_ETH_HLEN;
	__u32 tot, avail;

	if ((void *)(iph + 1) > data_end)
		return SS_P_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return SS_P_MALFORMED;
	if (iph->ihl != 5)
		return SS_P_IP_OPTIONS;
	if (ss_ipv4_hdr_sum(iph) != 0xffff)
		return SS_P_BAD_CSUM;
	tot = bpf_ntohs(iph->tot_len);
	avail = data_end - (void *)iph;
	if (tot < sizeof(*iph) || tot > avail)
		return SS_P_MALFORMED;
	if (tot < avail && bpf_xdp_adjust_tail(ctx, -(int)(avail - tot)))
		return SS_P_OTHER;
	return CHECK_OK;
}

/* br_validate_ipv6: version, payload length within the frame, trimmed to it; a
 * hop-by-hop header is checked there (jumbograms): those frames go to the kernel. */
static __always_inline __u32 brnf_ipv6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + SS_ETH_HLEN;
	__u32 tot, avail;

	if ((void *)(ip6 + 1) > data_end)
		return SS_P_MALFORMED;
	if (ip6->version != 6)
		return SS_P_MALFORMED;
	if (ip6->nexthdr == SS_NEXTHDR_HOP)
		return SS_P_IP_OPTIONS;
	tot = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	avail = data_end - (void *)ip6;
	if (tot > avail)
		return SS_P_MALFORMED;
	if (tot < avail && bpf_xdp_adjust_tail(ctx, -(int)(avail - tot)))
		return SS_P_OTHER;
	return CHECK_OK;
}

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

/* The flow cache. Per CPU, the port-level verdict for recently bridged frames, keyed
 * by (ingress, destination MAC, source MAC): the two FDB lookups and both devices'
 * checks, which cost several times what the rest of the FPM does, become one array
 * read and a compare. An entry holds only while ss_mirror_gen is what it was before
 * the lookups that filled it (the controller bumps it after every change to ss_fdb
 * or ss_devs), and for FLOW_TTL_JIFFIES, after which the source is looked up again
 * and its last_seen_ns refreshed. What depends on the frame itself (EtherType, MTU,
 * br_netfilter's header checks) is checked on every frame. */
#define FLOW_BITS 13	/* 8192 entries of 40 bytes per CPU */
#define FLOW_TTL_JIFFIES 25	/* 100 ms at HZ=250; 25 ms to 250 ms for HZ 1000 to 100 */

struct ss_l2_flow {
	__u8  macs[12];		/* destination, then source: the Ethernet header's first 12 bytes */
	__u32 in_if;
	__u64 gen;		/* ss_mirror_gen read before the lookups */
	__u64 stamp;		/* jiffies then */
	__u32 out_if;
	__u32 out_mtu;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << FLOW_BITS);
	__type(key, __u32);
	__type(value, struct ss_l2_flow);
} ss_l2_flows SEC(".maps");

static __always_inline __u32 flow_slot(const __u8 *hdr, __u32 in_if)
{
	return ss_cache_slot(ss_load64(hdr) ^ ((__u64)ss_load32(hdr + 8) << 24) ^ ((__u64)in_if << 40), FLOW_BITS);
}

static __always_inline int flow_match(const struct ss_l2_flow *fl, const __u8 *hdr, __u32 in_if,
				      __u64 gen, __u64 now)
{
	return fl->gen == gen && fl->in_if == in_if &&
	       ss_load64(fl->macs) == ss_load64(hdr) &&
	       ss_load32(fl->macs + 8) == ss_load32(hdr + 8) && now - fl->stamp < FLOW_TTL_JIFFIES;
}

/* The bridge learns from every frame it receives, even ones it delivers locally, so
 * an unknown or moved source always goes to the kernel first. Returns CHECK_OK when
 * the mirror has the source on in_if (and refreshes its last_seen_ns now and then),
 * else the pass reason. */
static __always_inline __u32 check_source(const __u8 *mac, __u32 in_if, __u32 bridge)
{
	struct ss_fdb_val *src;
	struct ss_fdb_key key;
	__u64 now;

	fdb_key(&key, bridge, mac);
	src = bpf_map_lookup_elem(&ss_fdb, &key);
	if (!src)
		return SS_P_L2_UNKNOWN_SRC;
	if (src->port_ifindex != in_if || (src->flags & SS_FDB_LOCAL))
		return SS_P_L2_SRC_MOVED;
	if (src->flags & SS_FDB_STATIC)
		return CHECK_OK;
	now = bpf_ktime_get_coarse_ns();
	if (now - src->last_seen_ns > SRC_REFRESH_NS)
		src->last_seen_ns = now;
	return CHECK_OK;
}

static __always_inline int l2_forward(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 in_if = ctx->ingress_ifindex;
	__u32 zero = 0, slot, bridge, out_if, out_mtu, rc;
	struct ss_l2_flow *fl;
	struct ss_dev *in, *out;
	struct ss_fdb_val *dst;
	struct ss_fdb_key key;
	__u64 len = data_end - data;
	__u64 *genp, gen, now;
	long ret;

	if ((void *)(eth + 1) > data_end)
		return ss_pass(ctx, SS_P_MALFORMED);
	/* Tagged frames belong to VLAN filtering, which is not accelerated. */
	if (eth->h_proto == bpf_htons(SS_ETH_P_8021Q) || eth->h_proto == bpf_htons(SS_ETH_P_8021AD))
		return ss_pass(ctx, SS_P_VLAN);
	if (cfg_brnf_arp && eth->h_proto == bpf_htons(SS_ETH_P_ARP))
		return ss_pass(ctx, SS_P_BRNF_ARP);
	if (cfg_neigh_suppress) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if (eth->h_proto == bpf_htons(SS_ETH_P_ARP))
			return ss_pass(ctx, SS_P_L2_NEIGH_SUPPRESS);
		if (eth->h_proto == bpf_htons(SS_ETH_P_IPV6) &&
		    ((void *)(ip6 + 1) > data_end || ip6->nexthdr == SS_IPPROTO_ICMPV6_NH))
			return ss_pass(ctx, SS_P_L2_NEIGH_SUPPRESS);
	}

	/* Read before any lookup: a bump landing after it invalidates what this frame caches. */
	genp = bpf_map_lookup_elem(&ss_mirror_gen, &zero);
	gen = genp ? *genp : 0;
	now = bpf_jiffies64();
	slot = flow_slot(data, in_if);
	fl = bpf_map_lookup_elem(&ss_l2_flows, &slot);
	if (fl && flow_match(fl, data, in_if, gen, now)) {
		out_if = fl->out_if;
		out_mtu = fl->out_mtu;
		goto forward;
	}

	in = ss_dev_get(in_if);
	if (!in || !in->bridge_ifindex)
		return ss_pass(ctx, SS_P_NOT_A_PORT);
	if ((in->flags & (SS_DEV_PORT_FWD | SS_DEV_UP)) != (SS_DEV_PORT_FWD | SS_DEV_UP))
		return ss_pass(ctx, SS_P_L2_PORT_STATE);
	bridge = in->bridge_ifindex;

	if (ss_mac_is_group(eth->h_dest))
		return ss_pass(ctx, SS_P_L2_MULTICAST);

	rc = check_source(eth->h_source, in_if, bridge);
	if (rc != CHECK_OK)
		return ss_pass(ctx, rc);

	fdb_key(&key, bridge, eth->h_dest);
	dst = bpf_map_lookup_elem(&ss_fdb, &key);
	if (!dst)
		return ss_pass(ctx, SS_P_L2_UNKNOWN_DST);
	if (dst->flags & SS_FDB_LOCAL) {
		if (!cfg_local_next)
			return ss_pass(ctx, SS_P_L2_LOCAL);
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
	out_mtu = out->mtu;
	if (fl) {
		*(__u64 *)fl->macs = ss_load64(data);
		*(__u32 *)(fl->macs + 8) = ss_load32(data + 8);
		fl->in_if = in_if;
		fl->gen = gen;
		fl->stamp = now;
		fl->out_if = out_if;
		fl->out_mtu = out_mtu;
	}

forward:
	if (len - SS_ETH_HLEN > out_mtu)
		return ss_pass(ctx, SS_P_MTU);
	if (cfg_brnf_ipv4 && eth->h_proto == bpf_htons(SS_ETH_P_IP)) {
		rc = brnf_ipv4(ctx);
		if (rc != CHECK_OK)
			return ss_pass(ctx, rc);
	} else if (cfg_brnf_ipv6 && eth->h_proto == bpf_htons(SS_ETH_P_IPV6)) {
		rc = brnf_ipv6(ctx);
		if (rc != CHECK_OK)
			return ss_pass(ctx, rc);
	}
	len = (__u64)(ctx->data_end - ctx->data);

	ret = bpf_redirect_map(&ss_tx_ports, out_if, 0);
	if (ret != XDP_REDIRECT)
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);
	ss_count(SS_C_FAST_L2, len);
	return XDP_REDIRECT;
}

SEC("xdp")
int ss_fpm_l2_bridge(struct xdp_md *ctx)
{
#ifdef SS_FOLD_EPPING
	return EP_FOLD_THEN(ctx, l2_forward);
#else
	return l2_forward(ctx);
#endif
}

char LICENSE[] SEC("license") = "GPL";
