// SPDX-License-Identifier: GPL-2.0
/*
 * l3-router: forwards unicast IPv4/IPv6 the way ip_forward/ip6_forward would,
 * using the kernel's own FIB and neighbour tables through bpf_fib_lookup. When
 * the route leaves through an accelerated bridge, the real port comes from the
 * FDB mirror. Anything the kernel would treat specially (options, fragments,
 * TTL expiry, martians, local delivery, redirects, rp_filter rejects, unresolved
 * neighbours, MTU (the device's, or an IPv4 route's), IPsec policies, netfilter rules bound
 * to the egress device, neighbour discovery, ICMP errors) goes to the kernel with its reason.
 */
#define SS_SELF_PARSE
#ifdef SS_FOLD_EPPING
#include "epping_xdp.h"	/* l3_router_ep: the monitor runs on the parsed frame first */
#endif
#include "ss_fpm.h"
#include "ss_parse_frame.h"

const volatile __u8 cfg_ipv4 = 1;
const volatile __u8 cfg_ipv6 = 1;
/* The source check with rp_filter off, as fib_validate_source makes it:
 * 1: is the source one of the box's addresses (ss_local_v4)? That is all the
 *    kernel asks unless the next case applies.
 * 2: custom ip rules or user-added local routes: the kernel does a full reverse
 *    lookup, so this does one too (a second bpf_fib_lookup). */
#define SRC_CHECK_LOCAL 1
#define SRC_CHECK_FIB   2
const volatile __u8 cfg_src_check = SRC_CHECK_FIB;
/* IPsec policies of the family exist: packets within their selectors go to the kernel. */
const volatile __u8 cfg_xfrm_v4 = 0;
const volatile __u8 cfg_xfrm_v6 = 0;
/* Policy rules match ports. The parser reads TCP/UDP ports; for rules the kernel's flow
 * dissector reads ports (or an SPI) of more protocols, which the lookup would not see. */
const volatile __u8 cfg_port_rules = 0;

#define ROUTE_OK 0xffffffffU

static __always_inline __u32 fib_reason(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return ROUTE_OK;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return SS_P_FIB_LOCAL;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return SS_P_FIB_BLACKHOLE;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return SS_P_FIB_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return SS_P_FIB_FWD_DISABLED;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return SS_P_FIB_FRAG_NEEDED;
	default:
		return SS_P_FIB_OTHER;
	}
}

/* Marks the next hop the FIB answered with (ipv4_dst/ipv6_dst now hold the gateway, or
 * the destination itself when it is on-link) as used; see ss_nh_used. */
static __always_inline void note_next_hop(const struct bpf_fib_lookup *f, __u32 nh_if, int v4)
{
	__u32 zero = 0, bit;
	struct ss_nh_marks *m = bpf_map_lookup_elem(&ss_nh_used, &zero);
	__u64 *w, mask;

	if (!m)
		return;
	if (v4)
		bit = ss_nh_bit(f->ipv4_dst, 0, 0, 0, nh_if);
	else
		bit = ss_nh_bit(f->ipv6_dst[0], f->ipv6_dst[1], f->ipv6_dst[2], f->ipv6_dst[3], nh_if);
	w = &m->word[(bit >> 6) & (SS_NH_BITS / 64 - 1)];
	mask = 1ULL << (bit & 63);
	/* Read first: the line stays clean while the bit is already set. */
	if (!(*w & mask))
		*w |= mask;
}

/* Could the source be one of the box's addresses? Only then is ss_local_v4 asked. */
static __always_inline int maybe_local_v4(__be32 a)
{
	__u32 bit = ss_local_v4_bit(a);
	__u32 word = bit >> 6;
	__u64 *w = bpf_map_lookup_elem(&ss_local_v4_bf, &word);

	return !w || ((*w >> (bit & 63)) & 1);
}

/* What the reverse lookup needs of the forward request, kept before the helper overwrites
 * parts of it (tos shares a union with rt_metric): 16 bytes instead of a 64-byte copy. */
struct rev_req {
	__be32 src, dst;
	__be16 sport, dport;
	__u8 l4_protocol, tos;
};

/* The full check: a lookup towards the source, from the device the packet came in on. */
static __always_inline __u32 check_source_fib(struct xdp_md *ctx, const struct rev_req *fwd,
					      __u32 lookup_if, __u8 rp)
{
	struct bpf_fib_lookup r = {};
	long rc;

	r.family = SS_AF_INET;
	r.l4_protocol = fwd->l4_protocol;
	r.sport = fwd->dport;
	r.dport = fwd->sport;
	r.tos = fwd->tos;
	r.ipv4_src = fwd->dst;
	r.ipv4_dst = fwd->src;
	r.ifindex = lookup_if;
	rc = bpf_fib_lookup(ctx, &r, sizeof(r), 0);
	/* NOT_FWDED: the source is local or broadcast, or there is no route back at all.
	 * The full check refuses the first two; the helper cannot tell them from the third,
	 * so all three go to the kernel. */
	if (!rp)
		return rc == BPF_FIB_LKUP_RET_NOT_FWDED ? SS_P_MARTIAN : ROUTE_OK;
	/* NO_NEIGH still means a route exists; the neighbour is irrelevant here. */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return SS_P_RP_FILTER;
	if (rp == 1 && r.ifindex != lookup_if)
		return SS_P_RP_FILTER;
	return ROUTE_OK;
}

/* What fib_validate_source decides, as far as a lookup towards the source can tell.
 * Strict: the reverse route must leave through the device the packet came in on.
 * Loose: any usable route back. Off: only a local (or broadcast) source is refused.
 * The lookup's request lives in check_source_fib: declared here, its zeroing would be
 * paid by the common case too, which returns before using it. */
static __always_inline __u32 check_source(struct xdp_md *ctx, const struct rev_req *fwd,
					  __be32 src, __u32 lookup_if, __u8 rp)
{
	if (!rp && cfg_src_check != SRC_CHECK_FIB) {
		if (cfg_src_check == SRC_CHECK_LOCAL && maybe_local_v4(src) &&
		    bpf_map_lookup_elem(&ss_local_v4, &src))
			return SS_P_MARTIAN;
		return ROUTE_OK;
	}
	return check_source_fib(ctx, fwd, lookup_if, rp);
}

/* Might an IPsec policy apply to src -> dst? See ss_xfrm_v4. */
static __always_inline int xfrm_may_apply_v4(__be32 src, __be32 dst)
{
	struct ss_xfrm_key4 k = { .prefixlen = 32 };
	__u8 *v;

	__builtin_memcpy(k.addr, &src, 4);
	v = bpf_map_lookup_elem(&ss_xfrm_v4, &k);
	if (!v || !(*v & SS_XFRM_SRC))
		return 0;
	__builtin_memcpy(k.addr, &dst, 4);
	v = bpf_map_lookup_elem(&ss_xfrm_v4, &k);
	return v && (*v & SS_XFRM_DST);
}

static __always_inline int xfrm_may_apply_v6(const __u32 *src, const __u32 *dst)
{
	struct ss_xfrm_key6 k = { .prefixlen = 128 };
	__u8 *v;

	__builtin_memcpy(k.addr, src, 16);
	v = bpf_map_lookup_elem(&ss_xfrm_v6, &k);
	if (!v || !(*v & SS_XFRM_SRC))
		return 0;
	__builtin_memcpy(k.addr, dst, 16);
	v = bpf_map_lookup_elem(&ss_xfrm_v6, &k);
	return v && (*v & SS_XFRM_DST);
}

/* The bridge-port cache. Per CPU, the port the FDB mirror gave for a (bridge, MAC) next
 * hop: a router's few LAN neighbours then cost an array read and a compare instead of a
 * hash lookup. An entry holds only while ss_mirror_gen is what it was before the lookup
 * that filled it (the controller bumps it after every change to ss_fdb or ss_devs), as in
 * l2-bridge's flow cache. The port's own checks are not cached. */
#define PORT_BITS 10	/* 1024 entries of 24 bytes per CPU */

struct ss_l3_port {
	__u64 mac;		/* the next hop's MAC in its first six bytes, the rest zero */
	__u32 bridge_ifindex;
	__u32 port_ifindex;
	__u64 gen;		/* ss_mirror_gen read before the lookup */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << PORT_BITS);
	__type(key, __u32);
	__type(value, struct ss_l3_port);
} ss_l3_ports SEC(".maps");

/* The bridge port that br_dev_xmit would send a frame for dmac out of, or 0 with *reason
 * set. */
static __always_inline __u32 bridge_port(__u32 bridge, const __u8 *dmac, __u32 *reason)
{
	__u32 zero = 0, slot;
	__u64 mac = 0, gen, *genp;
	struct ss_l3_port *pc;
	struct ss_fdb_val *fdb;
	struct ss_fdb_key key;

	*reason = SS_P_L2_PORT_STATE;	/* for an entry without a port */
	__builtin_memcpy(&mac, dmac, 6);	/* dmac is not 8-byte aligned */
	slot = ss_cache_slot(mac ^ ((__u64)bridge << 48), PORT_BITS);
	pc = bpf_map_lookup_elem(&ss_l3_ports, &slot);
	/* Read before the lookup: a bump landing after it invalidates what this frame caches. */
	genp = bpf_map_lookup_elem(&ss_mirror_gen, &zero);
	gen = genp ? *genp : 0;
	if (pc && pc->gen == gen && pc->mac == mac && pc->bridge_ifindex == bridge)
		return pc->port_ifindex;
	key.bridge_ifindex = bridge;
	__builtin_memcpy(key.mac, dmac, 6);
	key.vlan = 0;
	fdb = bpf_map_lookup_elem(&ss_fdb, &key);
	if (!fdb) {
		*reason = SS_P_BRIDGE_EGRESS_MISS;
		return 0;
	}
	if (fdb->flags & SS_FDB_LOCAL) {
		*reason = SS_P_FIB_LOCAL;
		return 0;
	}
	if (pc) {
		pc->mac = mac;
		pc->bridge_ifindex = bridge;
		pc->port_ifindex = fdb->port_ifindex;
		pc->gen = gen;
	}
	return fdb->port_ifindex;
}

/* Over a multipath route the kernel hashes an ICMP error by the packet it quotes, so that it
 * follows that flow's path (ip_multipath_l3_keys); bpf_fib_lookup hashes the outer header.
 * Errors are rare: all of them go to the kernel rather than only those a multipath route
 * would send elsewhere. */
static __always_inline int icmp4_is_error(__u8 type)
{
	return type == SS_ICMP_DEST_UNREACH || type == SS_ICMP_SOURCE_QUENCH || type == SS_ICMP_REDIRECT ||
	       type == SS_ICMP_TIME_EXCEEDED || type == SS_ICMP_PARAMETERPROB;
}

static __always_inline int ipv4_martian(__be32 a)
{
	__u8 top = bpf_ntohl(a) >> 24;

	/* 0/8, 127/8, 224/4 and 240/4 (which includes 255.255.255.255) */
	return top == 0 || top == 127 || top >= 224;
}

static __always_inline int ipv6_martian(const struct in6_addr *a)
{
	__u32 w0 = bpf_ntohl(a->in6_u.u6_addr32[0]);

	if ((w0 >> 24) == 0xff)			/* multicast */
		return 1;
	if ((w0 & 0xffc00000) == 0xfe800000)	/* link-local */
		return 1;
	if (w0 == 0 && a->in6_u.u6_addr32[1] == 0 && a->in6_u.u6_addr32[2] == 0) {
		__u32 w3 = bpf_ntohl(a->in6_u.u6_addr32[3]);

		return w3 == 0 || w3 == 1;	/* unspecified, loopback */
	}
	return 0;
}

/* Fills the lookup for an IPv4 packet; returns ROUTE_OK or a pass reason. */
static __always_inline __u32 prep_ipv4(void *data, void *data_end, const struct ss_pkt *p,
				       struct bpf_fib_lookup *f, __u32 *ip_len)
{
	struct iphdr *iph = data + (p->l3_off & SS_OFF_MASK);

	if ((void *)(iph + 1) > data_end)
		return SS_P_MALFORMED;
	/* Parse has checked the version, ihl >= 5 and ihl * 4 <= tot_len <= the bytes there
	 * (docs/fpm-contract.md §3), and flagged options and fragments. */
	if (p->flags & SS_PKT_IPOPTS)
		return SS_P_IP_OPTIONS;
	if (p->flags & SS_PKT_FRAG)
		return SS_P_FRAGMENT;
	if (iph->ttl <= 1)
		return SS_P_TTL;
	if (ss_ipv4_hdr_sum(iph) != 0xffff)
		return SS_P_BAD_CSUM;
	*ip_len = bpf_ntohs(iph->tot_len);
	if (ipv4_martian(iph->saddr) || ipv4_martian(iph->daddr))
		return SS_P_MARTIAN;
	if (iph->protocol == IPPROTO_ICMP && *ip_len > sizeof(*iph)) {
		__u8 *icmp = (__u8 *)(iph + 1);

		if ((void *)(icmp + 1) > data_end)
			return SS_P_MALFORMED;
		if (icmp4_is_error(*icmp))
			return SS_P_ICMP_ERROR;
	}

	f->family = SS_AF_INET;
	f->tos = iph->tos;
	f->l4_protocol = iph->protocol;
	f->tot_len = *ip_len;
	f->ipv4_src = iph->saddr;
	f->ipv4_dst = iph->daddr;
	return ROUTE_OK;
}

static __always_inline __u32 prep_ipv6(void *data, void *data_end, const struct ss_pkt *p,
				       struct bpf_fib_lookup *f, __u32 *ip_len)
{
	struct ipv6hdr *ip6 = data + (p->l3_off & SS_OFF_MASK);

	if ((void *)(ip6 + 1) > data_end)
		return SS_P_MALFORMED;
	if (p->flags & (SS_PKT_IPOPTS | SS_PKT_FRAG))
		return SS_P_IP_OPTIONS;
	if (ip6->hop_limit <= 1)
		return SS_P_TTL;
	*ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (*ip_len > (__u32)(data_end - (void *)ip6))
		return SS_P_MALFORMED;
	if (ipv6_martian(&ip6->saddr) || ipv6_martian(&ip6->daddr))
		return SS_P_MARTIAN;
	/* ip6_forward hands neighbour discovery for an address it proxies (proxy_ndp) to the
	 * local stack. Elsewhere a forwarded NDP message is dropped by its receiver (hop limit
	 * no longer 255), so the kernel may as well have all of them. Errors (types below 128)
	 * for the multipath reason given at icmp4_is_error. */
	if (ip6->nexthdr == SS_IPPROTO_ICMPV6 && ip6->payload_len) {
		__u8 *icmp = (__u8 *)(ip6 + 1);

		if ((void *)(icmp + 1) > data_end)
			return SS_P_MALFORMED;
		if (*icmp < 128)
			return SS_P_ICMP_ERROR;
		if (*icmp >= SS_NDISC_ROUTER_SOLICITATION && *icmp <= SS_NDISC_REDIRECT)
			return SS_P_NDP;
	}

	f->family = SS_AF_INET6;
	f->flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0FFFFFFF);
	f->l4_protocol = ip6->nexthdr;
	f->tot_len = *ip_len;
	__builtin_memcpy(f->ipv6_src, &ip6->saddr, 16);
	__builtin_memcpy(f->ipv6_dst, &ip6->daddr, 16);
	return ROUTE_OK;
}

/* Routes one parsed frame. The plain lanes call it with v4 and p's offsets and flags known
 * at compile time, so each lane gets code of its own; the general path passes them as found. */
static __always_inline int l3_forward(struct xdp_md *ctx, const struct ss_pkt *p, const int v4)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup f = {};
	struct rev_req req;
	__be32 src;
	__u32 nh_if;
	__u8 rp;
	__u32 in_if = ctx->ingress_ifindex;
	__u32 lookup_if, out_if, ip_len = 0, rc, nf_out;
	struct ss_dev *in, *out, *port;
	__u32 bridge_if;
	__u64 len;

	if ((void *)(eth + 1) > data_end)
		return ss_pass(ctx, SS_P_MALFORMED);
	if (v4 ? !cfg_ipv4 : (!cfg_ipv6 || !(p->flags & SS_PKT_IPV6)))
		return ss_pass(ctx, SS_P_L3_DISABLED);

	in = ss_dev_get(in_if);
	if (!in || !(in->flags & SS_DEV_L3))
		return ss_pass(ctx, SS_P_L3_DISABLED);
	if (!ss_mac_eq(eth->h_dest, in->mac))
		return ss_pass(ctx, SS_P_L3_NOT_FOR_US);
	/* The kernel routes a bridge port's frames from the bridge device. */
	lookup_if = in->bridge_ifindex ? in->bridge_ifindex : in_if;

	if (v4 && cfg_ipv4)
		rc = prep_ipv4(data, data_end, p, &f, &ip_len);
	else if (!v4 && cfg_ipv6)
		rc = prep_ipv6(data, data_end, p, &f, &ip_len);
	else
		rc = SS_P_L3_DISABLED;
	if (rc != ROUTE_OK)
		return ss_pass(ctx, rc);
	/* Ports only feed multipath hashing and ip rules with port matches. */
	if ((p->flags & SS_PKT_L4) && (f.l4_protocol == IPPROTO_TCP || f.l4_protocol == IPPROTO_UDP)) {
		f.sport = p->sport;
		f.dport = p->dport;
	} else if (cfg_port_rules && f.l4_protocol != IPPROTO_ICMP && f.l4_protocol != SS_IPPROTO_ICMPV6) {
		return ss_pass(ctx, SS_P_PORT_RULES);
	}
	if (v4 ? cfg_xfrm_v4 && xfrm_may_apply_v4(f.ipv4_src, f.ipv4_dst)
	       : cfg_xfrm_v6 && xfrm_may_apply_v6(f.ipv6_src, f.ipv6_dst))
		return ss_pass(ctx, SS_P_XFRM);
	f.ifindex = lookup_if;
	/* The reverse lookup needs the request as it was (see struct rev_req); the address
	 * check only the source. */
	rp = in->rp_filter;
	src = f.ipv4_src;
	if (rp || cfg_src_check == SRC_CHECK_FIB) {
		req.src = f.ipv4_src;
		req.dst = f.ipv4_dst;
		req.sport = f.sport;
		req.dport = f.dport;
		req.l4_protocol = f.l4_protocol;
		req.tos = f.tos;
	}

	/* tot_len makes the helper check the route MTU; flags 0 applies policy routing. */
	rc = fib_reason(bpf_fib_lookup(ctx, &f, sizeof(f), 0));
	if (rc != ROUTE_OK)
		return ss_pass(ctx, rc);
	out_if = nh_if = f.ifindex;
	/* Same device in and out: ip_forward may send an ICMP redirect. */
	if (out_if == lookup_if)
		return ss_pass(ctx, SS_P_L3_HAIRPIN);
	if (v4 && cfg_ipv4) {
		rc = check_source(ctx, &req, src, lookup_if, rp);
		if (rc != ROUTE_OK)
			return ss_pass(ctx, rc);
	}

	out = ss_dev_get(out_if);
	if (!out || !(out->flags & SS_DEV_UP))
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);
	if (out->flags & SS_DEV_QDISC)
		return ss_pass(ctx, SS_P_EGRESS_QDISC);
	nf_out = v4 ? SS_DEV_NF_OUT4 : SS_DEV_NF_OUT6;
	if (out->flags & nf_out)
		return ss_pass(ctx, SS_P_NF_EGRESS);
	if (v4 && out->route_mtu4 && ip_len > out->route_mtu4)
		return ss_pass(ctx, SS_P_MTU);
	if (out->flags & SS_DEV_BRIDGE) {
		/* XDP cannot transmit on a bridge: find the port br_dev_xmit would use. */
		bridge_if = out_if;
		out_if = bridge_port(bridge_if, f.dmac, &rc);
		if (!out_if)
			return ss_pass(ctx, rc);
		port = ss_dev_get(out_if);
		if (!port || port->bridge_ifindex != bridge_if ||
		    (port->flags & (SS_DEV_PORT_FWD | SS_DEV_UP)) != (SS_DEV_PORT_FWD | SS_DEV_UP))
			return ss_pass(ctx, SS_P_L2_PORT_STATE);
		out = port;
		if (out->flags & SS_DEV_QDISC)
			return ss_pass(ctx, SS_P_EGRESS_QDISC);
		if (out->flags & nf_out)
			return ss_pass(ctx, SS_P_NF_EGRESS);
	}
	if (!(out->flags & SS_DEV_TX))
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);
	if (ip_len > out->mtu)
		return ss_pass(ctx, SS_P_MTU);

	/* Choose the target before touching the frame, so a failed redirect passes it intact. */
	if (bpf_redirect_map(&ss_tx_ports, out_if, 0) != XDP_REDIRECT)
		return ss_pass(ctx, SS_P_EGRESS_NOT_TX);

	/* Drop Ethernet padding and trailing bytes, as the kernel trims to the IP length. */
	len = data_end - data;
	if (len > (__u64)(p->l3_off & SS_OFF_MASK) + ip_len) {
		int excess = len - (p->l3_off & SS_OFF_MASK) - ip_len;

		if (bpf_xdp_adjust_tail(ctx, -excess))
			return ss_pass(ctx, SS_P_OTHER);
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		eth = data;
	}
	len = data_end - data;
	if (v4 && cfg_ipv4) {
		struct iphdr *iph = data + (p->l3_off & SS_OFF_MASK);

		if ((void *)(iph + 1) > data_end)
			return ss_pass(ctx, SS_P_MALFORMED);
		ss_ipv4_dec_ttl(iph);
	} else {
		struct ipv6hdr *ip6 = data + (p->l3_off & SS_OFF_MASK);

		if ((void *)(ip6 + 1) > data_end)
			return ss_pass(ctx, SS_P_MALFORMED);
		ip6->hop_limit--;
	}
	if ((void *)(eth + 1) > data_end)
		return ss_pass(ctx, SS_P_MALFORMED);
	__builtin_memcpy(eth->h_dest, f.dmac, 6);
	__builtin_memcpy(eth->h_source, f.smac, 6);
	note_next_hop(&f, nh_if, v4 && cfg_ipv4);
	ss_count(SS_C_FAST_L3, len);
	return XDP_REDIRECT;
}

static __always_inline int l3_route(struct xdp_md *ctx)
{
	struct ss_pkt *p;
	__u32 rc;
#ifdef SS_FOLD_EPPING
	p = ss_pkt_get();	/* ep_fold parsed it */
	rc = SS_P_OTHER;
#else
	/* l3-router hands no frame on, so the plain lanes keep the context on the stack. */
	struct ss_pkt plain;

	if (cfg_ipv4 && ss_parse_plain_ipv4(ctx, &plain))
		return l3_forward(ctx, &plain, 1);
	if (cfg_ipv6 && ss_parse_plain_ipv6(ctx, &plain))
		return l3_forward(ctx, &plain, 0);
	p = ss_pkt_begin(ctx, &rc);
#endif
	if (!p)
		return ss_pass(ctx, rc);
	if (p->flags & SS_PKT_VLAN)
		return ss_pass(ctx, SS_P_VLAN);
	if (!p->l3_off)
		return ss_pass(ctx, SS_P_UNPARSED_PROTO);
	return l3_forward(ctx, p, p->flags & SS_PKT_IPV4);
}

SEC("xdp")
int ss_fpm_l3_router(struct xdp_md *ctx)
{
#ifdef SS_FOLD_EPPING
	return EP_FOLD_THEN(ctx, l3_route);
#else
	return l3_route(ctx);
#endif
}

char LICENSE[] SEC("license") = "GPL";
