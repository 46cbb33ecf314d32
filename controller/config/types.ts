// The daemon's configuration, as validated against config/schema.json (defaults applied).
// Keep this in step with the schema: test/unit/config-load.test.ts checks both agree.

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export type XdpModeSetting = 'auto' | 'native' | 'generic';
export type OnExit = 'detach' | 'keep';
export type EppingProtocol = 'tcp' | 'icmp';

export interface EppingConfig {
  enabled: boolean;
  devices: string[];
  protocols: EppingProtocol[];
  rate_limit_ms: number; // per-flow minimum gap between timestamps
  rtt_rate: number; // 0 = off; otherwise rate limit = rtt_rate × RTT (rtt_basis)
  rtt_basis: 'min' | 'smoothed';
  include_syn: boolean;
  local_filter: boolean;
  flow_timeout_s: number;
  cleanup_interval_s: number;
  map_sizes: { flows: number; timestamps: number };
  aggregation: { ipv4_prefix: number; ipv6_prefix: number; interval_s: number };
  egress_tc: boolean;
  ringbuf_bytes: number;
}

export interface Config {
  devices: { include: string[]; exclude: string[] };
  xdp_mode: XdpModeSetting;
  heartbeat: { interval_ms: number; timeout_ms: number };
  on_exit: OnExit;
  api: { listen: string; token_file: string };
  debounce_ms: number;
  log_level: LogLevel;
  bpffs_root: string;
  fdb_refresh_ms: number;
  epping: EppingConfig;
  queueing: { enabled: boolean; devices: string[] };
}

export interface ConfigIssue {
  path: string; // JSON pointer into the document, '' for the whole file
  line: number; // 1-based; 0 when unknown
  column: number; // 1-based; 0 when unknown
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  readonly file: string;
  constructor(file: string, issues: ConfigIssue[]) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

export function formatIssue(file: string, i: ConfigIssue): string {
  const where = i.line > 0 ? `${file}:${i.line}:${i.column}` : file;
  return i.path ? `${where}: ${i.path} ${i.message}` : `${where}: ${i.message}`;
}
