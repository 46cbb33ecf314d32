/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counter ids. Every packet an FPM finishes is counted exactly once: either as
 * a fast-path verdict (SS_C_FAST_*) or as one pass reason (XDP_PASS to the kernel).
 * The controller parses the SS_COUNTER lines below to name the counters, so keep
 * one per line: SS_COUNTER(ID, value, "name", "what it means").
 */
#ifndef SS_REASONS_H
#define SS_REASONS_H

#define SS_COUNTERS(SS_COUNTER) \
	SS_COUNTER(SS_C_FAST_L2,            0, "fast_l2",            "bridged in XDP") \
	SS_COUNTER(SS_C_FAST_L3,            1, "fast_l3",            "routed in XDP") \
	SS_COUNTER(SS_P_HEARTBEAT_STALE,    2, "heartbeat_stale",    "controller heartbeat too old: fail open") \
	SS_COUNTER(SS_P_NO_PIPELINE,        3, "no_pipeline",        "no generation installed for this device") \
	SS_COUNTER(SS_P_TAILCALL_MISS,      4, "tailcall_miss",      "next FPM slot empty") \
	SS_COUNTER(SS_P_END_OF_CHAIN,       5, "end_of_chain",       "no FPM took the packet") \
	SS_COUNTER(SS_P_MALFORMED,          6, "malformed",          "truncated or inconsistent headers") \
	SS_COUNTER(SS_P_UNPARSED_PROTO,     7, "unparsed_proto",     "ethertype not handled on this box") \
	SS_COUNTER(SS_P_VLAN,               8, "vlan",               "802.1Q/802.1ad tagged frame") \
	SS_COUNTER(SS_P_L2_MULTICAST,       9, "l2_multicast",       "broadcast or multicast destination MAC") \
	SS_COUNTER(SS_P_L2_UNKNOWN_DST,    10, "l2_unknown_dst",     "destination MAC not in the FDB mirror") \
	SS_COUNTER(SS_P_L2_UNKNOWN_SRC,    11, "l2_unknown_src",     "source MAC not learned: kernel must learn it") \
	SS_COUNTER(SS_P_L2_SRC_MOVED,      12, "l2_src_moved",       "source MAC learned on another port") \
	SS_COUNTER(SS_P_L2_SAME_PORT,      13, "l2_same_port",       "destination is the ingress port") \
	SS_COUNTER(SS_P_L2_PORT_STATE,     14, "l2_port_state",      "ingress or egress port not forwarding") \
	SS_COUNTER(SS_P_L2_ISOLATED,       15, "l2_isolated",        "both ports isolated") \
	SS_COUNTER(SS_P_L2_LOCAL,          16, "l2_local",           "frame addressed to the bridge itself") \
	SS_COUNTER(SS_P_NOT_A_PORT,        17, "not_a_port",         "ingress device is not an accelerated bridge port") \
	SS_COUNTER(SS_P_EGRESS_QDISC,      18, "egress_qdisc",       "egress device has a shaping qdisc") \
	SS_COUNTER(SS_P_EGRESS_NOT_TX,     19, "egress_not_redirectable", "egress device cannot take XDP redirects or is down") \
	SS_COUNTER(SS_P_MTU,               20, "mtu",                "frame larger than the egress MTU") \
	SS_COUNTER(SS_P_L3_NOT_FOR_US,     21, "l3_not_for_us",      "destination MAC is not this router") \
	SS_COUNTER(SS_P_TTL,               22, "ttl",                "TTL or hop limit <= 1") \
	SS_COUNTER(SS_P_IP_OPTIONS,        23, "ip_options",         "IPv4 options or IPv6 extension headers") \
	SS_COUNTER(SS_P_FRAGMENT,          24, "fragment",           "IP fragment") \
	SS_COUNTER(SS_P_BAD_CSUM,          25, "bad_checksum",       "IPv4 header checksum wrong: kernel drops") \
	SS_COUNTER(SS_P_MARTIAN,           26, "martian",            "martian, local, broadcast or multicast address") \
	SS_COUNTER(SS_P_FIB_LOCAL,         27, "fib_local",          "FIB: local delivery or not forwarded") \
	SS_COUNTER(SS_P_FIB_BLACKHOLE,     28, "fib_blackhole",      "FIB: blackhole/unreachable/prohibit route") \
	SS_COUNTER(SS_P_FIB_NO_NEIGH,      29, "fib_no_neigh",       "FIB: next hop has no resolved neighbour") \
	SS_COUNTER(SS_P_FIB_FWD_DISABLED,  30, "fib_fwd_disabled",   "FIB: forwarding disabled on ingress") \
	SS_COUNTER(SS_P_FIB_FRAG_NEEDED,   31, "fib_frag_needed",    "FIB: packet exceeds route MTU") \
	SS_COUNTER(SS_P_FIB_OTHER,         32, "fib_other",          "FIB: unsupported result (lwt, no source address...)") \
	SS_COUNTER(SS_P_RP_FILTER,         33, "rp_filter",          "reverse-path filter would reject the source") \
	SS_COUNTER(SS_P_L3_DISABLED,       34, "l3_disabled",        "routing not accelerated for this address family or device") \
	SS_COUNTER(SS_P_BRIDGE_EGRESS_MISS,35, "bridge_egress_miss", "route out a bridge but next-hop MAC not in FDB mirror") \
	SS_COUNTER(SS_P_LOCAL_FILTER,      36, "local_traffic",      "addressed to the box itself") \
	SS_COUNTER(SS_P_OTHER,             37, "other",              "other") \
	SS_COUNTER(SS_P_L3_HAIRPIN,        38, "l3_hairpin",         "routed back out the device it came in on: kernel may send a redirect") \
	SS_COUNTER(SS_P_BRNF_ARP,          39, "brnf_arp",           "bridged ARP under bridge-nf-call-arptables: arptables sees it") \
	SS_COUNTER(SS_P_L2_NEIGH_SUPPRESS, 40, "l2_neigh_suppress",  "ARP or ICMPv6 on a bridge with neigh_suppress/proxy ARP: it may answer itself") \
	SS_COUNTER(SS_P_XFRM,              41, "xfrm_policy",        "source and destination within IPsec policy selectors: the kernel may encrypt or drop it") \
	SS_COUNTER(SS_P_NF_EGRESS,         42, "nf_egress",          "netfilter forward-path rules match traffic leaving through the egress device") \
	SS_COUNTER(SS_P_NDP,               43, "ndp",                "ICMPv6 neighbour discovery: a proxying router answers it itself") \
	SS_COUNTER(SS_P_ICMP_ERROR,        44, "icmp_error",         "ICMP error: over multipath routes the kernel picks the path of the flow it quotes") \
	SS_COUNTER(SS_P_PORT_RULES,        45, "port_rules",         "policy rules match ports, and this protocol's are not read")

#define SS_NR_COUNTERS 48 /* room to grow without changing the stats map layout */

enum ss_counter_id {
#define SS_ENUM(id, val, name, text) id = val,
	SS_COUNTERS(SS_ENUM)
#undef SS_ENUM
};

#endif
