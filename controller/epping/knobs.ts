// The `epping:` config section in the FPM's terms: rodata knobs and map sizes.
import type { EppingConfig } from '../config/types';
import { kernelHz } from '../util/kernel-hz';
import { FLOW_WAYS, QUIET_WAYS } from './layout';

export type EppingKnobs = Record<string, number | boolean>;

// After ss_ep_ts was found full, how long the FPM stops trying to insert (not configurable:
// short enough to lose nothing that a full map would not lose anyway).
const TS_FULL_BACKOFF_MS = 10;

// Knob values for fpm-library/latency-monitor.yaml (and the tc egress object, which has the same).
export function eppingKnobs(cfg: EppingConfig, hz: number | null = kernelHz()): EppingKnobs {
  return {
    cfg_tcp: cfg.protocols.includes('tcp'),
    cfg_icmp: cfg.protocols.includes('icmp'),
    cfg_include_syn: cfg.include_syn,
    cfg_local_filter: cfg.local_filter,
    cfg_egress_tc: cfg.egress_tc,
    cfg_rate_limit_ms: cfg.rate_limit_ms,
    cfg_rtt_rate_milli: Math.round(cfg.rtt_rate * 1000),
    cfg_rtt_basis: cfg.rtt_basis === 'smoothed' ? 1 : 0,
    cfg_ipv4_prefix: cfg.aggregation.ipv4_prefix,
    cfg_ipv6_prefix: cfg.aggregation.ipv6_prefix,
    cfg_aggregate: true,
    cfg_samples: true,
    cfg_flow_events: true,
    cfg_ts_full_backoff_ms: TS_FULL_BACKOFF_MS,
    cfg_flow_sets: flowSlots(cfg.map_sizes.flows) / FLOW_WAYS,
    cfg_tick_ns: tickNs(hz),
  };
}

// The FPM counts quiet times (ss_ep_quiet) in jiffies. Without the kernel's HZ it assumes
// 100, the longest tick: quiet times then end early, never late.
export function tickNs(hz: number | null): number {
  return hz && hz > 0 ? Math.ceil(1e9 / hz) : 10_000_000;
}

// ss_ep_flows is a table of sets of FLOW_WAYS slots, a flow in the set its hash picks. Twice
// as many slots as `flows` keeps a set from filling up before the table does: at `flows`
// flows a new one finds its set full about 5% of the time, at half of them 0.1%, at a
// quarter 1 in 100000 (Poisson: 4, 2 and 1 flows per set of 8).
export function flowSlots(flows: number): number {
  return Math.ceil((2 * flows) / FLOW_WAYS) * FLOW_WAYS;
}

// A ring buffer must be a power-of-two multiple of the page size.
export function ringbufSize(bytes: number, page = 4096): number {
  let n = page;
  while (n < bytes) n *= 2;
  return n;
}

// BpfObject.setMaxEntries() calls to make on every epping object before load. Every object
// sharing the maps must get the same sizes, or the shared-map registry recreates them.
export function eppingMapSizes(cfg: EppingConfig): Record<string, number> {
  return {
    ss_ep_flows: flowSlots(cfg.map_sizes.flows),
    ss_ep_quiet: flowSlots(cfg.map_sizes.flows) / QUIET_WAYS,
    ss_ep_ts: cfg.map_sizes.timestamps,
    ss_ep_events: ringbufSize(cfg.ringbuf_bytes),
  };
}

export const DEFAULT_EPPING_CONFIG: EppingConfig = {
  enabled: false,
  devices: [],
  protocols: ['tcp', 'icmp'],
  rate_limit_ms: 100,
  rtt_rate: 0,
  rtt_basis: 'min',
  include_syn: false,
  local_filter: true,
  flow_timeout_s: 300,
  cleanup_interval_s: 10,
  map_sizes: { flows: 16384, timestamps: 16384 },
  aggregation: { ipv4_prefix: 24, ipv6_prefix: 48, interval_s: 10 },
  egress_tc: false,
  ringbuf_bytes: 262144,
};
