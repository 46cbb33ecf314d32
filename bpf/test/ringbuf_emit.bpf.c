// SPDX-License-Identifier: GPL-2.0
/* One ring-buffer record per run: a sequence number, the frame length, its first bytes. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct record {
	__u32 seq;
	__u32 len;
	__u8 head[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} seq SEC(".maps");

SEC("xdp")
int ringbuf_emit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__u32 *s = bpf_map_lookup_elem(&seq, &zero);
	struct record *r;

	if (!s)
		return XDP_ABORTED;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return XDP_DROP;
	/* plain read-modify-write: test runs are single-threaded (no -mcpu=v3 for XADD results) */
	r->seq = *s;
	*s += 1;
	r->len = end - data;
	__builtin_memset(r->head, 0, sizeof(r->head));
	if (data + sizeof(r->head) <= end)
		__builtin_memcpy(r->head, data, sizeof(r->head));
	bpf_ringbuf_submit(r, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
