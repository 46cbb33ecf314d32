// The demo's terminal sections, built on the CLI's table renderer.
import { table, count } from '../cli/table';
import type { DeviceStats, PipelineView } from '../daemon/view';
import type { Graph, ServiceNode } from '../graph/types';

export function heading(title: string): string {
  return `\n== ${title} ${'='.repeat(Math.max(3, 76 - title.length))}\n`;
}

// Long reasons wrap under their service rather than stretching the table.
export function renderServices(g: Graph): string {
  const rows = g.services.map((s) => [s.id, s.verdict, s.devices.length ? s.devices.join(', ') : '-']);
  let out = table(['SERVICE', 'VERDICT', 'DEVICES'], rows);
  for (const s of g.services) {
    if (s.reasons.length === 0) continue;
    out += `  ${s.id}:\n`;
    for (const r of s.reasons) out += `    - ${r}\n`;
  }
  return out;
}

export function serviceLine(s: ServiceNode | undefined): string {
  if (!s) return 'absent';
  return `${s.verdict}${s.reasons.length ? ` (${s.reasons.join('; ')})` : ''}`;
}

export function renderChains(ps: PipelineView[]): string {
  if (ps.length === 0) return 'no pipelines\n';
  return table(
    ['DEVICE', 'MODE', 'GENERATION', 'FAST-PATH PROGRAMS (tail-call chain)'],
    ps.map((p) => [p.ifname, p.mode, p.generation ? String(p.generation) : '-', p.programs.length ? p.programs.join(' > ') : '-']),
    [false, false, true, false],
  );
}

export interface CounterDelta {
  ifname: string;
  fast: number;
  slow: number;
  fastBytes: number;
  reasons: Record<string, number>;
}

export function statsDelta(before: DeviceStats[], after: DeviceStats[]): CounterDelta[] {
  const prev = new Map(before.map((d) => [d.ifname, d]));
  return after.map((d) => {
    const p = prev.get(d.ifname);
    const reasons: Record<string, number> = {};
    for (const [r, n] of Object.entries(d.pass_reasons)) {
      const dn = n - (p?.pass_reasons[r] ?? 0);
      if (dn > 0) reasons[r] = dn;
    }
    return {
      ifname: d.ifname,
      fast: d.fastpath_packets - (p?.fastpath_packets ?? 0),
      slow: d.slowpath_packets - (p?.slowpath_packets ?? 0),
      fastBytes: d.fastpath_bytes - (p?.fastpath_bytes ?? 0),
      reasons,
    };
  });
}

export function sumDelta(ds: CounterDelta[]): CounterDelta {
  const out: CounterDelta = { ifname: 'all', fast: 0, slow: 0, fastBytes: 0, reasons: {} };
  for (const d of ds) {
    out.fast += d.fast;
    out.slow += d.slow;
    out.fastBytes += d.fastBytes;
    for (const [r, n] of Object.entries(d.reasons)) out.reasons[r] = (out.reasons[r] ?? 0) + n;
  }
  return out;
}

export function topReasons(reasons: Record<string, number>, n = 3): string {
  const top = Object.entries(reasons)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([r, v]) => `${r} ${count(v)}`);
  return top.length ? top.join(', ') : '-';
}

export function share(fast: number, slow: number): string {
  return fast + slow > 0 ? `${((100 * fast) / (fast + slow)).toFixed(1)}%` : '-';
}

export function renderCounters(ds: CounterDelta[]): string {
  return table(
    ['DEVICE', 'FAST-PATH PKTS', 'SLOW-PATH PKTS', 'FAST %', 'TOP SLOW-PATH REASONS'],
    ds.map((d) => [d.ifname, count(d.fast), count(d.slow), share(d.fast, d.slow), topReasons(d.reasons)]),
    [false, true, true, true, false],
  );
}
