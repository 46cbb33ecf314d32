// SPDX-License-Identifier: GPL-2.0
/*
 * epping_tc: optional tc egress companion of the epping FPM (config epping.egress_tc).
 * XDP sees only what comes in; packets the box itself sends (its own connections,
 * its own pings) leave without passing an FPM. This program timestamps those, so
 * the FPM can match their replies on ingress. It shares every ss_ep_* map with the
 * FPM and always lets the packet go (TC_ACT_UNSPEC: the next filter or the default).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "fpm/epping_core.h"

#define TC_ACT_UNSPEC (-1)
#define EP_PULL_LEN 128

/* Plain ctx loads: clang otherwise folds the two paths around the pull into one
 * computed ctx address, which the verifier refuses. */
#define EP_SKB_LOAD(skb, field, out) \
	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(out) \
		     : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, field)))

SEC("tc")
int ss_epping_egress(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct ep_loc loc;
	__u16 proto;
	__u8 *ip;

	__u32 want = skb->len < EP_PULL_LEN ? skb->len : EP_PULL_LEN;
	__u64 d64, e64;

	EP_SKB_LOAD(skb, data, d64);
	EP_SKB_LOAD(skb, data_end, e64);
	/* Headers of locally built packets may sit in fragments: make them linear. */
	if ((void *)(long)d64 + want > (void *)(long)e64)
		bpf_skb_pull_data(skb, want);
	EP_SKB_LOAD(skb, data, d64);
	EP_SKB_LOAD(skb, data_end, e64);
	data = (void *)(long)d64;
	data_end = (void *)(long)e64;
	if (data + 14 > data_end)
		return TC_ACT_UNSPEC;
	__builtin_memcpy(&proto, data + 12, 2);
	proto = bpf_ntohs(proto);
	ip = data + 14;
	loc.l3_off = 14;
	loc.ifindex = 0;
	loc.egress = 1;
	if (proto == EP_ETH_P_IP) {
		__u16 frag;

		if ((void *)(ip + 20) > data_end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(&frag, ip + 6, 2);
		if (bpf_ntohs(frag) & 0x3fff)	/* MF or offset: a fragment */
			return TC_ACT_UNSPEC;
		loc.ipv = 4;
		loc.proto = ip[9];
		loc.l4_off = 14 + (ip[0] & 0x0f) * 4;
	} else if (proto == EP_ETH_P_IPV6) {
		if ((void *)(ip + 40) > data_end)
			return TC_ACT_UNSPEC;
		loc.ipv = 6;
		loc.proto = ip[6];	/* extension headers: not ours to time */
		loc.l4_off = 14 + 40;
	} else {
		return TC_ACT_UNSPEC;
	}
	ep_process(data, data_end, &loc);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
