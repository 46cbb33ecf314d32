// SPDX-License-Identifier: GPL-2.0
/*
 * epping: the latency-monitor FPM. Sits right after parse in every monitored
 * device's chain, so it sees every packet whatever later FPMs decide, measures
 * passive RTTs from TCP timestamps and ICMP echo (see epping_core.h), and always
 * continues with ss_next: it never changes a verdict. Where the FPM after it folds
 * the monitor in (l2_bridge_ep, l3_router_ep), this program is not loaded.
 */
#include "epping_xdp.h"

SEC("xdp")
int ss_fpm_epping(struct xdp_md *ctx)
{
	return EP_FOLD_THEN(ctx, ss_next);
}

char LICENSE[] SEC("license") = "GPL";
