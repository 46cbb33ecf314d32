import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { DeviceStats, StatusView } from '../daemon/view';

export const SWAP_LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
// Passive RTT spans LAN (tens of µs) to satellite (seconds).
export const RTT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsSources {
  stats?: () => DeviceStats[];
  status?: () => StatusView;
  heartbeatAge?: () => number; // seconds since the fast path last saw the daemon's heartbeat
}

// Prometheus metrics of one daemon, in a registry of its own (several daemons may share a
// process in tests).
//
// Packet and byte counts live in BPF per-CPU maps and are already cumulative, so they are not
// incremented here: on every scrape, collect() resets each counter and sets it to the value just
// read from view.stats(). The exposed series are thus exactly the kernel's totals; when a
// pipeline's maps are recreated the value drops, which Prometheus' rate()/increase() treat as a
// counter reset, and devices that go away stop being exported instead of lingering at a stale value.
export class Metrics {
  readonly registry = new Registry();
  private sources: MetricsSources = {};
  private heartbeatAgeValue: number | null = null;
  private readonly swapLatency: Histogram<'device'>;
  private readonly swaps: Counter<'device' | 'outcome'>;
  private readonly resyncs: Counter<'reason'>;
  private readonly errors: Counter<'kind'>;
  private readonly rtt: Histogram<'device' | 'side'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const reg = [this.registry];
    this.swapLatency = new Histogram({
      name: 'slipstream_swap_latency_seconds',
      help: 'Time from a graph change to the new pipeline being live on a device',
      labelNames: ['device'],
      buckets: SWAP_LATENCY_BUCKETS,
      registers: reg,
    });
    this.swaps = new Counter({ name: 'slipstream_swaps_total', help: 'Pipeline swaps by outcome', labelNames: ['device', 'outcome'], registers: reg });
    this.resyncs = new Counter({ name: 'slipstream_resyncs_total', help: 'Full netlink re-dumps by reason', labelNames: ['reason'], registers: reg });
    this.errors = new Counter({ name: 'slipstream_errors_total', help: 'Daemon errors by kind', labelNames: ['kind'], registers: reg });
    this.rtt = new Histogram({
      name: 'slipstream_rtt_seconds',
      help: 'Passively measured round-trip times',
      labelNames: ['device', 'side'],
      buckets: RTT_BUCKETS,
      registers: reg,
    });
    const self = this;
    new Gauge({
      name: 'slipstream_heartbeat_age_seconds',
      help: 'Seconds since the last heartbeat written for the fast path',
      registers: reg,
      collect() {
        const v = self.sources.heartbeatAge ? safe(self.sources.heartbeatAge) : self.heartbeatAgeValue;
        // NaN, not 0, while unknown: 0 would read as "perfectly fresh".
        this.set(typeof v === 'number' && Number.isFinite(v) ? v : NaN);
      },
    });
    new Gauge({
      name: 'slipstream_generation',
      help: 'Current pipeline generation',
      registers: reg,
      collect() {
        const s = self.sources.status ? safe(self.sources.status) : null;
        this.set(s ? s.generation : NaN);
      },
    });
    new Gauge({
      name: 'slipstream_managed_devices',
      help: 'Devices with a slipstream pipeline',
      registers: reg,
      collect() {
        const s = self.sources.status ? safe(self.sources.status) : null;
        this.set(s ? s.managed_devices.length : NaN);
      },
    });
    this.deviceCounters();
  }

  private deviceCounters(): void {
    const reg = [this.registry];
    // One stats() read per scrape feeds all the per-device counters.
    let snapshot: { at: number; stats: DeviceStats[] } | null = null;
    const read = (): DeviceStats[] => {
      const now = Date.now();
      if (!snapshot || now - snapshot.at > 250) snapshot = { at: now, stats: (this.sources.stats && safe(this.sources.stats)) || [] };
      return snapshot.stats;
    };
    const perDevice = (name: string, help: string, pick: (d: DeviceStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['device'],
        registers: reg,
        collect() {
          this.reset();
          for (const d of read()) this.inc({ device: d.ifname }, nonNeg(pick(d)));
        },
      });
    };
    perDevice('slipstream_fastpath_packets_total', 'Packets forwarded by the XDP fast path', (d) => d.fastpath_packets);
    perDevice('slipstream_fastpath_bytes_total', 'Bytes forwarded by the XDP fast path', (d) => d.fastpath_bytes);
    perDevice('slipstream_slowpath_packets_total', 'Packets handed to the kernel (XDP_PASS)', (d) => d.slowpath_packets);
    perDevice('slipstream_slowpath_bytes_total', 'Bytes handed to the kernel (XDP_PASS)', (d) => d.slowpath_bytes);
    new Counter({
      name: 'slipstream_pass_total',
      help: 'Packets handed to the kernel, by reason',
      labelNames: ['device', 'reason'],
      registers: reg,
      collect() {
        this.reset();
        for (const d of read()) for (const [reason, n] of Object.entries(d.pass_reasons)) this.inc({ device: d.ifname, reason }, nonNeg(n));
      },
    });
    for (const unit of ['packets', 'bytes'] as const) {
      new Counter({
        name: `slipstream_fpm_${unit}_total`,
        help: `Per fast-path module counters (${unit})`,
        labelNames: ['device', 'fpm', 'counter'],
        registers: reg,
        collect() {
          this.reset();
          for (const d of read())
            for (const f of d.fpms)
              for (const [counter, v] of Object.entries(f.counters)) this.inc({ device: d.ifname, fpm: f.name, counter }, nonNeg(v[unit]));
        },
      });
    }
  }

  // Where scrape-time values come from; createApi binds the daemon view.
  bind(sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  observeSwapLatency(device: string, seconds: number): void {
    this.swapLatency.observe({ device }, seconds);
  }
  incSwaps(device: string, outcome: 'ok' | 'failed'): void {
    this.swaps.inc({ device, outcome });
  }
  incResyncs(reason: string): void {
    this.resyncs.inc({ reason });
  }
  incErrors(kind: string): void {
    this.errors.inc({ kind });
  }
  setHeartbeatAge(seconds: number): void {
    this.heartbeatAgeValue = seconds;
  }
  // side: which way the timed packet went, e.g. 'ingress' | 'egress' (set by the ePPing work).
  observeRtt(device: string, side: string, seconds: number): void {
    this.rtt.observe({ device, side }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

function nonNeg(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

// A failing source must not fail the whole scrape.
function safe<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
