/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The passive-ping core shared by the XDP FPM (fpm/epping.bpf.c) and the tc egress
 * program (epping_tc.bpf.c). Design after the published pping/ePPing: a packet that
 * carries a message identifier (TCP TSval, ICMP echo sequence) is timestamped, a
 * packet that echoes one (TSecr, echo reply sequence) is matched against it, and the
 * difference is one RTT sample of the path from the capture point to the replying end.
 * It never changes a verdict: callers always continue as they would without it.
 */
#ifndef SS_EPPING_CORE_H
#define SS_EPPING_CORE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ss_epping.h"
#include "ss_parse.h"

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef E2BIG
#define E2BIG 7
#endif

#define EP_ETH_P_IP     0x0800
#define EP_ETH_P_IPV6   0x86DD
#define EP_IPPROTO_ICMPV6 58
#define EP_OFF_MASK     0x3fff

#define EP_TCP_FIN 0x01
#define EP_TCP_SYN 0x02
#define EP_TCP_RST 0x04
#define EP_TCP_ACK 0x10

/* Knobs (rodata), set by the deployer from the `epping:` config section. */
const volatile __u8  cfg_tcp = 1;
const volatile __u8  cfg_icmp = 1;
const volatile __u8  cfg_include_syn = 0;
const volatile __u8  cfg_local_filter = 1;
const volatile __u8  cfg_egress_tc = 0;
const volatile __u32 cfg_rate_limit_ms = 100;
const volatile __u32 cfg_rtt_rate_milli = 0;	/* rtt_rate × 1000; 0 = off */
const volatile __u8  cfg_rtt_basis = 0;		/* 0 min RTT, 1 smoothed RTT */
const volatile __u8  cfg_ipv4_prefix = 24;
const volatile __u8  cfg_ipv6_prefix = 48;
const volatile __u8  cfg_aggregate = 1;
const volatile __u8  cfg_samples = 1;
const volatile __u8  cfg_flow_events = 1;
const volatile __u32 cfg_ts_full_backoff_ms = 10;
const volatile __u32 cfg_flow_sets = SS_EP_FLOWS_SLOTS / SS_EP_FLOW_WAYS;
/* The kernel's tick (1 s / CONFIG_HZ). The default, HZ=100, is the longest tick on the
 * architectures slipstream runs on: too long a guess only ends quiet times early. */
const volatile __u32 cfg_tick_ns = 10000000;

/* What the caller found out about the packet's headers. */
struct ep_loc {
	__u32 l3_off;
	__u32 l4_off;
	__u32 ifindex;		/* ingress device; 0 on tc egress */
	__u8  ipv;		/* 4 or 6 */
	__u8  proto;		/* final transport protocol */
	__u8  egress;		/* 1 on tc egress: timestamp box-sent packets, match nothing */
};

/* What the packet means to the monitor. */
struct ep_msg {
	__u32 id;		/* identifier to timestamp (TSval / echo seq) */
	__u32 reply_id;		/* identifier to match (TSecr / echo-reply seq) */
	__u32 ip_len;
	__u8  can_ts;
	__u8  can_match;
	__u8  tcp_flags;
	__u8  relevant;		/* worth flow state at all */
	__u8  tcp_doff;		/* TCP header length */
	__u8  tcp_payload;	/* the segment carries data */
};

static __always_inline void ep_count(__u32 id)
{
	__u64 *c = bpf_map_lookup_elem(&ss_ep_stats, &id);

	if (c)
		*c += 1;	/* per-CPU: no atomics */
}

/* floor(log2(v)) for v > 0, without branches: each step's bit is arithmetic, so the
 * verifier walks this once with a range rather than once per outcome (the bucket indexes
 * a map value, which makes every outcome a state of its own). */
#define EP_LOG2_STEP(v, r, n) do {					\
	__u64 __s = (((v) >> (n)) + ((1ULL << (n)) - 1)) >> (n);	\
	(v) >>= __s * (n);						\
	(r) += __s * (n);						\
} while (0)

static __always_inline __u32 ep_log2(__u64 v)
{
	__u64 r = 0;

	EP_LOG2_STEP(v, r, 32);
	EP_LOG2_STEP(v, r, 16);
	EP_LOG2_STEP(v, r, 8);
	EP_LOG2_STEP(v, r, 4);
	EP_LOG2_STEP(v, r, 2);
	EP_LOG2_STEP(v, r, 1);
	return r;
}

static __always_inline __u32 ep_bucket(__u64 ns)
{
	__u32 e, idx;

	if (ns < (1ULL << SS_EP_HIST_MIN_EXP))
		return 0;
	e = ep_log2(ns);
	idx = 1 + (e - SS_EP_HIST_MIN_EXP) * 4 + ((ns >> (e - 2)) & 3);
	if (idx >= SS_EP_HIST_BUCKETS)
		idx = SS_EP_HIST_BUCKETS - 1;
	return idx;
}

/* Keep the first `bits` bits of a 128-bit address. */
static __always_inline void ep_mask128(__u8 *out, const __u8 *in, __u32 bits)
{
	__u32 w[4];

	__builtin_memcpy(w, in, 16);
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 lo = i * 32;

		if (bits >= lo + 32)
			continue;
		if (bits <= lo)
			w[i] = 0;
		else
			w[i] &= bpf_htonl(0xffffffffU << (32 - (bits - lo)));
	}
	__builtin_memcpy(out, w, 16);
}

static __always_inline int ep_is_local(const __u8 *addr)
{
	struct ss_ep_local_key k;

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&ss_ep_local, &k) != NULL;
}

/* a < b as 0 or 1, from the subtraction's borrow: no branch, so the verifier carries
 * one state with the range [0, 1] instead of one per outcome. */
static __always_inline __u64 ep_ltu(__u64 a, __u64 b)
{
	return ((~a & b) | ((~a | b) & (a - b))) >> 63;
}

static __always_inline __u64 ep_equ(__u64 a, __u64 b)
{
	__u64 x = a ^ b;

	return ((x | -x) >> 63) ^ 1;
}

/* A total order over tuples' endpoints: 1 when the source is the lower one, the
 * canonical source. Branch-free (see ep_ltu). */
static __always_inline __u32 ep_src_is_lower(const struct ss_ep_tuple *t)
{
	__u64 s[2], d[2], lower;

	__builtin_memcpy(s, t->saddr, 16);
	__builtin_memcpy(d, t->daddr, 16);
	lower = ep_ltu(s[0], d[0]) |
		(ep_equ(s[0], d[0]) & (ep_ltu(s[1], d[1]) |
				       (ep_equ(s[1], d[1]) & (ep_ltu((__u64)t->dport, (__u64)t->sport) ^ 1))));
	return (__u32)lower;
}

static __always_inline __u64 ep_seed(void)
{
	__u32 zero = 0;
	__u64 *seed = bpf_map_lookup_elem(&ss_ep_seed, &zero);

	return seed ? *seed : 0;
}

/* A multilinear hash, sum of a_i × word_i, whose top bits depend on every bit of every
 * word; five independent multiplies, where a chained mix would make the table read wait
 * for five in a row. a_i are the secret seed with a constant per word mixed in, odd.
 * `w` is a tuple's five little-endian words; a word known to be 0 (an IPv4 tuple's
 * words 0 and 2) costs nothing once inlined. Callers read the seed (ep_seed) before the
 * words: read after them, clang kept the words across the lookup call, and the verifier
 * walked a third more of the monitor. */
static __always_inline __u64 ep_hash_words(__u64 s, const __u64 *w)
{
	return w[0] * ((s ^ 0x9e3779b97f4a7c15ULL) | 1) + w[1] * ((s ^ 0xc2b2ae3d27d4eb4fULL) | 1) +
	       w[2] * ((s ^ 0x165667b19e3779f9ULL) | 1) + w[3] * ((s ^ 0xd6e8feb86659fd93ULL) | 1) +
	       w[4] * ((s ^ 0xff51afd7ed558ccdULL) | 1);
}

static __always_inline __u64 ep_hash(const struct ss_ep_tuple *t)
{
	__u64 s = ep_seed();
	__u64 w[5];

	__builtin_memcpy(w, t, sizeof(w));
	return ep_hash_words(s, w);
}

/* The set of a canonical tuple: the hash's top 32 bits, scaled to [0, sets). */
static __always_inline __u32 ep_flow_set(const struct ss_ep_tuple *t)
{
	return (__u32)(((ep_hash(t) >> 32) * cfg_flow_sets) >> 32);
}

static __always_inline int ep_tuple_eq(const struct ss_ep_tuple *a, const struct ss_ep_tuple *b)
{
	__u64 x[5], y[5];

	__builtin_memcpy(x, a, sizeof(x));
	__builtin_memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

/* The slot that holds `key` in the set starting at `base`, or NULL. */
static __always_inline struct ss_ep_flow *ep_flow_find(__u32 base, const struct ss_ep_tuple *key)
{
#pragma unroll
	for (__u32 i = 0; i < SS_EP_FLOW_WAYS; i++) {
		__u32 idx = base + i;
		struct ss_ep_flow *f = bpf_map_lookup_elem(&ss_ep_flows, &idx);

		if (!f)
			return NULL;
		if (ep_tuple_eq(&f->tuple, key))
			return f;
	}
	return NULL;
}

/* Whether another slot of the set holds `key`, or is being filled (addresses not written
 * yet) by a claim with the same last word: then that one is, or may become, the flow's. */
static __always_inline int ep_flow_elsewhere(__u32 base, __u32 mine, const struct ss_ep_tuple *key)
{
	const __u64 *k = (const __u64 *)key;

#pragma unroll
	for (__u32 i = 0; i < SS_EP_FLOW_WAYS; i++) {
		__u32 idx = base + i;
		struct ss_ep_flow *f;
		const __u64 *w;

		if (idx == mine)
			continue;
		f = bpf_map_lookup_elem(&ss_ep_flows, &idx);
		if (!f)
			return 0;
		w = (const __u64 *)&f->tuple;
		if (w[4] != k[4])
			continue;
		if ((w[0] | w[1] | w[2] | w[3]) == 0 || ep_tuple_eq(&f->tuple, key))
			return 1;
	}
	return 0;
}

/* ep_flow_claim's answers other than a slot index. */
#define EP_CLAIM_FULL	-1	/* every slot of the set is taken */
#define EP_CLAIM_LOST	-2	/* another CPU is creating the same flow */

/* A free slot of the set made `key`'s, opened now for `reason` with `flags`, its other
 * fields zeroed and the addresses written last (a reader matches the whole tuple, so it
 * never sees a half-made entry as the flow). Its index, or EP_CLAIM_FULL, or EP_CLAIM_LOST
 * when another CPU is creating the same flow: of two racing claims, one that sees the
 * other gives way, so a flow never holds two slots.
 * A global function, so the verifier checks it once: inlined, its 8 × 8 slot comparisons
 * were walked again for every state the monitor reached it in. */
__noinline int ep_flow_claim(__u32 base, const struct ss_ep_tuple *key, __u64 now, __u32 reason, __u32 flags)
{
	const __u64 *k = (const __u64 *)key;

	if (!key)
		return EP_CLAIM_FULL;
#pragma unroll
	for (__u32 i = 0; i < SS_EP_FLOW_WAYS; i++) {
		__u32 idx = base + i;
		struct ss_ep_flow *f = bpf_map_lookup_elem(&ss_ep_flows, &idx);
		__u64 *w;

		if (!f)
			break;
		w = (__u64 *)&f->tuple;
		if (w[4] != 0 || __sync_val_compare_and_swap(&w[4], 0, k[4]) != 0)
			continue;
		if (ep_flow_elsewhere(base, idx, key)) {
			w[4] = 0;
			return EP_CLAIM_LOST;
		}
		__builtin_memset(f->dir, 0, sizeof(f->dir));
		f->opened_ns = now;
		f->open_reason = reason;
		f->flags = flags;
		w[0] = k[0];
		w[1] = k[1];
		w[2] = k[2];
		w[3] = k[3];
		return idx;
	}
	return EP_CLAIM_FULL;
}

/* Frees a closed flow's slot, unless another CPU closing it too already did and the slot
 * went to a new flow. Addresses first: a free slot never shows an old flow's. */
static __always_inline void ep_flow_release(struct ss_ep_flow *f, const struct ss_ep_tuple *key)
{
	__u64 *w = (__u64 *)&f->tuple;

	if (!ep_tuple_eq(&f->tuple, key))
		return;
	w[0] = 0;
	w[1] = 0;
	w[2] = 0;
	w[3] = 0;
	w[4] = 0;
}

static __always_inline void ep_reverse(struct ss_ep_tuple *out, const struct ss_ep_tuple *in)
{
	__builtin_memcpy(out->saddr, in->daddr, 16);
	__builtin_memcpy(out->daddr, in->saddr, 16);
	out->sport = in->dport;
	out->dport = in->sport;
	out->proto = in->proto;
	out->ipv = in->ipv;
	out->pad = 0;
}

/* ss_ep_quiet (ss_epping.h), which only a rate limit makes worth having. */
#define EP_QUIET_MAX_NS	1000000000ULL	/* a direction that stays quiet still refreshes its flow entry every second */
#define EP_QUIET_MAX_J	1024		/* further ahead is a stale way read across a jiffies wrap */

/* Kept as scalars, not the set's pointer: a pointer that may be NULL would split the
 * verifier's states in two for the rest of the program. */
struct ep_quiet {
	__u32 idx;			/* the set */
	__u32 tag;			/* never 0; 0 when the frame looked up no set */
};

/* One packet as the flow tracker (ep_flow_track) takes it: what the headers said, read back
 * from memory there rather than carried in registers from each parsing branch. Measured,
 * that halves the instructions the verifier walks through the tracker (docs/epping.md). */
struct ep_pkt {
	struct ss_ep_tuple t;		/* as it came */
	struct ss_ep_tuple key;		/* canonical, the lower end as source: the tracker's */
	struct ep_msg m;
	struct ep_quiet q;
	__u32 ifindex;
	__u32 egress;
};

static __always_inline struct ss_ep_quiet_set *ep_quiet_set(const struct ep_quiet *q)
{
	__u32 idx = q->idx;

	return q->tag ? bpf_map_lookup_elem(&ss_ep_quiet, &idx) : NULL;
}

static __always_inline int ep_quiet_on(void)
{
	return cfg_rate_limit_ms || cfg_rtt_rate_milli;
}

/* The set of one direction's tuple and its tag, from bits of the hash the set index does
 * not use, so two directions in one set share a tag once in 2^32. */
static __always_inline void ep_quiet_of(__u64 h, struct ep_quiet *q)
{
	q->idx = (__u32)(((h >> 32) * (cfg_flow_sets * (SS_EP_FLOW_WAYS / SS_EP_QUIET_WAYS))) >> 32);
	q->tag = (__u32)((h * 0x9e3779b97f4a7c15ULL) >> 32) | 1;
}

static __always_inline void ep_quiet_find(const struct ss_ep_tuple *t, struct ep_quiet *q)
{
	ep_quiet_of(ep_hash(t), q);
}

/* Whether a TCP segment with these flags is only counted when its direction is quiet:
 * opening and closing segments always go to the flow tracker. */
static __always_inline int ep_quiet_applies(__u8 tcp_flags)
{
	return ep_quiet_on() && !(tcp_flags & (EP_TCP_SYN | EP_TCP_FIN | EP_TCP_RST));
}

static __always_inline int ep_quiet_live(__u64 v, __u32 j)
{
	return (__u32)v - j - 1 < EP_QUIET_MAX_J;
}

static __always_inline int ep_is_quiet(const struct ep_quiet *q)
{
	struct ss_ep_quiet_set *set = ep_quiet_set(q);
	__u32 j = bpf_jiffies64();

	if (!set)
		return 0;
#pragma unroll
	for (int i = 0; i < SS_EP_QUIET_WAYS; i++) {
		__u64 v = set->way[i];

		if ((__u32)(v >> 32) == q->tag)
			return ep_quiet_live(v, j);
	}
	return 0;
}

/* Quiet for `left_ns` more of the coarse clock, whose `now` was read at this jiffy or
 * later: the time ends at the first tick that could be out of it. The exchange orders the
 * way's store before the re-read of the reverse direction's outstanding count, against
 * ep_timestamp's increment-then-wake on another CPU: one of the two sees the other. */
static __always_inline void ep_quiet_enter(const struct ep_quiet *q, __u64 left_ns, const struct ss_ep_dir *rd)
{
	struct ss_ep_quiet_set *set;
	__u32 j = bpf_jiffies64(), n, pick = SS_EP_QUIET_WAYS;
	__u64 v;

	if (!cfg_tick_ns)
		return;
	set = ep_quiet_set(q);
	if (!set)
		return;
	if (left_ns > EP_QUIET_MAX_NS)
		left_ns = EP_QUIET_MAX_NS;
	n = (left_ns + cfg_tick_ns - 1) / cfg_tick_ns;
	if (!n)
		return;
#pragma unroll
	for (int i = 0; i < SS_EP_QUIET_WAYS; i++) {
		v = set->way[i];
		if ((__u32)(v >> 32) == q->tag) {
			pick = i;
			break;
		}
		if (pick == SS_EP_QUIET_WAYS && !ep_quiet_live(v, j))
			pick = i;
	}
	if (pick >= SS_EP_QUIET_WAYS)
		pick = q->tag >> 30;	/* all ways live: evict one */
	v = ((__u64)q->tag << 32) | (__u32)(j + n);
	__sync_lock_test_and_set(&set->way[pick & (SS_EP_QUIET_WAYS - 1)], v);
	if (*(volatile const __u32 *)&rd->outstanding)
		set->way[pick & (SS_EP_QUIET_WAYS - 1)] = 0;
}

/* The direction of `t`, or with `reverse` the opposite one, is no longer quiet (its reverse
 * stored a timestamp, or the flow closed). Like ep_flow_claim and the two ring-buffer and
 * histogram writers below, a global function for a rare path, checked once by the verifier. */
__noinline int ep_quiet_wake(const struct ss_ep_tuple *t, __u32 reverse)
{
	struct ss_ep_quiet_set *set;
	struct ss_ep_tuple r;
	struct ep_quiet q;

	if (!t)
		return 0;
	if (reverse) {
		ep_reverse(&r, t);
		ep_quiet_find(&r, &q);
	} else {
		ep_quiet_find(t, &q);
	}
	set = ep_quiet_set(&q);
	if (!set)
		return 0;
#pragma unroll
	for (int i = 0; i < SS_EP_QUIET_WAYS; i++) {
		if ((__u32)(set->way[i] >> 32) == q.tag)
			set->way[i] = 0;
	}
	return 0;
}

/* Closes a flow: its slot freed, neither direction left quiet for a new connection on the
 * same tuple to inherit. */
static __always_inline void ep_flow_close(struct ss_ep_flow *f, const struct ss_ep_tuple *key)
{
	ep_flow_release(f, key);
	if (ep_quiet_on()) {
		ep_quiet_wake(key, 0);
		ep_quiet_wake(key, 1);
	}
}

/* A v4-mapped address (::ffff:a.b.c.d) as the tuple's two little-endian words. */
#define EP_V4_MAPPED_HI(a) (0xffff0000ULL | ((__u64)(a) << 32))

/* The tuple's address words 0-3 (saddr, daddr) from the IP header; 0 when the header is
 * not there. Shared with the quiet lane (epping_xdp.h), which hashes them without a tuple. */
static __always_inline int ep_addr_words(const __u8 *ip, void *data_end, __u8 ipv, __u64 *w)
{
	if (ipv == 4) {
		if ((void *)(ip + 20) > data_end)
			return 0;
		w[0] = 0;
		w[1] = EP_V4_MAPPED_HI(ss_load32(ip + 12));
		w[2] = 0;
		w[3] = EP_V4_MAPPED_HI(ss_load32(ip + 16));
	} else {
		if ((void *)(ip + 40) > data_end)
			return 0;
		w[0] = ss_load32(ip + 8) | ((__u64)ss_load32(ip + 12) << 32);
		w[1] = ss_load32(ip + 16) | ((__u64)ss_load32(ip + 20) << 32);
		w[2] = ss_load32(ip + 24) | ((__u64)ss_load32(ip + 28) << 32);
		w[3] = ss_load32(ip + 32) | ((__u64)ss_load32(ip + 36) << 32);
	}
	return 1;
}

/* Addresses and IP length; returns 0 when the header is not there. Leaves the
 * ports at 0. */
static __always_inline int ep_read_ip(void *data, void *data_end, const struct ep_loc *loc,
				      struct ss_ep_tuple *t, struct ep_msg *m)
{
	__u8 *ip = data + (loc->l3_off & EP_OFF_MASK);
	__u64 w[5];

	/* One branch on the version, a constant in each: with a second branch for ip_len
	 * the verifier walked 12% more of the monitor (15.1k -> 16.9k instructions). */
	if (loc->ipv == 4) {
		if (!ep_addr_words(ip, data_end, 4, w))
			return 0;
		m->ip_len = bpf_ntohs(ss_load16(ip + 2));
	} else {
		if (!ep_addr_words(ip, data_end, 6, w))
			return 0;
		m->ip_len = 40 + bpf_ntohs(ss_load16(ip + 4));
	}
	/* sport, dport = 0; proto; ipv; pad = 0 (little-endian word 4) */
	w[4] = ((__u64)loc->proto << 32) | ((__u64)loc->ipv << 40);
	__builtin_memcpy(t, w, sizeof(w));
	return 1;
}

/* TCP ports, flags and payload length. The options are read apart (ep_read_tcp_opts), after
 * the quiet check, which needs only these. */
static __always_inline int ep_read_tcp_head(void *data, void *data_end, const struct ep_loc *loc,
					    struct ss_ep_tuple *t, struct ep_msg *m)
{
	__u32 l4 = loc->l4_off & EP_OFF_MASK;
	__u8 *th = data + l4;
	__u32 doff, ip_end;

	if ((void *)(th + 20) > data_end)
		return 0;
	t->sport = ss_load16(th);
	t->dport = ss_load16(th + 2);
	doff = (th[12] >> 4) * 4;
	m->tcp_flags = th[13];
	if (doff < 20)
		return 0;
	m->tcp_doff = doff;
	ip_end = (loc->l3_off & EP_OFF_MASK) + m->ip_len;
	m->tcp_payload = (int)ip_end - (int)(l4 + doff) > 0;
	return 1;
}

/* The TCP options copied to the stack for ep_tcp_opts_walk: a global function cannot be
 * handed a packet pointer. */
struct ep_tcp_opts {
	__u8  b[40];
	__u32 len;		/* option bytes copied */
	__u32 tsval;		/* network order, set with a return of 1 */
	__u32 tsecr;
};

/* Any layout but Linux's: finds the timestamp option the way tcp_parse_options does. A
 * global function, so the verifier checks it once however many states its callers reach
 * it in; only segments in other layouts pay the call. The walk visits every byte position,
 * a constant, and acts where the next option starts: the offset is never a variable
 * index, so the verifier does not track one state per sequence of options. */
__noinline int ep_tcp_opts_walk(struct ep_tcp_opts *o)
{
	__u32 len, next = 0;

	if (!o)
		return 0;
	len = o->len;
	if (len > sizeof(o->b))
		return 0;
#pragma unroll
	for (__u32 p = 0; p + 2 <= sizeof(o->b); p++) {
		__u32 kind, olen, opt, step;

		if (p != next)
			continue;
		if (p + 2 > len)
			return 0;
		kind = o->b[p];
		olen = o->b[p + 1];
		if (kind == 0)		/* end of options */
			return 0;
		if (kind == 8 && olen == 10) {
			if (p + 10 > sizeof(o->b) || p + 10 > len)
				return 0;
			__builtin_memcpy(&o->tsval, &o->b[p + 2], 4);
			__builtin_memcpy(&o->tsecr, &o->b[p + 6], 4);
			return 1;
		}
		opt = ((kind ^ 1) + 0xff) >> 8;		/* 0 for a NOP, else 1 */
		step = 1 + opt * (olen - 1);		/* a length below 2 gives less than 1 + opt */
		if (step < 1 + opt || p + step > len)
			return 0;
		next = p + step;
	}
	return 0;
}

/* The timestamp option, and what the segment can be: a message, a reply, neither. */
static __always_inline void ep_read_tcp_opts(void *data, void *data_end, const struct ep_loc *loc,
					     struct ep_msg *m)
{
	__u32 l4 = loc->l4_off & EP_OFF_MASK;
	__u8 *th = data + l4;
	__u32 optlen = m->tcp_doff - 20;
	__u32 tsval = 0, tsecr = 0;
	__u8 flags = m->tcp_flags;
	int have_ts = 0;

	/* NOP, NOP, timestamp: the layout Linux and most stacks send. */
	if (optlen >= 12 && (void *)(th + 32) <= data_end &&
	    ss_load32(th + 20) == bpf_htonl(0x0101080a)) {
		tsval = ss_load32(th + 24);
		tsecr = ss_load32(th + 28);
		have_ts = 1;
	} else if (optlen) {
		struct ep_tcp_opts o;

		__builtin_memset(&o, 0, sizeof(o));
		/* Option bytes come in 32-bit words; those past the frame are not read. */
#pragma unroll
		for (int i = 0; i < 10; i++) {
			if (4 * i >= optlen || (void *)(th + 24 + 4 * i) > data_end)
				break;
			__builtin_memcpy(&o.b[4 * i], th + 20 + 4 * i, 4);
			o.len = 4 * i + 4;
		}
		if (ep_tcp_opts_walk(&o)) {
			tsval = o.tsval;
			tsecr = o.tsecr;
			have_ts = 1;
		}
	}

	m->relevant = have_ts || (flags & (EP_TCP_SYN | EP_TCP_FIN | EP_TCP_RST));
	if (!have_ts || (flags & EP_TCP_RST))
		return;
	if ((flags & EP_TCP_SYN) && !cfg_include_syn)
		return;
	m->id = bpf_ntohl(tsval);
	m->reply_id = bpf_ntohl(tsecr);
	/* A pure ACK carries no message of its own: its TSval would match a reply
	 * that may come arbitrarily late (the next data the other side sends). */
	if (m->tcp_payload || (flags & (EP_TCP_SYN | EP_TCP_FIN)))
		m->can_ts = 1;
	else
		ep_count(SS_EP_C_PURE_ACK);
	if ((flags & EP_TCP_ACK) && m->reply_id != 0)
		m->can_match = 1;
}

/* ICMP/ICMPv6 echo: request is the message, reply echoes its id+seq. */
static __always_inline int ep_read_icmp(void *data, void *data_end, const struct ep_loc *loc,
					struct ss_ep_tuple *t, struct ep_msg *m)
{
	__u8 *ih = data + (loc->l4_off & EP_OFF_MASK);
	__u8 req = loc->ipv == 4 ? 8 : 128;
	__u8 rep = loc->ipv == 4 ? 0 : 129;
	__u16 seq;

	if ((void *)(ih + 8) > data_end)
		return 0;
	if (ih[0] != req && ih[0] != rep)
		return 0;
	t->sport = ss_load16(ih + 4);
	t->dport = t->sport;
	seq = ss_load16(ih + 6);
	m->relevant = 1;
	if (ih[0] == req) {
		m->id = bpf_ntohs(seq);
		m->can_ts = 1;
	} else {
		m->reply_id = bpf_ntohs(seq);
		m->can_match = 1;
	}
	return 1;
}

__noinline int ep_flow_event(const struct ss_ep_tuple *t, __u32 ifindex, __u64 now, __u32 event, __u32 reason)
{
	struct ss_ep_flow_event *ev;

	if (!cfg_flow_events || !t)
		return 0;
	ev = bpf_ringbuf_reserve(&ss_ep_events, sizeof(*ev), 0);
	if (!ev) {
		ep_count(SS_EP_C_RB_DROPS);
		return 0;
	}
	ev->type = SS_EP_EV_FLOW;
	ev->ifindex = ifindex;
	ev->time_ns = now;
	__builtin_memcpy(&ev->flow, t, sizeof(*t));
	ev->event = event;
	ev->reason = reason;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* One RTT sample of `t` into its source prefix's histogram. */
__noinline int ep_hist_add(const struct ss_ep_tuple *t, __u32 ifindex, __u64 rtt)
{
	struct ss_ep_hist_key k;
	struct ss_ep_hist_val *v;
	__u32 zero = 0, b;
	__u8 ipv;

	if (!t)
		return 0;
	ipv = t->ipv;
	__builtin_memset(&k, 0, sizeof(k));
	k.ipv = ipv;
	k.ifindex = ifindex;
	if (ipv == 4) {
		k.prefix_len = cfg_ipv4_prefix > 32 ? 32 : cfg_ipv4_prefix;
		ep_mask128(k.prefix, t->saddr, 96 + k.prefix_len);
	} else {
		k.prefix_len = cfg_ipv6_prefix > 128 ? 128 : cfg_ipv6_prefix;
		ep_mask128(k.prefix, t->saddr, k.prefix_len);
	}
	v = bpf_map_lookup_elem(&ss_ep_hist, &k);
	if (!v) {
		struct ss_ep_hist_val *z = bpf_map_lookup_elem(&ss_ep_hzero, &zero);

		if (!z)
			return 0;
		bpf_map_update_elem(&ss_ep_hist, &k, z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&ss_ep_hist, &k);
		if (!v) {
			ep_count(SS_EP_C_HIST_FULL);
			return 0;
		}
	}
	v->count++;
	v->sum_ns += rtt;
	if (v->min_ns == 0 || rtt < v->min_ns)
		v->min_ns = rtt;
	if (rtt > v->max_ns)
		v->max_ns = rtt;
	b = ep_bucket(rtt);
	v->buckets[b & (SS_EP_HIST_BUCKETS - 1)]++;
	return 0;
}

static __always_inline __u64 ep_rate_limit_ns(const struct ss_ep_dir *d)
{
	if (cfg_rtt_rate_milli) {
		__u64 basis = cfg_rtt_basis ? d->srtt_ns : d->min_rtt_ns;

		if (basis)
			return basis * cfg_rtt_rate_milli / 1000;
	}
	return (__u64)cfg_rate_limit_ms * 1000000ULL;
}

/* Once ss_ep_ts is full, inserts are not tried again for cfg_ts_full_backoff_ms: a
 * failed insert costs as much as a stored one, and with nothing being answered (one-way
 * traffic, a flood) every message would pay it. Per object, in .bss; a lost race costs
 * one try. */
__u64 ep_ts_full_until = 0;

/* `now` is the coarse clock: good enough for a rate limit of milliseconds, and a
 * tenth of the precise clock's cost. Only a stored timestamp reads the precise one.
 * The rate limit counts attempts, stored or not, as in pping.
 *
 * Inside a rate-limit window a packet reads the entry and writes nothing (but the
 * ID_STALE flag, once): at millions of packets per second, a store per packet into
 * shared flow state is most of the monitor's cost. last_id is therefore not kept up
 * to date there. When identifiers come in runs (TCP: many segments share a TSval),
 * the first one after the window may sit in the middle of its run, and its reply
 * echoes the run's first segment: it only becomes the new last_id, and the next
 * newer one is timestamped. An echo sequence never runs: it is timestamped at once. */
static __always_inline void ep_timestamp(struct ss_ep_dir *d, const struct ss_ep_tuple *t,
					 __u32 id, int id_runs, __u32 ifindex, __u64 now)
{
	struct ss_ep_ts_key k;
	struct ss_ep_ts_val v;
	__u32 flags = d->flags;
	long err;

	if (d->last_ts_ns && now - d->last_ts_ns < ep_rate_limit_ns(d)) {
		if (!(flags & SS_EP_DIR_ID_STALE))
			d->flags = flags | SS_EP_DIR_ID_STALE;
		ep_count(SS_EP_C_RATE_LIMITED);
		return;
	}
	if ((flags & SS_EP_DIR_ID_STALE) && id_runs) {
		d->last_id = id;
		d->flags = (flags & ~SS_EP_DIR_ID_STALE) | SS_EP_DIR_HAVE_ID;
		ep_count(SS_EP_C_ID_RESYNC);
		return;
	}
	/* Only a newer identifier starts a new message: TSval runs, retransmissions
	 * with an old TSval and reordered segments are not timestamped. */
	if ((flags & SS_EP_DIR_HAVE_ID) && (__s32)(id - d->last_id) <= 0) {
		ep_count(SS_EP_C_NOT_NEWER);
		return;
	}
	d->last_id = id;
	d->flags = (flags & ~SS_EP_DIR_ID_STALE) | SS_EP_DIR_HAVE_ID;
	d->last_ts_ns = now;
	if ((__s64)(ep_ts_full_until - now) > 0) {
		ep_count(SS_EP_C_TS_FULL);
		return;
	}
	__builtin_memcpy(&k.flow, t, sizeof(*t));
	k.id = id;
	k.pad = 0;
	v.ts_ns = bpf_ktime_get_ns();
	v.ifindex = ifindex;
	v.pad = 0;
	err = bpf_map_update_elem(&ss_ep_ts, &k, &v, BPF_NOEXIST);
	if (err) {
		if (err != -EEXIST)
			ep_count(SS_EP_C_TS_FULL);
		if (err == -E2BIG)
			ep_ts_full_until = now + (__u64)cfg_ts_full_backoff_ms * 1000000ULL;
		return;
	}
	__sync_fetch_and_add(&d->outstanding, 1);
	ep_count(SS_EP_C_TIMESTAMPS);
	if (ep_quiet_on() && t->proto == IPPROTO_TCP) {
		/* Its reply comes the other way: that direction may not stay quiet. */
		ep_quiet_wake(t, 1);
	}
}

/* The packet `t` (coming in on ifindex) echoes reply_id: look for the message it answers. */
static __always_inline void ep_match(struct ss_ep_dir *rd, const struct ss_ep_tuple *t,
				     __u32 reply_id, __u32 ifindex)
{
	struct ss_ep_ts_key k;
	struct ss_ep_ts_val *v;
	struct ss_ep_rtt_event *ev;
	__u64 ts, rtt, now;
	__u32 req_if;

	if (rd->outstanding == 0)
		return;
	ep_reverse(&k.flow, t);
	k.id = reply_id;
	k.pad = 0;
	v = bpf_map_lookup_elem(&ss_ep_ts, &k);
	if (!v) {
		ep_count(SS_EP_C_NO_MATCH);
		return;
	}
	now = bpf_ktime_get_ns();
	ts = v->ts_ns;
	req_if = v->ifindex;
	/* Only the first reply counts; the delete also settles a race between CPUs. */
	if (bpf_map_delete_elem(&ss_ep_ts, &k))
		return;
	if (rd->outstanding)
		__sync_fetch_and_add(&rd->outstanding, -1);
	if (now < ts)
		return;
	rtt = now - ts;
	if (rd->min_rtt_ns == 0 || rtt < rd->min_rtt_ns)
		rd->min_rtt_ns = rtt;
	rd->srtt_ns = rd->srtt_ns ? rd->srtt_ns - (rd->srtt_ns >> 3) + (rtt >> 3) : rtt;
	ep_count(SS_EP_C_SAMPLES);

	if (cfg_aggregate)
		ep_hist_add(t, ifindex, rtt);
	if (!cfg_samples)
		return;
	ev = bpf_ringbuf_reserve(&ss_ep_events, sizeof(*ev), 0);
	if (!ev) {
		ep_count(SS_EP_C_RB_DROPS);
		return;
	}
	ev->type = SS_EP_EV_RTT;
	ev->ifindex = ifindex;
	ev->time_ns = now;
	ev->rtt_ns = rtt;
	ev->min_rtt_ns = rd->min_rtt_ns;
	ev->srtt_ns = rd->srtt_ns;
	__builtin_memcpy(&ev->flow, &k.flow, sizeof(k.flow));
	ev->req_ifindex = req_if;
	ev->id = reply_id;
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline int ep_tuple_is_local(const struct ss_ep_tuple *t)
{
	return ep_is_local(t->daddr) || ep_is_local(t->saddr);
}

/* CLOCK_MONOTONIC_COARSE, read at most once per tick and CPU (see ss_ep_clock): the same
 * value, up to one tick late like the clock itself. */
static __always_inline __u64 ep_coarse_now(void)
{
	__u32 zero = 0;
	struct ss_ep_clock *c = bpf_map_lookup_elem(&ss_ep_clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies != j) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->ns;
}

/* What a relevant packet does to its flow: open it, timestamp, match, close. It reads the
 * tuple and what the headers said, never the packet. */
static __always_inline int ep_flow_track(struct ep_pkt *p)
{
	const struct ss_ep_tuple *t = &p->t;
	const struct ep_msg *m = &p->m;
	const struct ep_quiet *q = &p->q;
	struct ss_ep_tuple *key = &p->key;
	struct ss_ep_flow *f;
	struct ss_ep_dir *d, *rd;
	__u64 now, limit;
	__u32 base, lower, ifindex = p->ifindex, egress = p->egress;
	int dir, in_window, can_ts = m->can_ts, can_match = m->can_match;
	__u8 tcp_flags = m->tcp_flags;

	if (egress) {
		/* tc egress sees what the box sends; forwarded packets were seen at XDP ingress. */
		if (!ep_is_local(t->saddr))
			return 0;
		can_match = 0;
	}

	now = ep_coarse_now();
	/* dir is 0 or 1 as a range, not a constant per branch: &f->dir[dir] would otherwise
	 * split every state after it in two. */
	lower = ep_src_is_lower(t);
	dir = lower ^ 1;
	asm volatile("" : "+r"(dir));
	if (lower)
		__builtin_memcpy(key, t, sizeof(*key));
	else
		ep_reverse(key, t);

	/* Whether an end is the box is a property of the tuple, so it is settled when the
	 * flow is created: established flows pay no address lookups. The controller drops
	 * the flows of an address that becomes or stops being local. */
	base = ep_flow_set(key) * SS_EP_FLOW_WAYS;
	f = ep_flow_find(base, key);
	if (!f) {
		__u8 reason, flags = 0;
		int slot;

		if (egress) {
			flags = SS_EP_FLOW_LOCAL;
		} else if ((cfg_local_filter || cfg_egress_tc) && ep_tuple_is_local(t)) {
			if (!cfg_egress_tc) {
				ep_count(SS_EP_C_LOCAL);
				return 0;
			}
			flags = SS_EP_FLOW_LOCAL;
		}
		/* Only a packet that starts a message (or a connection) opens a flow, so the
		 * pure ACKs that trail a close do not resurrect it. */
		if (tcp_flags & (EP_TCP_RST | EP_TCP_FIN))
			return 0;
		if (tcp_flags & EP_TCP_SYN)
			reason = (tcp_flags & EP_TCP_ACK) ? SS_EP_R_SYN_ACK : SS_EP_R_SYN;
		else if (can_ts)
			reason = SS_EP_R_FIRST_PKT;
		else
			return 0;
		slot = ep_flow_claim(base, key, now, reason, flags);
		f = slot >= 0 ? bpf_map_lookup_elem(&ss_ep_flows, &slot) : NULL;
		if (!f) {
			ep_count(slot == EP_CLAIM_LOST ? SS_EP_C_CLAIM_LOST : SS_EP_C_FLOW_COLLISION);
			return 0;
		}
		ep_count(SS_EP_C_FLOWS_OPENED);
		ep_flow_event(t, ifindex, now, SS_EP_FLOW_OPEN, reason);
	}
	if ((f->flags & SS_EP_FLOW_LOCAL) && !egress) {
		if (!cfg_egress_tc) {
			ep_count(SS_EP_C_LOCAL);
			return 0;
		}
		/* The box answers these itself, out of XDP's sight: only replies to what it
		 * sent (timestamped on tc egress) can be matched. */
		can_ts = 0;
	}
	d = &f->dir[dir & 1];
	rd = &f->dir[(dir & 1) ^ 1];
	/* Read before write: most packets change none of these. */
	if (now - d->last_seen_ns >= SS_EP_SEEN_GRAIN_NS)
		d->last_seen_ns = now;
	if (d->ifindex != ifindex)
		d->ifindex = ifindex;
	if (!(d->flags & SS_EP_DIR_SEEN))
		d->flags |= SS_EP_DIR_SEEN;

	/* Inside this direction's window before the packet: it cannot start one. Asked only
	 * where the direction could go quiet. */
	limit = 0;
	in_window = 0;
	if (q->tag) {
		limit = ep_rate_limit_ns(d);
		in_window = d->last_ts_ns && now - d->last_ts_ns < limit;
	}
	if (can_ts)
		ep_timestamp(d, t, m->id, t->proto == IPPROTO_TCP, ifindex, now);
	if (can_match)
		ep_match(rd, t, m->reply_id, ifindex);
	if (in_window && rd->outstanding == 0 && !(f->flags & SS_EP_FLOW_LOCAL)) {
		/* The packets it lets by go unread, so the first after the window resyncs (see
		 * ep_timestamp): in a TSval run it could be a run's middle. */
		if (!(d->flags & SS_EP_DIR_ID_STALE))
			d->flags |= SS_EP_DIR_ID_STALE;
		ep_quiet_enter(q, d->last_ts_ns + limit - now, rd);
	}

	if (tcp_flags & EP_TCP_RST) {
		ep_count(SS_EP_C_FLOWS_CLOSED);
		ep_flow_event(t, ifindex, now, SS_EP_FLOW_CLOSE, SS_EP_R_RST);
		ep_flow_close(f, key);
	} else if (tcp_flags & EP_TCP_FIN) {
		d->flags |= SS_EP_DIR_FIN;
		if (rd->flags & SS_EP_DIR_FIN) {
			ep_count(SS_EP_C_FLOWS_CLOSED);
			ep_flow_event(t, ifindex, now, SS_EP_FLOW_CLOSE, SS_EP_R_FIN);
			ep_flow_close(f, key);
		}
	}
	return 0;
}


/* Whether a TCP segment whose tuple and head are read gets the quiet check; sets p->q. */
static __always_inline int ep_quiet_candidate(const struct ep_loc *loc, struct ep_pkt *p)
{
	if (loc->egress || !ep_quiet_applies(p->m.tcp_flags))
		return 0;
	ep_quiet_find(&p->t, &p->q);
	return 1;
}

/* What the monitor does with one frame: 1 when its direction was quiet, else 0. */
static __always_inline int ep_frame(void *data, void *data_end, const struct ep_loc *loc)
{
	struct ep_pkt p;

	__builtin_memset(&p.m, 0, sizeof(p.m));
	if (loc->proto == IPPROTO_TCP) {
		if (!cfg_tcp)
			return 0;
	} else if ((loc->proto == IPPROTO_ICMP && loc->ipv == 4) ||
		   (loc->proto == EP_IPPROTO_ICMPV6 && loc->ipv == 6)) {
		if (!cfg_icmp)
			return 0;
	} else {
		return 0;
	}
	if (!ep_read_ip(data, data_end, loc, &p.t, &p.m))
		return 0;
	p.q.idx = 0;
	p.q.tag = 0;
	if (loc->proto == IPPROTO_TCP) {
		if (!ep_read_tcp_head(data, data_end, loc, &p.t, &p.m))
			return 0;
		/* A quiet direction's segments are only counted, whatever their options say. */
		if (ep_quiet_candidate(loc, &p) && ep_is_quiet(&p.q))
			return 1;
		ep_read_tcp_opts(data, data_end, loc, &p.m);
	} else if (!ep_read_icmp(data, data_end, loc, &p.t, &p.m)) {
		return 0;
	}
	if (!p.m.relevant)
		return 0;
	p.ifindex = loc->ifindex;
	p.egress = loc->egress;
	return ep_flow_track(&p);
}

/* One counter per frame: quiet frames count only as `quiet` (the controller adds them to
 * `packets`), which saves the most common frame a second counter update. */
static __always_inline void ep_process(void *data, void *data_end, const struct ep_loc *loc)
{
	ep_count(ep_frame(data, data_end, loc) ? SS_EP_C_QUIET : SS_EP_C_PACKETS);
}

#endif
