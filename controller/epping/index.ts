// The latency-monitor service: consumes the epping FPM's ring buffer, keeps recent samples,
// aggregates the per-prefix histograms per interval and ages out stale BPF state.
// The daemon creates it from the `epping:` config and calls attachMaps() once the FPM's
// maps exist (they are shared, so once per netns, not per device).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { EppingConfig } from '../config/types';
import type { NativeAddon, RingBuffer } from '../native/types';
import type { Logger } from '../util/log';
import { u32le } from '../util/bytes';
import { parseAddr } from './addr';
import { collect, type AggregateReport } from './aggregate';
import { cleanup, defaultPolicy, type CleanupResult } from './cleanup';
import { FlowTable, slotTuple } from './flow-table';
import { COUNTER_NAMES, decodeRecord, encodeLocalKey, NR_COUNTERS } from './layout';
import { Clock, DeviceNames, toFlowEvent, toSample, type FlowEvent, type RttSample } from './sample';
import { SampleStore, type SampleFilter } from './store';

export * from './addr';
export * from './aggregate';
export * from './cleanup';
export * from './flow-table';
export * from './format';
export * from './knobs';
export * from './layout';
export * from './sample';
export * from './store';
export { registerEppingRoutes } from './routes';
export * from './egress';

export interface EppingServiceOptions {
  log: Logger;
  config: EppingConfig;
  native?: NativeAddon; // default: the addon from controller/native
  storeSize?: number; // samples kept for GET /v1/rtt (default 10000)
  timers?: boolean; // run cleanup and aggregation on their intervals (default true)
}

export interface EppingServiceEvents {
  sample: [RttSample];
  flow: [FlowEvent];
  aggregates: [AggregateReport];
}

function loadNative(): NativeAddon {
  // Lazy, so pure-logic users (tests, the CLI) never load the addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../native') as { native: NativeAddon }).native;
}

export class EppingService extends EventEmitter<EppingServiceEvents> {
  private cfg: EppingConfig;
  private readonly log: Logger;
  private readonly nativeOpt?: NativeAddon;
  private readonly store: SampleStore;
  private readonly names = new DeviceNames();
  private readonly clock = new Clock();
  private readonly timersOn: boolean;
  private maps: Record<string, number> = {};
  private ring: RingBuffer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastReport: AggregateReport;
  private lastAggregateAt: number = Date.now();
  private localKeys = new Set<string>();
  private decodeErrors = 0;
  private flowEvents = 0;

  constructor(opts: EppingServiceOptions) {
    super();
    this.log = opts.log.child({ component: 'epping' });
    this.cfg = opts.config;
    this.nativeOpt = opts.native;
    this.store = new SampleStore(opts.storeSize ?? 10000);
    this.timersOn = opts.timers ?? true;
    this.lastReport = { interval_s: opts.config.aggregation.interval_s, start: null, end: null, prefixes: [] };
  }

  private get native(): NativeAddon {
    return this.nativeOpt ?? loadNative();
  }

  get attached(): boolean {
    return this.ring !== null;
  }

  // Starts consuming. `maps` holds fds by map name (ss_ep_events at least); the caller keeps
  // ownership of the fds and must keep them open until detach().
  attachMaps(maps: Record<string, number>): void {
    if (this.ring) this.detach();
    const ev = maps.ss_ep_events;
    if (ev === undefined) throw new Error('epping: attachMaps needs the ss_ep_events ring buffer');
    this.maps = { ...maps };
    this.seedFlowHash();
    this.ring = this.native.ringBufferOpen(ev, (rec) => this.onRecord(rec));
    this.writeLocal([...this.localKeys]);
    if (this.timersOn) {
      const every = (s: number, fn: () => void): void => {
        const t = setInterval(() => {
          try {
            fn();
          } catch (e) {
            this.log.warn({ err: e }, 'epping periodic task failed');
          }
        }, s * 1000);
        t.unref();
        this.timers.push(t);
      };
      every(this.config.cleanup_interval_s, () => this.runCleanup());
      every(this.config.aggregation.interval_s, () => this.collectAggregates());
    }
    this.log.info({ maps: Object.keys(maps) }, 'epping attached');
  }

  // The flow table's hash seed, chosen once per flow table: a seed outsiders cannot know
  // keeps them from steering flows into one set to fill it. It is pinned with the table, so
  // a restarted daemon keeps it; flows a fresh FPM made before this ran (seed 0) age out.
  private seedFlowHash(): void {
    const fd = this.maps.ss_ep_seed;
    if (fd === undefined) return;
    const zero = u32le(0);
    const cur = this.native.mapLookup(fd, zero);
    if (cur && cur.readBigUInt64LE(0) !== 0n) return;
    let seed = randomBytes(8);
    while (seed.readBigUInt64LE(0) === 0n) seed = randomBytes(8);
    this.native.mapUpdate(fd, zero, seed);
  }

  get config(): EppingConfig {
    return this.cfg;
  }

  // A config reload: intervals and timeouts take effect now; knobs arrive with the next
  // generation, which the daemon loads because the plan's knob values changed.
  reconfigure(config: EppingConfig): void {
    this.cfg = config;
    if (this.ring) this.attachMaps(this.maps);
  }

  detach(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.ring?.close();
    this.ring = null;
    this.maps = {};
  }

  close(): void {
    this.detach();
    this.removeAllListeners();
  }

  setDevices(devs: Iterable<{ ifindex: number; ifname: string }>): void {
    this.names.setDevices(devs);
  }

  // Side labels by device name (e.g. { eth0: 'wan', br0: 'lan' }); unmapped devices are their own label.
  setSides(labels: Record<string, string>): void {
    this.names.setSides(labels);
  }

  // The box's own addresses, for the FPM's local filter (ss_ep_local). Throws on a bad address.
  setLocalAddresses(addrs: string[]): void {
    const keys = new Set(addrs.map((a) => parseAddr(a).bytes.toString('hex')));
    const fd = this.maps.ss_ep_local;
    if (fd !== undefined) {
      for (const k of this.localKeys) if (!keys.has(k)) this.native.mapDelete(fd, Buffer.from(k, 'hex'));
    }
    const changed = new Set([...keys].filter((k) => !this.localKeys.has(k)));
    for (const k of this.localKeys) if (!keys.has(k)) changed.add(k);
    this.localKeys = keys;
    this.writeLocal([...keys]);
    this.forgetFlowsOf(changed);
  }

  // The FPM decides once per flow whether an end is the box (ss_ep_flow.flags): flows of
  // an address that became or stopped being local start over with the new answer.
  private forgetFlowsOf(addrs: Set<string>): void {
    const fd = this.maps.ss_ep_flows;
    if (fd === undefined || addrs.size === 0) return;
    const table = new FlowTable(this.native, fd);
    for (const { key, value } of table.dump()) {
      const tuple = slotTuple(value);
      const src = tuple.subarray(0, 16).toString('hex');
      const dst = tuple.subarray(16, 32).toString('hex');
      if (addrs.has(src) || addrs.has(dst)) table.free(key, tuple);
    }
  }

  private writeLocal(keys: string[]): void {
    const fd = this.maps.ss_ep_local;
    if (fd === undefined) return;
    for (const k of keys) this.native.mapUpdate(fd, encodeLocalKey(Buffer.from(k, 'hex')), Buffer.from([1]));
  }

  // A ring-buffer record; public so a test can feed records without BPF.
  onRecord(rec: Buffer): void {
    let r;
    try {
      r = decodeRecord(rec);
    } catch (e) {
      if (this.decodeErrors++ === 0) this.log.warn({ err: e }, 'epping: undecodable ring buffer record');
      return;
    }
    if (r.type === 'rtt') {
      const s = toSample(r, this.clock, this.names);
      this.store.add(s);
      this.emit('sample', s);
    } else {
      this.flowEvents++;
      this.emit('flow', toFlowEvent(r, this.clock, this.names));
    }
  }

  samples(filter: SampleFilter = {}): RttSample[] {
    return this.store.query(filter);
  }

  // What GET /v1/rtt of the API server (RttSource) asks for.
  rttSamples(limit: number): Record<string, unknown>[] {
    return this.samples({ limit }) as unknown as Record<string, unknown>[];
  }

  // The last completed aggregation interval.
  aggregates(): AggregateReport {
    return this.lastReport;
  }

  // Reads and resets the histograms now; the report covers the time since the last read.
  collectAggregates(): AggregateReport {
    const fd = this.maps.ss_ep_hist;
    const now = Date.now();
    const start = this.lastAggregateAt;
    this.lastAggregateAt = now;
    if (fd === undefined) return this.lastReport;
    const nat = this.native;
    const ncpu = nat.numPossibleCpus();
    const prefixes = collect(
      { dump: () => nat.mapDump(fd), deleteKeys: (keys) => void nat.mapDeleteBatch(fd, keys), ncpu },
      (ifindex) => {
        const device = this.names.name(ifindex);
        return { device, side: this.names.side(device) };
      },
    );
    this.lastReport = {
      interval_s: Math.round((now - start) / 100) / 10,
      start: new Date(start).toISOString(),
      end: new Date(now).toISOString(),
      prefixes,
    };
    this.emit('aggregates', this.lastReport);
    return this.lastReport;
  }

  // Ages out stale timestamps and idle flows now; emits 'flow' close events (reason timeout).
  runCleanup(): CleanupResult | null {
    const flowsFd = this.maps.ss_ep_flows;
    const tsFd = this.maps.ss_ep_ts;
    if (flowsFd === undefined || tsFd === undefined) return null;
    this.clock.sync();
    const nat = this.native;
    const ts = { dump: () => nat.mapDump(tsFd), delete: (k: Buffer) => nat.mapDelete(tsFd, k) };
    const res = cleanup(new FlowTable(nat, flowsFd), ts, this.clock.nowMonoNs(), defaultPolicy(this.config.flow_timeout_s));
    for (const c of res.closed) {
      const t = this.clock.wallUs(this.clock.nowMonoNs());
      const device = this.names.name(c.ifindex);
      this.emit('flow', {
        time: new Date(Math.floor(t / 1000)).toISOString(),
        time_us: t,
        event: 'close',
        reason: 'timeout',
        ...c.flow,
        device,
        side: this.names.side(device),
      });
    }
    if (res.flowsRemoved || res.timestampsRemoved) this.log.debug(res, 'epping cleanup');
    return res;
  }

  // BPF counters (ss_ep_stats) summed over CPUs, plus the service's own.
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    const fd = this.maps.ss_ep_stats;
    if (fd !== undefined) Object.assign(out, readMonitorCounters(this.native, fd));
    out.decode_errors = this.decodeErrors;
    out.flow_events = this.flowEvents;
    out.stored_samples = this.store.size;
    return out;
  }
}

// ss_ep_stats summed over CPUs, by counter name.
export function readMonitorCounters(nat: NativeAddon, statsFd: number): Record<string, number> {
  const ncpu = nat.numPossibleCpus();
  const out: Record<string, number> = {};
  for (let i = 0; i < Math.min(NR_COUNTERS, COUNTER_NAMES.length); i++) {
    const v = nat.mapLookup(statsFd, u32le(i));
    let sum = 0n;
    if (v) for (let c = 0; c < ncpu; c++) sum += v.readBigUInt64LE(c * 8);
    out[COUNTER_NAMES[i]] = Number(sum);
  }
  // A quiet frame updates only its own counter (bpf/fpm/epping_core.h, ep_process).
  if (out.packets !== undefined && out.quiet !== undefined) out.packets += out.quiet;
  return out;
}
