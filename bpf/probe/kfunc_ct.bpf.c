// SPDX-License-Identifier: GPL-2.0
/* Capability probe: loads only if the kernel offers the conntrack kfuncs to XDP
 * (bpf_xdp_ct_lookup / bpf_ct_release; nf_conntrack built in or loaded). Never attached. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 len_tuple, struct bpf_ct_opts *opts, __u32 len_opts) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

SEC("xdp")
int ss_probe_ct(struct xdp_md *ctx)
{
	struct bpf_ct_opts opts = { .netns_id = -1, .l4proto = 6 };
	struct bpf_sock_tuple tup = {};
	struct nf_conn *ct;

	ct = bpf_xdp_ct_lookup(ctx, &tup, sizeof(tup.ipv4), &opts, sizeof(opts));
	if (ct)
		bpf_ct_release(ct);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
