// Netlink event -> new generation live. The daemon runs on the router lab; each change
// flips net.ipv4.conf.<ingress>.forwarding (an RTM_NEWNETCONF event), 100 ms apart, which changes the
// ingress device's role (IPv4 routing on/off) and so its pipeline: a full generation is
// loaded and swapped in. The daemon measures from the first netlink event of the burst to
// the slot update and logs it with the swap ('generation live', latency_ms).
import { Lab } from '../test/lab';
import type { BenchContext, ScenarioResult } from './context';
import { setupRouter } from './forwarding';
import { quantile, round } from './stats';

// With `epping`, the monitor is on: every generation of the device carries it, folded into
// l3-router (the port still routes IPv6 while IPv4 forwarding is off), and so its verifier time.
export async function runSwapLatency(ctx: BenchContext, epping = false): Promise<ScenarioResult> {
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  const s = await setupRouter(ctx, lab, 4, epping ? { epping: { enabled: true } } : undefined);
  const name = epping ? 'swap-latency-epping' : 'swap-latency';
  const d = s.daemon;
  const dev = s.ingressIfname;
  const changes = ctx.quick ? 10 : 200;
  const SPACING_MS = 100;
  const lat: number[] = [];
  const programs: string[] = [];
  let missed = 0;
  ctx.log(`${name}: ${changes} changes of net.ipv4.conf.${dev}.forwarding`);
  const t0 = Date.now();
  for (let i = 0; i < changes; i++) {
    const from = d.logs.length;
    lab.sysctl(s.run.netns, `net.ipv4.conf.${dev}.forwarding`, i % 2 === 0 ? 0 : 1);
    try {
      const l = await d.waitLog((x) => x.msg === 'generation live' && x.device === dev && typeof x.latency_ms === 'number', 10000, from);
      lat.push(Number(l.latency_ms));
      programs.push(Array.isArray(l.fpms) ? l.fpms.join(',') : String(l.fpms));
    } catch {
      missed++;
    }
    // Operator changes are isolated events: leave more than the debounce between them, so each
    // is measured as a lone change (back-to-back changes coalesce behind the 50 ms debounce).
    await new Promise((r) => setTimeout(r, SPACING_MS));
  }
  if (changes % 2 === 1) lab.sysctl(s.run.netns, `net.ipv4.conf.${dev}.forwarding`, 1);
  const metrics = await fetch(d.api + '/metrics').then((r) => r.text());
  const sum = Number(/^slipstream_swap_latency_seconds_sum\{device="pa"\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
  const count = Number(/^slipstream_swap_latency_seconds_count\{device="pa"\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
  if (lat.length === 0) throw new Error(`no swap observed in ${changes} changes`);
  return {
    scenario: name,
    linux_mpps: null,
    slipstream_mpps: null,
    reference_mpps: null,
    speedup_vs_linux: null,
    fraction_of_reference: null,
    runs: lat.length,
    changes,
    swaps: lat.length,
    missed,
    p50_ms: round(quantile(lat, 0.5), 2),
    p90_ms: round(quantile(lat, 0.9), 2),
    p99_ms: round(quantile(lat, 0.99), 2),
    max_ms: round(Math.max(...lat), 2),
    min_ms: round(Math.min(...lat), 2),
    metrics_mean_ms: round(count > 0 ? (sum / count) * 1000 : null, 2),
    metrics_count: Number.isFinite(count) ? count : null,
    wall_per_change_ms: round((Date.now() - t0) / changes, 1),
    epping,
    pipelines: [...new Set(programs)],
    note: 'first netlink event of the burst -> ss_root_slot updated; includes the 50 ms debounce (debounce_ms)',
  };
}
