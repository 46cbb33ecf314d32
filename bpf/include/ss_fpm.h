/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tail-call conventions. Every FPM object has two rodata knobs the deployer sets
 * at load time: ss_dev_slot (its device's row in ss_stats) and ss_next_slot (the
 * position in this generation's ss_chain of its successor, or SS_SLOT_NONE).
 * Because the successor is baked into each program and each generation has its
 * own ss_chain, a packet can never run an old FPM followed by a new one.
 */
#ifndef SS_FPM_H
#define SS_FPM_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ss_maps.h"

#define SS_SLOT_NONE 0xffffffffU

const volatile __u32 ss_dev_slot = 0;
const volatile __u32 ss_next_slot = SS_SLOT_NONE;

static __always_inline void ss_count(__u32 id, __u64 bytes)
{
	__u32 row = ss_dev_slot * SS_NR_COUNTERS + id;
	struct ss_counter *c = bpf_map_lookup_elem(&ss_stats, &row);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline __u64 ss_frame_len(struct xdp_md *ctx)
{
	return (__u64)(ctx->data_end - ctx->data);
}

/* A slot of a 2^bits-entry per-CPU cache: two multiply-xor rounds, so keys that differ in
 * a byte or two (consecutive MACs, one vendor's prefix) still spread over the whole table. */
static __always_inline __u32 ss_cache_slot(__u64 x, const unsigned int bits)
{
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 32;
	x *= 0x9e3779b97f4a7c15ULL;
	return x >> (64 - bits);
}

/* Hand the packet to the kernel and say why. */
static __always_inline int ss_pass(struct xdp_md *ctx, __u32 reason)
{
	ss_count(reason, ss_frame_len(ctx));
	return XDP_PASS;
}

/* The device's entry, or NULL when slipstream knows nothing about it (see ss_devs). */
static __always_inline struct ss_dev *ss_dev_get(__u32 ifindex)
{
	struct ss_dev *d = bpf_map_lookup_elem(&ss_devs, &ifindex);

	return d && d->flags ? d : NULL;
}

static __always_inline struct ss_pkt *ss_pkt_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ss_scratch, &zero);
}

#ifndef SS_NO_CHAIN
/* Continue with the next FPM of this generation; PASS when there is none. */
static __always_inline int ss_next(struct xdp_md *ctx)
{
	if (ss_next_slot == SS_SLOT_NONE)
		return ss_pass(ctx, SS_P_END_OF_CHAIN);
	bpf_tail_call(ctx, &ss_chain, ss_next_slot);
	return ss_pass(ctx, SS_P_TAILCALL_MISS);
}

#endif /* SS_NO_CHAIN */

#endif
