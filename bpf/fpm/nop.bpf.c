// SPDX-License-Identifier: GPL-2.0
/* An FPM that does nothing but hand over to its successor: measures a tail-call hop. */
#include "ss_fpm.h"

SEC("xdp")
int ss_fpm_nop(struct xdp_md *ctx)
{
	return ss_next(ctx);
}

char LICENSE[] SEC("license") = "GPL";
