// Per-prefix RTT statistics from the BPF histograms (ss_ep_hist), read and reset per interval.
import { bucketBounds, decodeHistKey, HIST_BUCKETS, mergeHistValues, type HistValue } from './layout';

export interface PrefixAggregate {
  prefix: string; // the replying ends, e.g. '198.18.2.0/24'
  ipv: 4 | 6;
  device: string; // replies came in here
  side: string;
  count: number;
  min_us: number;
  mean_us: number;
  p50_us: number;
  p95_us: number;
  max_us: number;
  // Non-empty buckets: [lower, upper) bounds in µs and the samples in them.
  histogram: Array<{ ge_us: number; lt_us: number; count: number }>;
}

export interface AggregateReport {
  interval_s: number;
  start: string | null; // ISO 8601; null before the first interval ended
  end: string | null;
  prefixes: PrefixAggregate[];
}

// Quantile q (0..1) from bucket counts, interpolated inside its bucket and kept within [min, max].
export function quantileNs(h: HistValue, q: number): number {
  if (h.count === 0) return 0;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const c = h.buckets[i];
    if (c === 0) continue;
    if (seen + c >= rank) {
      const [lo, hi] = bucketBounds(i);
      const v = lo + ((hi - lo) * Math.max(0, rank - seen)) / c;
      return Math.min(Math.max(v, h.minNs), h.maxNs);
    }
    seen += c;
  }
  return h.maxNs;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarise(h: HistValue): Omit<PrefixAggregate, 'prefix' | 'ipv' | 'device' | 'side'> {
  const histogram: PrefixAggregate['histogram'] = [];
  for (let i = 0; i < HIST_BUCKETS; i++) {
    if (h.buckets[i] === 0) continue;
    const [lo, hi] = bucketBounds(i);
    histogram.push({ ge_us: round3(lo / 1000), lt_us: round3(hi / 1000), count: h.buckets[i] });
  }
  return {
    count: h.count,
    min_us: round3(h.minNs / 1000),
    mean_us: h.count ? round3(h.sumNs / h.count / 1000) : 0,
    p50_us: round3(quantileNs(h, 0.5) / 1000),
    p95_us: round3(quantileNs(h, 0.95) / 1000),
    max_us: round3(h.maxNs / 1000),
    histogram,
  };
}

export interface HistMapOps {
  dump(): Array<{ key: Buffer; value: Buffer }>;
  deleteKeys(keys: Buffer[]): void;
  ncpu: number;
}

// Reads every histogram, turns it into statistics and resets it (by deleting the entry,
// which also lets prefixes that went quiet disappear). Samples that land between the dump
// and the delete of their entry are lost; the window is a few microseconds per interval.
export function collect(ops: HistMapOps, names: (ifindex: number) => { device: string; side: string }): PrefixAggregate[] {
  const entries = ops.dump();
  const out: PrefixAggregate[] = [];
  for (const { key, value } of entries) {
    const k = decodeHistKey(key);
    const h = mergeHistValues(value, ops.ncpu);
    if (h.count === 0) continue;
    const n = names(k.ifindex);
    out.push({ prefix: k.prefix, ipv: k.ipv, device: n.device, side: n.side, ...summarise(h) });
  }
  if (entries.length) ops.deleteKeys(entries.map((e) => e.key));
  out.sort((a, b) => (a.device === b.device ? a.prefix.localeCompare(b.prefix) : a.device.localeCompare(b.device)));
  return out;
}
