// What the daemon exposes to the HTTP API, the CLI and the metrics. The API
// depends on this interface only, so it can be tested against a fake.
import type { Graph, GraphDiff } from '../graph/types';

export type XdpMode = 'native' | 'generic' | 'none';

export interface PipelineView {
  ifname: string;
  ifindex: number;
  mode: XdpMode;
  generation: number; // 0 when no pipeline is live
  fpms: string[];
  programs: string[]; // the BPF programs chained, e.g. "parse+l3-router" when parse is folded in
  knobs: Record<string, Record<string, number | boolean>>; // per FPM name
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

export interface FpmStats {
  name: string;
  counters: Record<string, CounterValue>; // counter names from bpf/include/ss_reasons.h
}

export interface DeviceStats {
  ifname: string;
  ifindex: number;
  fastpath_packets: number;
  fastpath_bytes: number;
  slowpath_packets: number;
  slowpath_bytes: number;
  pass_reasons: Record<string, number>;
  fpms: FpmStats[];
}

export interface CapabilitiesSummary {
  kernel: string;
  btf: boolean;
  bpffs: boolean;
  missing: string[]; // capabilities some FPM needs that this kernel lacks
  devices: Record<string, { driver: string; xdp_native: boolean }>;
}

export interface ErrorInfo {
  time: string; // ISO 8601
  message: string;
  detail?: string; // e.g. a verifier log excerpt
}

export interface StatusView {
  version: string;
  netns: string | null;
  uptime_s: number;
  generation: number;
  managed_devices: string[];
  capabilities: CapabilitiesSummary;
  last_error: ErrorInfo | null;
}

export type DaemonEvent =
  | { type: 'graph'; version: number; diff: GraphDiff }
  | { type: 'swap'; device: string; generation: number; latency_ms: number; fpms: string[] }
  | { type: 'error'; message: string; detail?: string }
  | { type: 'reload'; ok: boolean; message: string }
  | { type: 'rtt'; sample: Record<string, unknown> };

export interface ReloadResult {
  ok: boolean;
  message: string;
}

export interface DaemonView {
  status(): StatusView;
  graph(): Graph;
  graphDot(): string;
  pipelines(): PipelineView[];
  stats(): DeviceStats[];
  reload(): Promise<ReloadResult>;
  // Throws an Error with code 'ENODEV' for an unknown device.
  setDeviceEnabled(ifname: string, enabled: boolean): Promise<void>;
  // Returns an unsubscribe function.
  subscribe(listener: (ev: DaemonEvent) => void): () => void;
}
