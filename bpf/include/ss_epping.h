/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record and map layouts of the latency monitor (ePPing-style passive RTT).
 * Mirrored byte for byte in controller/epping/layout.ts: change both.
 *
 * Every map here is declared by both epping objects (the XDP FPM and the optional
 * tc egress program) under the same name, so the deployer's shared-map registry
 * hands all of them one instance: flow state must be shared by every device,
 * since a request and its reply enter the box on different devices.
 */
#ifndef SS_EPPING_H
#define SS_EPPING_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define SS_EP_FLOWS_SLOTS  32768	/* defaults; the controller sets max_entries before load */
#define SS_EP_FLOW_WAYS    8	/* slots per set of ss_ep_flows */
#define SS_EP_TS_SIZE      16384
#define SS_EP_HIST_SIZE    16384
#define SS_EP_LOCAL_SIZE   1024
#define SS_EP_RINGBUF_SIZE (256 * 1024)

/* One direction of a flow. Addresses are 16 bytes; IPv4 is stored v4-mapped
 * (::ffff:a.b.c.d). ICMP echo: sport = dport = echo id. */
struct ss_ep_tuple {
	__u8   saddr[16];
	__u8   daddr[16];
	__be16 sport;
	__be16 dport;
	__u8   proto;		/* IPPROTO_TCP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8   ipv;		/* 4 or 6 */
	__u16  pad;
} __attribute__((aligned(8)));	/* 40 bytes; 8-aligned so copies and compares move
				 * words, not the halfwords a 2-aligned struct gets */

/* ss_ep_ts: one outstanding message waiting for its reply. */
struct ss_ep_ts_key {
	struct ss_ep_tuple flow;	/* direction of the timestamped packet */
	__u32 id;			/* TCP TSval (host order) or echo sequence */
	__u32 pad;			/* always 0 */
};				/* 48 bytes */

struct ss_ep_ts_val {
	__u64 ts_ns;		/* bpf_ktime_get_ns() when the message was seen */
	__u32 ifindex;		/* device it came in on (0 on tc egress: the box sent it) */
	__u32 pad;
};

#define SS_EP_DIR_HAVE_ID  (1U << 0)	/* last_id is valid */
#define SS_EP_DIR_FIN      (1U << 1)	/* a FIN went this way */
#define SS_EP_DIR_SEEN     (1U << 2)	/* any packet went this way */
#define SS_EP_DIR_ID_STALE (1U << 3)	/* packets went by unread in a rate-limit window */

/* One direction of a flow. What every packet reads comes first; the RTT fields
 * only matter to a packet that matches. */
struct ss_ep_dir {
	__u64 last_ts_ns;	/* last time a message was timestamped (coarse clock): the rate limit */
	__u64 last_seen_ns;	/* coarse clock, refreshed at most every SS_EP_SEEN_GRAIN_NS */
	__u32 last_id;		/* newest identifier seen: only newer ones are timestamped */
	__u32 outstanding;	/* timestamps waiting for a reply: 0 skips the lookup */
	__u32 ifindex;		/* device this direction last came in on */
	__u32 flags;		/* SS_EP_DIR_* */
	__u64 min_rtt_ns;	/* 0 until the first sample */
	__u64 srtt_ns;		/* 7/8 smoothing, as TCP */
};				/* 48 bytes */

/* Idle flows age out after seconds: refreshing last_seen_ns on every packet would
 * only dirty the entry's cache line on every packet. */
#define SS_EP_SEEN_GRAIN_NS (16ULL * 1000 * 1000)

#define SS_EP_FLOW_LOCAL (1U << 0)	/* an end is the box itself: the local filter skips it */

/* ss_ep_flows: one entry per connection, in a table of sets of SS_EP_FLOW_WAYS slots (an
 * array map: its lookup is inlined, where a hash map's costs a call, its own hash and a
 * bucket walk on every packet). A seeded hash of the canonical tuple (lower address/port as
 * source) picks the set; the slot holding that tuple is the flow's. The tuple's last word
 * (ports, protocol, IP version) is never 0 in a live slot: 0 marks a free one, and claiming
 * a slot is one compare-and-swap on that word. A flow whose set is full is not monitored,
 * counted. dir[0] is the canonical direction, dir[1] its reverse. Times in a dir are
 * CLOCK_MONOTONIC_COARSE (bookkeeping only); RTTs use the precise clock.
 * The tuple comes first and each direction keeps its RTT fields last, so what a
 * packet reads sits in the entry's first 120 bytes. */
struct ss_ep_flow {
	struct ss_ep_tuple tuple;	/* canonical */
	struct ss_ep_dir dir[2];
	__u64 opened_ns;
	__u8  open_reason;	/* SS_EP_R_* */
	__u8  flags;		/* SS_EP_FLOW_* */
	__u8  pad[6];
};				/* 152 bytes */

/* Ring buffer records. Every record starts with a __u32 type. */
#define SS_EP_EV_RTT  1
#define SS_EP_EV_FLOW 2

struct ss_ep_rtt_event {
	__u32 type;		/* SS_EP_EV_RTT */
	__u32 ifindex;		/* device the reply came in on: the side of the box measured */
	__u64 time_ns;		/* reply arrival, CLOCK_MONOTONIC */
	__u64 rtt_ns;
	__u64 min_rtt_ns;	/* of this flow direction, this sample included */
	__u64 srtt_ns;
	struct ss_ep_tuple flow;	/* the request's direction: src asked, dst answered */
	__u32 req_ifindex;	/* device the request came in on (0: sent by the box) */
	__u32 id;		/* TSval or echo sequence that matched */
};				/* 88 bytes */

#define SS_EP_FLOW_OPEN  1
#define SS_EP_FLOW_CLOSE 2

#define SS_EP_R_SYN       1
#define SS_EP_R_SYN_ACK   2
#define SS_EP_R_FIRST_PKT 3
#define SS_EP_R_FIN       4
#define SS_EP_R_RST       5
#define SS_EP_R_TIMEOUT   6	/* only made by the controller's cleanup */

struct ss_ep_flow_event {
	__u32 type;		/* SS_EP_EV_FLOW */
	__u32 ifindex;		/* device of the packet that opened or closed it */
	__u64 time_ns;
	struct ss_ep_tuple flow;	/* the direction of that packet */
	__u8  event;		/* SS_EP_FLOW_* */
	__u8  reason;		/* SS_EP_R_* */
	__u8  pad[6];
};				/* 64 bytes */

/* ss_ep_hist: per-CPU RTT histogram per (remote prefix, side device). The prefix is
 * the replying end's address masked to ipv4_prefix/ipv6_prefix bits. */
struct ss_ep_hist_key {
	__u8  prefix[16];	/* v4-mapped for IPv4 */
	__u32 ifindex;		/* device the replies came in on */
	__u8  ipv;
	__u8  prefix_len;	/* bits of the address family (24 means /24 for IPv4) */
	__u16 pad;
};				/* 24 bytes */

/* Buckets: 0 holds RTT < 1024 ns; bucket i >= 1 covers
 * [2^e + s * 2^(e-2), 2^e + (s+1) * 2^(e-2)) ns with e = 10 + (i-1)/4, s = (i-1)%4,
 * i.e. four buckets per octave (at most 25% wide) up to 2^41 ns; the last one also
 * takes everything above. A power of two, so the index can be masked for the verifier. */
#define SS_EP_HIST_BUCKETS 128
#define SS_EP_HIST_MIN_EXP 10

struct ss_ep_hist_val {
	__u64 count;
	__u64 sum_ns;
	__u64 min_ns;		/* 0 when count is 0 */
	__u64 max_ns;
	__u32 buckets[SS_EP_HIST_BUCKETS];
};				/* 544 bytes */

/* ss_ep_local: the box's own addresses (v4-mapped), filled by the controller. */
struct ss_ep_local_key {
	__u8 addr[16];
};

/* ss_ep_stats: per-CPU counters, index = SS_EP_C_*. */
#define SS_EP_COUNTERS(C) \
	C(SS_EP_C_PACKETS,        0, "packets",         "packets inspected (the map holds those not quiet; readers add quiet)") \
	C(SS_EP_C_TIMESTAMPS,     1, "timestamps",      "messages timestamped") \
	C(SS_EP_C_TS_FULL,        2, "ts_map_full",     "timestamp not stored: ss_ep_ts full") \
	C(SS_EP_C_SAMPLES,        3, "samples",         "replies matched: RTT samples") \
	C(SS_EP_C_RB_DROPS,       4, "ringbuf_drops",   "ring buffer reserve failed: record lost") \
	C(SS_EP_C_FLOWS_OPENED,   5, "flows_opened",    "flow state created") \
	C(SS_EP_C_FLOWS_FULL,     6, "flows_map_full",  "unused since ss_ep_flows is sets of slots: a full set counts as flow_collision") \
	C(SS_EP_C_FLOWS_CLOSED,   7, "flows_closed",    "flows closed by FIN or RST") \
	C(SS_EP_C_LOCAL,          8, "local_skipped",   "packets to or from the box skipped by local_filter") \
	C(SS_EP_C_RATE_LIMITED,   9, "rate_limited",    "new message not timestamped: flow rate limit") \
	C(SS_EP_C_NOT_NEWER,     10, "not_newer",       "identifier not newer than the last one: not timestamped") \
	C(SS_EP_C_HIST_FULL,     11, "hist_map_full",   "histogram entry not created: ss_ep_hist full") \
	C(SS_EP_C_PURE_ACK,      12, "pure_ack",        "pure ACKs: never timestamped") \
	C(SS_EP_C_NO_MATCH,      13, "no_match",        "reply looked up but no timestamp matched") \
	C(SS_EP_C_FLOW_COLLISION, 14, "flow_collision", "flow not monitored: its set of the flow table is full") \
	C(SS_EP_C_ID_RESYNC,     15, "id_resync",       "first identifier after a rate-limit window: only a newer one is timestamped") \
	C(SS_EP_C_QUIET,         16, "quiet",           "packets of a quiet flow direction (see ss_ep_quiet): counted, nothing looked up") \
	C(SS_EP_C_CLAIM_LOST,    17, "flow_claim_lost", "flow not opened: a slot of its set was being made for the same tuple; the next packet tries again")

#define SS_EP_NR_COUNTERS 18

enum ss_ep_counter_id {
#define SS_EP_ENUM(id, val, name, text) id = val,
	SS_EP_COUNTERS(SS_EP_ENUM)
#undef SS_EP_ENUM
};

/* controller/epping/layout.ts reads these sizes. */
_Static_assert(sizeof(struct ss_ep_tuple) == 40, "ss_ep_tuple layout");
_Static_assert(sizeof(struct ss_ep_ts_key) == 48, "ss_ep_ts_key layout");
_Static_assert(sizeof(struct ss_ep_dir) == 48, "ss_ep_dir layout");
_Static_assert(sizeof(struct ss_ep_flow) == 152, "ss_ep_flow layout");
_Static_assert(sizeof(struct ss_ep_rtt_event) == 88, "ss_ep_rtt_event layout");
_Static_assert(sizeof(struct ss_ep_flow_event) == 64, "ss_ep_flow_event layout");
_Static_assert(sizeof(struct ss_ep_hist_key) == 24, "ss_ep_hist_key layout");
_Static_assert(sizeof(struct ss_ep_hist_val) == 544, "ss_ep_hist_val layout");

/* The maps. Names stay under 16 characters (BPF_OBJ_NAME_LEN). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SS_EP_FLOWS_SLOTS);	/* sets × SS_EP_FLOW_WAYS */
	__type(key, __u32);		/* set × SS_EP_FLOW_WAYS + way */
	__type(value, struct ss_ep_flow);
} ss_ep_flows SEC(".maps");

/* The flow hash's seed: random, written once by the controller; pinned with the
 * flows it places, so a restarted daemon finds its flows again. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ss_ep_seed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SS_EP_TS_SIZE);
	__type(key, struct ss_ep_ts_key);
	__type(value, struct ss_ep_ts_val);
} ss_ep_ts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SS_EP_HIST_SIZE);
	__type(key, struct ss_ep_hist_key);
	__type(value, struct ss_ep_hist_val);
} ss_ep_hist SEC(".maps");

/* Never written: a zeroed value to create histogram entries from without using the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_ep_hist_val);
} ss_ep_hzero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SS_EP_LOCAL_SIZE);
	__type(key, struct ss_ep_local_key);
	__type(value, __u8);
} ss_ep_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SS_EP_RINGBUF_SIZE);
} ss_ep_events SEC(".maps");

/* ss_ep_quiet: flow directions that need nothing for a while. A direction is quiet while
 * it is inside its rate-limit window (no message of its own can be timestamped) and the
 * reverse direction has no message outstanding (none of its packets can be a reply). Its
 * packets are then only counted: no flow-table read, whose cache miss at a thousand flows
 * was most of the monitor's cost. The entry ends early whenever the reverse direction
 * stores a timestamp, or the flow closes. A set of SS_EP_QUIET_WAYS ways picked by the
 * seeded hash of the directional tuple; each way is tag << 32 | the first jiffy (low 32
 * bits) at which the direction is no longer quiet; 0 is free. TCP only: that is where
 * flows run at line rate. */
#define SS_EP_QUIET_WAYS 4
struct ss_ep_quiet_set {
	__u64 way[SS_EP_QUIET_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SS_EP_FLOWS_SLOTS / SS_EP_QUIET_WAYS);	/* as many ways as flow slots */
	__type(key, __u32);
	__type(value, struct ss_ep_quiet_set);
} ss_ep_quiet SEC(".maps");

/* ss_ep_clock: per CPU, the coarse clock as last read and the jiffies value it was read
 * at. Both advance once per tick; jiffies is a load the verifier inlines, the coarse clock a
 * helper call, so each CPU calls it once per tick rather than once per packet. */
struct ss_ep_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_ep_clock);
} ss_ep_clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SS_EP_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} ss_ep_stats SEC(".maps");

#endif
