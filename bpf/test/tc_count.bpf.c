// SPDX-License-Identifier: GPL-2.0
/* tc egress counter for tcx/clsact attachment tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tc_packets SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&tc_packets, &zero);

	if (c)
		__sync_fetch_and_add(c, 1);
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
