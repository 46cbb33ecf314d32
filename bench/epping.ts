// The latency monitor's throughput cost: the router pipeline with epping off, on with the
// default 100 ms per-flow sampling, and on without a rate limit, over 1/100/1000 TCP flows
// whose every segment carries a fresh TSval (the injector stamps it). Linux is measured too.
import { Lab } from '../test/lab';
import type { BenchContext, ScenarioResult } from './context';
import { BPFFS_ROOT, setupRouter } from './forwarding';
import { BenchPipeline } from './pipeline';
import { buildFrame, flowSet, tsvalOffset } from './frames';
import { interleave, type Variant } from './interleave';
import { DeliveryCounter, Injector, type Sample } from './probe';
import { ratio, round, spread, type Spread } from './stats';
import { native } from '../controller/native';
import { readMonitorCounters } from '../controller/epping';

export const EPPING_FRAME = 96; // TCP + timestamps + 30 bytes of payload (a data segment)

// Every variant shares the daemon's flow and timestamp maps: each run starts from empty ones,
// so one variant's leftovers (a timestamp map the unlimited run filled) never tax the next.
function clearMonitorState(p: BenchPipeline): void {
  for (const name of ['ss_ep_ts', 'ss_ep_flows']) {
    const fd = p.mapFd(name);
    const keys = native.mapDump(fd).map((e) => e.key);
    if (keys.length) native.mapDeleteBatch(fd, keys);
  }
}

function mpps(s: Sample[]): Spread {
  const sp = spread(s.map((x) => x.mpps));
  return { median: round(sp.median, 4)!, min: round(sp.min, 4)!, max: round(sp.max, 4)!, samples: sp.samples.map((x) => round(x, 4)!) };
}

export async function runEpping(ctx: BenchContext, flows: number): Promise<ScenarioResult> {
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  // The daemon runs with epping on (it creates and drains the monitor's maps); the three
  // pipelines are loaded next to it with the deployer's classes, since one daemon runs one
  // epping configuration and the variants must be measured side by side.
  const s = await setupRouter(ctx, lab, 4, { epping: { enabled: true } });
  const base = { ...s.base, proto: 'tcp' as const, length: EPPING_FRAME };
  const counter = new DeliveryCounter(s.counterNs, s.counterIf, 'tcp', base.dport);
  ctx.defer(() => counter.close());
  const frames = flowSet(base, flows, s.vary).map(buildFrame);
  const inj = new Injector({ frames, tsvalOffset: tsvalOffset(base) });
  ctx.defer(() => inj.close());
  // srcCheck as the daemon picks it for this lab (rp_filter off, no custom rules): one
  // ss_local_v4 lookup, so "off" is the router pipeline the daemon itself runs.
  const role = { ifname: s.ingressIfname, ifindex: s.run.ingressIfindex, l2Bridge: null, l3: { v4: true, v6: true }, epping: false, srcCheck: 1 };
  const load = (epping: boolean, rateLimitMs: number, id: number): BenchPipeline => {
    const p = BenchPipeline.load(BPFFS_ROOT, s.run.netns, { ...role, epping }, new Map([['latency-monitor', { cfg_rate_limit_ms: rateLimitMs }]]), 1_000_000 + id);
    ctx.defer(() => p.close());
    return p;
  };
  const pOff = load(false, 100, 1);
  const pSampled = load(true, 100, 2);
  const pUnl = load(true, 0, 3);
  if (!pSampled.fpms.includes('latency-monitor') || pOff.fpms.includes('latency-monitor')) throw new Error(`unexpected pipelines ${pOff.fpms} / ${pSampled.fpms}`);
  // Per run of each monitored variant: what the monitor did with the frames (timestamps
  // stored, rate-limited, refused because the timestamp map was full).
  const statsFd = pSampled.mapFd('ss_ep_stats');
  const did: Record<string, Record<string, number>> = { sampled: {}, unlimited: {} };
  let before: Record<string, number> = {};
  const monitored = (name: 'sampled' | 'unlimited', p: BenchPipeline): Variant => ({
    name,
    prepare: (i) => {
      clearMonitorState(p);
      before = readMonitorCounters(native, statsFd);
      i.setTarget(p.rootFd);
    },
    finish: () => {
      const after = readMonitorCounters(native, statsFd);
      for (const k of ['packets', 'timestamps', 'rate_limited', 'ts_map_full', 'flows_opened']) did[name][k] = (did[name][k] ?? 0) + (after[k] - (before[k] ?? 0));
    },
  });
  const variants: Variant[] = [
    { name: 'linux', prepare: (i) => i.setTarget(null) },
    { name: 'off', prepare: (i) => i.setTarget(pOff.rootFd) },
    monitored('sampled', pSampled),
    monitored('unlimited', pUnl),
  ];
  ctx.log(`epping-${flows}: ${EPPING_FRAME}-byte TCP segments with timestamps, ${flows} flow(s)`);
  const res = await interleave(ctx, inj, counter, s.run, variants, `${flows}fl`);
  const lin = mpps(res.get('linux')!);
  const off = mpps(res.get('off')!);
  const sampled = mpps(res.get('sampled')!);
  const unl = mpps(res.get('unlimited')!);
  const cost = (on: number): number | null => round(off.median > 0 ? ((off.median - on) / off.median) * 100 : null, 1);
  return {
    scenario: `epping-${flows}`,
    linux_mpps: lin.median,
    slipstream_mpps: sampled.median,
    reference_mpps: off.median,
    speedup_vs_linux: round(ratio(sampled.median, lin.median), 3),
    fraction_of_reference: round(ratio(sampled.median, off.median), 3),
    runs: ctx.reps,
    flows,
    frame_size: EPPING_FRAME,
    frames_per_run: ctx.frames,
    epping_off_mpps: off.median,
    epping_sampled_mpps: sampled.median,
    epping_unlimited_mpps: unl.median,
    cost_sampled_pct: cost(sampled.median),
    cost_unlimited_pct: cost(unl.median),
    linux: lin,
    off,
    sampled,
    unlimited: unl,
    monitor_sampled: did.sampled,
    monitor_unlimited: did.unlimited,
    pipeline_off: pOff.programs.join(' > '),
    pipeline_on: pSampled.programs.join(' > '),
    note: 'slipstream_mpps = router pipeline with epping on (100 ms sampling); reference_mpps = the same pipeline with epping off',
  };
}
