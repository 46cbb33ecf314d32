/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header-walking helpers shared by the FPMs: constants vmlinux.h lacks (they are
 * macros in the UAPI headers), MAC comparisons, and the IPv4 checksum arithmetic.
 * Offsets into the frame are masked with SS_OFF_MASK before use so the verifier
 * can bound data + off; frames never reach that size without XDP frags.
 */
#ifndef SS_PARSE_H
#define SS_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SS_ETH_HLEN       14
#define SS_ETH_P_IP       0x0800
#define SS_ETH_P_ARP      0x0806
#define SS_ETH_P_IPV6     0x86DD
#define SS_ETH_P_8021Q    0x8100
#define SS_ETH_P_8021AD   0x88A8
#define SS_ETH_P_802_3_MIN 0x0600	/* below: an 802.3 length field, not an ethertype */

#define SS_AF_INET   2
#define SS_AF_INET6  10

#define SS_IP_MF      0x2000
#define SS_IP_OFFMASK 0x1fff

#define SS_NEXTHDR_HOP      0
#define SS_NEXTHDR_ROUTING  43
#define SS_NEXTHDR_FRAGMENT 44
#define SS_NEXTHDR_DEST     60
#define SS_IPPROTO_ICMPV6   58
#define SS_IPV6_MAX_EXT     4

#define SS_ICMP_ECHOREPLY    0
#define SS_ICMP_ECHO         8
#define SS_ICMP_DEST_UNREACH 3	/* icmp_is_err(): 3, 4, 5, 11, 12 */
#define SS_ICMP_SOURCE_QUENCH 4
#define SS_ICMP_REDIRECT     5
#define SS_ICMP_TIME_EXCEEDED 11
#define SS_ICMP_PARAMETERPROB 12
#define SS_ICMPV6_ECHO_REQ   128
#define SS_ICMPV6_ECHO_REPLY 129
#define SS_NDISC_ROUTER_SOLICITATION 133	/* 133..137: RS, RA, NS, NA, redirect */
#define SS_NDISC_REDIRECT    137

#define SS_OFF_MASK 0x3fff

static __always_inline int ss_mac_is_group(const __u8 *mac)
{
	return mac[0] & 1;
}

/* Whole-word reads of packet (or any) bytes at any alignment. A memcpy out of a byte
 * pointer compiles to one load per byte for the BPF target; a word load is one
 * instruction, and x86-64 (the target these objects are built for) loads unaligned
 * words at full speed, so the verifier allows them in packets. */
static __always_inline __u64 ss_load64(const __u8 *p)
{
	return *(const __u64 *)p;
}

static __always_inline __u32 ss_load32(const __u8 *p)
{
	return *(const __u32 *)p;
}

static __always_inline __u16 ss_load16(const __u8 *p)
{
	return *(const __u16 *)p;
}

static __always_inline int ss_mac_eq(const __u8 *a, const __u8 *b)
{
	return ss_load32(a) == ss_load32(b) && ss_load16(a + 4) == ss_load16(b + 4);
}

static __always_inline __u16 ss_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* One's-complement sum of an option-less IPv4 header; 0xffff when the checksum is right.
 * Summed as five 32-bit words and folded: the end-around carry makes that equal to the
 * sum of the ten 16-bit words, in half the loads. */
static __always_inline __u16 ss_ipv4_hdr_sum(const struct iphdr *iph)
{
	const __u32 *w = (const __u32 *)iph;
	__u64 sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return ss_csum_fold((__u32)sum);
}

/* TTL - 1 with the incremental checksum update of RFC 1624, as the kernel's ip_decrease_ttl. */
static __always_inline void ss_ipv4_dec_ttl(struct iphdr *iph)
{
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

#endif
