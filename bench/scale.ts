// Control plane at scale: a namespace with 100k routes, 10k FDB entries and 200 devices.
// Measures the Introspector (in a fresh process: start-up, RSS, absorbing a burst of 10k
// route additions) and the whole daemon (spawn to 'ready', RSS once ready).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { Lab } from '../test/lab';
import { startDaemon } from '../test/harness/daemon';
import type { BenchContext, ScenarioResult } from './context';
import { scaleRoute } from './scale-probe';
import { round } from './stats';

const execFileP = promisify(execFile);

function batch(lab: Lab, ns: string, tool: 'ip' | 'bridge', lines: string[]): void {
  lab.exec(ns, [tool, '-force', '-batch', '-'], lines.join('\n') + '\n');
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function runControlPlaneScale(ctx: BenchContext): Promise<ScenarioResult> {
  const routes = ctx.quick ? 5_000 : 100_000;
  const fdbEntries = ctx.quick ? 1_000 : 10_000;
  const pairs = ctx.quick ? 20 : 100; // two devices each
  const burst = ctx.quick ? 1_000 : 10_000;
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  const ns = lab.addNamespace('scale');
  ctx.log(`control-plane-scale: ${routes} routes, ${fdbEntries} FDB entries, ${pairs * 2 + 3} devices`);
  const links = ['link add br0 type bridge', 'link set br0 up'];
  for (let i = 0; i < pairs; i++) links.push(`link add sa${i} type veth peer name sb${i}`, `link set sa${i} master br0`, `link set sa${i} up`, `link set sb${i} up`);
  links.push('link add r0 type veth peer name r1', 'link set r0 up', 'link set r1 up', 'addr add 198.19.255.1/24 dev r0');
  batch(lab, ns, 'ip', links);
  batch(lab, ns, 'ip', Array.from({ length: routes }, (_, i) => `route add ${scaleRoute(i + 256, '198.19.255.2')}`));
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  batch(lab, ns, 'bridge', Array.from({ length: fdbEntries }, (_, i) => `fdb add 02:00:00:01:${hex((i >> 8) & 255)}:${hex(i & 255)} dev sa${i % pairs} master static`));

  // The Introspector alone, in a fresh process.
  const probe = path.join(__dirname, 'scale-probe.js');
  const { stdout } = await execFileP(process.execPath, ['--expose-gc', probe, ns, String(burst), String(routes + 256)], { maxBuffer: 1 << 20, timeout: 180_000 });
  const p = JSON.parse(stdout) as { startMs: number; rssBytes: number; burstMs: number; batchMs: number; absorbed: number; links: number; routes: number; fdb: number; overflows: number; rssAfterBurstBytes: number };
  ctx.log(`  introspector: start ${p.startMs.toFixed(0)} ms, RSS ${(p.rssBytes / 1048576).toFixed(0)} MB, burst of ${burst} absorbed in ${p.burstMs.toFixed(0)} ms`);

  // The daemon: everything from process spawn to 'ready' (model, graph, capability probes,
  // pipelines). Only r0 is accelerated, so the figure is the control plane's, not 100
  // verifier runs for the bridge ports.
  const t0 = Date.now();
  const d = await startDaemon({ netns: ns, config: { heartbeat: { interval_ms: 1000, timeout_ms: 5000 }, devices: { include: ['r0'] } } });
  const daemonStartMs = Date.now() - t0;
  ctx.defer(() => d.stop());
  const drss = rssBytes(d.pid);
  ctx.log(`  daemon: ready after ${daemonStartMs} ms, RSS ${(drss / 1048576).toFixed(0)} MB`);
  const mb = (b: number): number | null => round(b / 1048576, 1);
  return {
    scenario: 'control-plane-scale',
    linux_mpps: null,
    slipstream_mpps: null,
    reference_mpps: null,
    speedup_vs_linux: null,
    fraction_of_reference: null,
    runs: 1,
    routes: p.routes,
    fdb_entries: p.fdb,
    devices: p.links,
    introspector_start_ms: round(p.startMs, 0),
    introspector_rss_mb: mb(p.rssBytes),
    burst_routes: burst,
    burst_ms: round(p.burstMs, 0),
    burst_ip_batch_ms: round(p.batchMs, 0),
    burst_absorbed: p.absorbed,
    burst_overflows: p.overflows,
    introspector_rss_after_burst_mb: mb(p.rssAfterBurstBytes),
    daemon_start_ms: daemonStartMs,
    daemon_rss_mb: mb(drss),
    note: 'daemon start = spawn of the process until its "ready" log, with devices.include [r0]',
  };
}
