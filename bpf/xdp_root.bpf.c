// SPDX-License-Identifier: GPL-2.0
/*
 * The root dispatcher: the one program attached to a managed device, for the life
 * of the daemon and beyond. It fails open when the controller's heartbeat is stale
 * (a dead daemon must not leave a fast path the kernel no longer agrees with), then
 * jumps to the first FPM of the device's current generation. The controller swaps
 * generations by rewriting ss_root_slot[0]: one atomic map update.
 */
#define SS_NO_CHAIN
#include "ss_fpm.h"

/* The coarse clock (CLOCK_MONOTONIC_COARSE) costs a few ns where bpf_ktime_get_ns
 * costs tens in a VM, but lags CLOCK_MONOTONIC, which the controller writes, by up
 * to one tick: a heartbeat up to this far in the future still counts as fresh.
 * Further ahead is garbage, and garbage fails open. */
#define SS_HB_SKEW_NS (50LL * 1000 * 1000)

/* Per device: slot 0 holds the first FPM of the current generation. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ss_root_slot SEC(".maps");

/* Per CPU, the heartbeat last found fresh and the tick until which that holds: the clock
 * is then read at most once per tick and CPU rather than for every packet. Any change to
 * the heartbeat (a beat, or the controller marking it stale) forces a fresh reading, so
 * only a daemon that silently stopped is noticed up to one tick late. */
struct ss_hb_seen {
	__u64 last_ns;
	__u64 timeout_ns;
	__u64 until_jiffies;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_hb_seen);
} ss_hb_seen SEC(".maps");

static __always_inline int heartbeat_fresh(const struct ss_heartbeat *hb)
{
	__u32 zero = 0;
	struct ss_hb_seen *seen = bpf_map_lookup_elem(&ss_hb_seen, &zero);
	__u64 now_j = bpf_jiffies64();
	__s64 age;

	if (seen && now_j < seen->until_jiffies && seen->last_ns == hb->last_ns &&
	    seen->timeout_ns == hb->timeout_ns)
		return 1;
	age = (__s64)(bpf_ktime_get_coarse_ns() - hb->last_ns);
	if (age > (__s64)hb->timeout_ns || age < -SS_HB_SKEW_NS)
		return 0;
	if (seen) {
		seen->last_ns = hb->last_ns;
		seen->timeout_ns = hb->timeout_ns;
		seen->until_jiffies = now_j + 1;
	}
	return 1;
}

SEC("xdp")
int ss_root(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct ss_heartbeat *hb = bpf_map_lookup_elem(&ss_heartbeat, &zero);

	/* An entry never written (timeout 0) is stale too. */
	if (!hb || !hb->timeout_ns || hb->timeout_ns > (__u64)0x7fffffffffffffffLL)
		return ss_pass(ctx, SS_P_HEARTBEAT_STALE);
	if (!heartbeat_fresh(hb))
		return ss_pass(ctx, SS_P_HEARTBEAT_STALE);
	bpf_tail_call(ctx, &ss_root_slot, 0);
	return ss_pass(ctx, SS_P_NO_PIPELINE);
}

char LICENSE[] SEC("license") = "GPL";
