// SPDX-License-Identifier: GPL-2.0
/* Capability probe: the smallest XDP program, attached in driver mode to an idle device to
 * learn whether its driver runs native XDP. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int ss_probe_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
