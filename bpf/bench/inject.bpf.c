// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark injector, run with BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES.
 * Live-frame pages are recycled with whatever the previous run wrote into them, so
 * a program that rewrites headers (TTL, MACs) would see its own output again. This
 * wrapper first restores the frame's headers from bench_frames (one precomputed
 * header per flow, picked round robin, so lookups are not trivially cached), can
 * stamp a fresh TCP TSval, and then tail-calls the program under test in
 * bench_target[0]. An empty slot falls through to XDP_PASS: the Linux baseline.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BENCH_HDR_MAX 128
#define BENCH_FLOWS_MAX 4096
#define BENCH_OFF_MASK 0x7f

struct bench_hdr {
	__u8 b[BENCH_HDR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_FLOWS_MAX);
	__type(key, __u32);
	__type(value, struct bench_hdr);
} bench_frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

const volatile __u32 cfg_flows = 1;	/* 1..BENCH_FLOWS_MAX headers in bench_frames */
const volatile __u32 cfg_copy = 64;	/* header bytes to restore: multiple of 8, <= 128 */
const volatile __u32 cfg_tsval_off = 0;	/* offset of a TCP TSval to stamp, 0 = none */

SEC("xdp")
int bench_inject(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0, k = 0;
	struct bench_hdr *h;
	__u64 *seq, n;

	seq = bpf_map_lookup_elem(&bench_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	n = *seq;
	*seq = n + 1;
	if (cfg_flows > 1)
		k = (__u32)n % cfg_flows;
	h = bpf_map_lookup_elem(&bench_frames, &k);
	if (!h)
		return XDP_ABORTED;
#pragma unroll
	for (int i = 0; i < BENCH_HDR_MAX / 8; i++) {
		if (i * 8 >= cfg_copy)
			break;
		if (data + (i + 1) * 8 > data_end)
			return XDP_ABORTED;
		*(__u64 *)(data + i * 8) = *(__u64 *)&h->b[i * 8];
	}
	if (cfg_tsval_off) {
		__u8 *ts = data + (cfg_tsval_off & BENCH_OFF_MASK);
		__u32 v = bpf_htonl((__u32)n + 1);

		if ((void *)(ts + 4) > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(ts, &v, 4);
	}
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
