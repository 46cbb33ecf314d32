// The plain-text summary printed at the end of a run.
import type { ScenarioResult } from './context';

function f(x: unknown, digits = 3): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}

function pct(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-';
}

// One line per scenario with the headline numbers, then scenario-specific details.
export function renderTable(results: ScenarioResult[]): string {
  const rows: string[][] = [['scenario', 'linux Mpps', 'slipstream Mpps', 'reference Mpps', 'x Linux', 'of reference', 'notes']];
  for (const r of results) {
    rows.push([r.scenario, f(r.linux_mpps), f(r.slipstream_mpps), f(r.reference_mpps), f(r.speedup_vs_linux, 2), pct(r.fraction_of_reference), notes(r)]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')).join('\n');
}

export function notes(r: ScenarioResult): string {
  if (r.status) return `${String(r.status)}${r.note ? `: ${String(r.note)}` : ''}`;
  const n: string[] = [];
  if (r.frame_size) n.push(`${String(r.frame_size)} B, ${String(r.flows)} flow(s)`);
  if (typeof r.cost_sampled_pct === 'number') n.push(`cost ${f(r.cost_sampled_pct, 1)}% sampled (100 ms), ${f(r.cost_unlimited_pct, 1)}% unlimited`);
  if (typeof r.cost_linux_sampled_pct === 'number') n.push(`in front of Linux ${f(r.cost_linux_sampled_pct, 1)}% / ${f(r.cost_linux_unlimited_pct, 1)}%`);
  if (typeof r.ns_per_hop === 'number') n.push(`${f(r.ns_per_hop, 2)} ns/hop (r² ${f(r.r2, 3)})`);
  if (typeof r.p50_ms === 'number') n.push(`swap p50 ${f(r.p50_ms, 1)} ms, p99 ${f(r.p99_ms, 1)} ms over ${String(r.changes)} changes`);
  if (typeof r.daemon_start_ms === 'number') {
    n.push(`daemon ready ${f(r.daemon_start_ms, 0)} ms, RSS ${f(r.daemon_rss_mb, 0)} MB; introspector ${f(r.introspector_start_ms, 0)} ms / ${f(r.introspector_rss_mb, 0)} MB; burst ${f(r.burst_ms, 0)} ms`);
  }
  return n.join('; ');
}
