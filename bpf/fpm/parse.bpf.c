// SPDX-License-Identifier: GPL-2.0
/*
 * parse: runs right before the first FPM that reads struct ss_pkt. Walks Ethernet,
 * IPv4/IPv6 (with a bounded walk over IPv6 extension headers) and the first bytes of
 * TCP/UDP/ICMP (ss_parse_frame.h), and leaves a struct ss_pkt in ss_scratch for the
 * FPMs after it. It never forwards: frames it cannot describe safely go to the kernel,
 * everything else to ss_next. When the FPM after it can parse inline, the deployer
 * folds this stage into that FPM and loads no parse program at all.
 */
#include "ss_fpm.h"
#include "ss_parse_frame.h"

/* Set by the assembler from what the chain needs; unset protocols are never parsed. */
const volatile __u8 cfg_ipv4 = 1;
const volatile __u8 cfg_ipv6 = 1;
const volatile __u8 cfg_l4 = 0;
const volatile __u8 cfg_vlan = 0;	/* no 802.1Q on this kernel: tagged frames go to the kernel */

SEC("xdp")
int ss_fpm_parse(struct xdp_md *ctx)
{
	struct ss_pkt *p = ss_pkt_get();
	struct ss_parse_cfg cfg = { .ipv4 = cfg_ipv4, .ipv6 = cfg_ipv6, .l4 = cfg_l4, .vlan = cfg_vlan };
	__u32 rc;

	if (!p)
		return ss_pass(ctx, SS_P_OTHER);
	rc = ss_parse_frame(ctx, p, &cfg);
	if (rc != SS_PARSE_OK)
		return ss_pass(ctx, rc);
	return ss_next(ctx);
}

char LICENSE[] SEC("license") = "GPL";
