/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps shared by the root dispatcher and the FPMs. Unless marked "per generation"
 * or "per device", the controller creates each map once, pins it under
 * /sys/fs/bpf/slipstream/<netns>/maps/ and hands the fd to every object it loads
 * (bpf_map__reuse_fd), so data survives generation swaps and daemon restarts.
 * Layouts here are mirrored in controller/deployer/layout.ts: change both.
 */
#ifndef SS_MAPS_H
#define SS_MAPS_H

#include "ss_ctx.h"
#include "ss_reasons.h"

#define SS_MAX_DEVS   256	/* dev_slot space: stats rows */
#define SS_MAX_CHAIN  16	/* FPMs in one pipeline */
#define SS_FDB_SIZE   65536
#define SS_DEVS_SIZE  1024

/* Per-CPU scratch: the per-packet context FPMs hand to each other. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_pkt);
} ss_scratch SEC(".maps");

/* Stats row r = dev_slot * SS_NR_COUNTERS + counter id. */
struct ss_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SS_MAX_DEVS * SS_NR_COUNTERS);
	__type(key, __u32);
	__type(value, struct ss_counter);
} ss_stats SEC(".maps");

/* Controller heartbeat: the root fails open when now - last_ns > timeout_ns.
 * The root reads the coarse clock, which may lag by a tick: a last_ns up to 50 ms
 * ahead of it is fresh, further ahead is stale (see xdp_root.bpf.c). */
struct ss_heartbeat {
	__u64 last_ns;		/* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
	__u64 timeout_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_heartbeat);
} ss_heartbeat SEC(".maps");

/* FDB mirror, fed from RTM_NEWNEIGH/DELNEIGH (AF_BRIDGE). */
struct ss_fdb_key {
	__u32 bridge_ifindex;
	__u8  mac[6];
	__u16 vlan;		/* 0 when the bridge does not filter VLANs */
};

#define SS_FDB_LOCAL   (1U << 0)	/* the bridge's own address: deliver locally */
#define SS_FDB_STATIC  (1U << 1)	/* permanent/static entry: never refreshed */

struct ss_fdb_val {
	__u32 port_ifindex;
	__u32 flags;		/* SS_FDB_* */
	__u64 last_seen_ns;	/* written by l2-bridge for source MACs; the controller refreshes the kernel entry */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SS_FDB_SIZE);
	__type(key, struct ss_fdb_key);
	__type(value, struct ss_fdb_val);
} ss_fdb SEC(".maps");

/* The mirrors' generation: the controller bumps it after every change to ss_fdb or
 * ss_devs, so anything the fast path remembers about them (l2-bridge's flow cache) is
 * dropped before it can outlive what it was derived from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ss_mirror_gen SEC(".maps");

/* What the fast path may do with a device, as ingress or egress. */
#define SS_DEV_UP         (1U << 0)	/* oper up and running */
#define SS_DEV_TX         (1U << 1)	/* may be a redirect target (in ss_tx_ports) */
#define SS_DEV_QDISC      (1U << 2)	/* egress has a non-default root qdisc: never bypass it */
#define SS_DEV_PORT_FWD   (1U << 3)	/* port of an accelerated bridge, STP state forwarding */
#define SS_DEV_ISOLATED   (1U << 4)	/* bridge port isolated */
#define SS_DEV_BRIDGE     (1U << 5)	/* this ifindex is a bridge */
#define SS_DEV_L3         (1U << 6)	/* routed traffic entering here may be accelerated */
#define SS_DEV_NF_OUT4    (1U << 7)	/* forward-path netfilter rules match routed IPv4 leaving here */
#define SS_DEV_NF_OUT6    (1U << 8)	/* ... and IPv6 */

struct ss_dev {
	__u32 bridge_ifindex;	/* master bridge when a port, else 0 */
	__u32 mtu;
	__u32 flags;		/* SS_DEV_* */
	__u8  mac[6];		/* for a port: the bridge's MAC (the router's address on that L2) */
	__u8  rp_filter;	/* 0 off, 1 strict, 2 loose (max of all and device) */
	__u8  pad;
	/* Smallest MTU metric of the IPv4 routes out of this device, 0 when none: ip_forward
	 * honours a route's MTU, bpf_fib_lookup only a locked one. */
	__u32 route_mtu4;
};

/* Indexed by ifindex: array lookups are inlined by the JIT, and every packet does two or
 * three of them. An all-zero entry means "unknown device", exactly like a missing one; an
 * ifindex beyond the array is unknown too, so such devices simply stay with the kernel. */
#define SS_IFINDEX_MAX 65536

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SS_IFINDEX_MAX);
	__type(key, __u32);
	__type(value, struct ss_dev);
} ss_devs SEC(".maps");

/* The box's IPv4 addresses (every ifa_local in the netns, up or down), fed from
 * RTM_NEWADDR/DELADDR. With rp_filter off the kernel refuses to forward a packet
 * whose source is one of them (fib_validate_source) and checks nothing else. */
#define SS_LOCAL_V4_SIZE 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SS_LOCAL_V4_SIZE);
	__type(key, __be32);
	__type(value, __u8);
} ss_local_v4 SEC(".maps");

/* A one-hash Bloom filter over ss_local_v4: bit ss_local_v4_bit(a) is set for every
 * address in it. A clear bit proves a source is not the box's for the price of an
 * array read, where the hash lookup costs several ns on every forwarded packet. The
 * controller sets a bit before its address enters ss_local_v4 and clears it only after
 * the last address on it left, so the filter is always a superset. The bit function is
 * mirrored in controller/deployer/local-addrs.ts. */
#define SS_LOCAL_V4_BF_WORDS 1024	/* 65536 bits */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SS_LOCAL_V4_BF_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} ss_local_v4_bf SEC(".maps");

/* a as loaded from the header (network order bytes in a host-order load) */
static __always_inline __u32 ss_local_v4_bit(__be32 a)
{
	return ((__u32)a * 0x9e3779b1U) >> 16;
}

/* IPsec policy selectors (fwd and out policies; controller/deployer/xfrm-selectors.ts).
 * ip_forward applies those policies to a routed packet and bpf_fib_lookup does not, so
 * l3-router hands the kernel every packet whose source lies in some policy's source
 * prefix and whose destination in some policy's destination prefix: a superset of the
 * packets any policy matches (ports and protocol are not looked at). The value of a
 * prefix holds the bits of every listed prefix that covers it, so one longest-prefix
 * lookup per address answers for all of them. */
#define SS_XFRM_SRC 1
#define SS_XFRM_DST 2
#define SS_XFRM_PREFIXES 4096

struct ss_xfrm_key4 {
	__u32 prefixlen;
	__u8  addr[4];
};

struct ss_xfrm_key6 {
	__u32 prefixlen;
	__u8  addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SS_XFRM_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ss_xfrm_key4);
	__type(value, __u8);
} ss_xfrm_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SS_XFRM_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ss_xfrm_key6);
	__type(value, __u8);
} ss_xfrm_v6 SEC(".maps");

/* Next hops l3-router forwarded to: the kernel never transmits through those neighbour
 * entries, so it would neither verify a STALE one (DELAY, PROBE) nor see it used. Per CPU,
 * a bitmap: l3-router sets bit ss_nh_bit() of each (device, address) it forwards to. Every
 * refresh interval the controller ORs the CPUs' bitmaps, clears them, and sends
 * RTM_NEWNEIGH with NTF_USE, as a transmit would do (neigh_event_send), for each entry of
 * its neighbour table whose bit is set (controller/deployer/neigh-refresh.ts mirrors the
 * bit function). One bit costs a packet far less than a slot holding the address: a
 * neighbour sharing its bit with a used one gets a needless NTF_USE, nothing worse. */
#define SS_NH_BITS 8192

struct ss_nh_marks {
	__u64 word[SS_NH_BITS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_nh_marks);
} ss_nh_used SEC(".maps");

/* Address words as loaded from the packet or the FIB result (network order bytes in
 * host-order loads; IPv4 in a[0], the rest 0) and the neighbour's device. */
static __always_inline __u32 ss_nh_bit(__u32 a0, __u32 a1, __u32 a2, __u32 a3, __u32 ifindex)
{
	__u32 h = a0 * 0x9e3779b1U ^ a1 * 0x85ebca77U ^ a2 * 0xc2b2ae3dU ^ a3 * 0x27d4eb2fU ^
		  ifindex * 0x165667b1U;

	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	return h >> 19;		/* 13 bits: SS_NH_BITS */
}

/* Redirect targets: key and value are the egress ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, SS_DEVS_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} ss_tx_ports SEC(".maps");

/* Per generation: this pipeline's FPMs by position. Fresh for every generation.
 * Objects that never tail-call into a chain (the root) define SS_NO_CHAIN so
 * libbpf does not create a throwaway one for them. */
#ifndef SS_NO_CHAIN
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SS_MAX_CHAIN);
	__type(key, __u32);
	__type(value, __u32);
} ss_chain SEC(".maps");
#endif

#endif
