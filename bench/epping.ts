// The latency monitor's throughput cost: the router or bridge pipeline with epping off, on
// with the default 100 ms per-flow sampling, and on without a rate limit, over 1/100/1000 TCP
// flows whose every segment carries a fresh TSval (the injector stamps it). Linux is measured
// too, alone and with the monitor in front of it (the monitor-only pipeline slipstream runs
// on a device whose traffic the kernel forwards).
import { Lab } from '../test/lab';
import type { BenchContext, ScenarioResult } from './context';
import { BPFFS_ROOT, setupBridge, setupRouter, type FwdSetup } from './forwarding';
import { BenchPipeline } from './pipeline';
import { buildFrame, flowSet, tsvalOffset } from './frames';
import { interleave, type Variant } from './interleave';
import { DeliveryCounter, Injector, type Sample } from './probe';
import { ratio, round, spread, type Spread } from './stats';
import { native } from '../controller/native';
import { DEFAULT_EPPING_CONFIG, FlowTable, eppingKnobs, readMonitorCounters } from '../controller/epping';
import type { DeviceRole } from '../controller/assembler/plan';

export const EPPING_FRAME = 96; // TCP + timestamps + 30 bytes of payload (a data segment)

// Every variant shares the daemon's flow and timestamp maps: each run starts from empty ones,
// so one variant's leftovers (a timestamp map the unlimited run filled) never tax the next.
function clearMonitorState(p: BenchPipeline): void {
  const fd = p.mapFd('ss_ep_ts');
  const keys = native.mapDump(fd).map((e) => e.key);
  if (keys.length) native.mapDeleteBatch(fd, keys);
  new FlowTable(native, p.mapFd('ss_ep_flows')).clear();
  const quiet = p.mapFd('ss_ep_quiet');
  const live = native.mapDump(quiet).filter((e) => e.value.some((b) => b !== 0));
  if (live.length) native.mapUpdateBatch(quiet, live.map((e) => e.key), live.map((e) => Buffer.alloc(e.value.length)));
}

function mpps(s: Sample[]): Spread {
  const sp = spread(s.map((x) => x.mpps));
  return { median: round(sp.median, 4)!, min: round(sp.min, 4)!, max: round(sp.max, 4)!, samples: sp.samples.map((x) => round(x, 4)!) };
}

export type EppingPipeline = 'router' | 'bridge';

// The monitor counters a run reports: what it did with the frames, and whether it kept up.
const DID = ['packets', 'timestamps', 'rate_limited', 'quiet', 'ts_map_full', 'flows_opened', 'flow_collision', 'flow_claim_lost', 'not_newer', 'id_resync', 'local_skipped', 'ringbuf_drops'] as const;

// The role the daemon gives the ingress port, as the bench's own pipelines must repeat it:
// the router's source check, the bridge's br_netfilter knobs (this machine may have it on).
async function ingressRole(s: FwdSetup, kind: EppingPipeline): Promise<DeviceRole> {
  const p = await s.daemon.get<{ pipelines: Array<{ ifname: string; knobs?: Record<string, Record<string, number | boolean>> }> }>('/v1/pipelines');
  const knobs = p.pipelines.find((x) => x.ifname === s.ingressIfname)?.knobs ?? {};
  const base = { ifname: s.ingressIfname, ifindex: s.run.ingressIfindex, epping: false };
  if (kind === 'router') {
    const src = knobs['l3-router']?.cfg_src_check;
    return { ...base, l2Bridge: null, l3: { v4: true, v6: true }, srcCheck: typeof src === 'number' ? src : 1 };
  }
  const b = knobs['l2-bridge'] ?? {};
  if (!s.bridge) throw new Error('bridge setup without a bridge');
  return {
    ...base,
    l2Bridge: s.bridge,
    l3: { v4: false, v6: false },
    brnf: { v4: b.cfg_brnf_ipv4 === true, v6: b.cfg_brnf_ipv6 === true, arp: b.cfg_brnf_arp === true },
  };
}

export async function runEpping(ctx: BenchContext, flows: number, kind: EppingPipeline = 'router'): Promise<ScenarioResult> {
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  // The daemon runs with epping on (it creates and drains the monitor's maps); the three
  // pipelines are loaded next to it with the deployer's classes, since one daemon runs one
  // epping configuration and the variants must be measured side by side.
  const eppingOn = { epping: { enabled: true } };
  const daemonKnobs = eppingKnobs({ ...DEFAULT_EPPING_CONFIG, enabled: true });
  const s = kind === 'router' ? await setupRouter(ctx, lab, 4, eppingOn) : await setupBridge(ctx, lab, flows, eppingOn);
  const base = { ...s.base, proto: 'tcp' as const, length: EPPING_FRAME };
  const counter = new DeliveryCounter(s.counterNs, s.counterIf, 'tcp', base.dport);
  ctx.defer(() => counter.close());
  const frames = flowSet(base, flows, s.vary).map(buildFrame);
  const inj = new Injector({ frames, tsvalOffset: tsvalOffset(base) });
  ctx.defer(() => inj.close());
  // "off" is the pipeline the daemon itself runs on the port, minus the monitor.
  const role = await ingressRole(s, kind);
  const load = (r: DeviceRole, rateLimitMs: number, id: number): BenchPipeline => {
    const p = BenchPipeline.load(BPFFS_ROOT, s.run.netns, r, new Map([['latency-monitor', { ...daemonKnobs, cfg_rate_limit_ms: rateLimitMs }]]), 1_000_000 + id);
    ctx.defer(() => p.close());
    return p;
  };
  const pOff = load({ ...role, epping: false }, 100, 1);
  const pSampled = load({ ...role, epping: true }, 100, 2);
  const pUnl = load({ ...role, epping: true }, 0, 3);
  if (!pSampled.fpms.includes('latency-monitor') || pOff.fpms.includes('latency-monitor')) throw new Error(`unexpected pipelines ${pOff.fpms} / ${pSampled.fpms}`);
  // The monitor alone on a port whose traffic the kernel forwards (a NAT gateway, or any
  // device the fast path leaves alone): the published reference's setting.
  const kernelRole: DeviceRole = { ...role, l2Bridge: null, l3: { v4: false, v6: false }, epping: true };
  const pKernSampled = load(kernelRole, 100, 4);
  const pKernUnl = load(kernelRole, 0, 5);
  if (pKernSampled.fpms.join() !== 'parse,latency-monitor') throw new Error(`unexpected monitor-only pipeline ${pKernSampled.fpms}`);
  // Per run of each monitored variant: what the monitor did with the frames (timestamps
  // stored, rate-limited, refused because the timestamp map was full).
  const statsFd = pSampled.mapFd('ss_ep_stats');
  type Monitored = 'sampled' | 'unlimited' | 'linux_sampled' | 'linux_unlimited';
  const did: Record<Monitored, Record<string, number>> = { sampled: {}, unlimited: {}, linux_sampled: {}, linux_unlimited: {} };
  const sent: Record<Monitored, number> = { sampled: 0, unlimited: 0, linux_sampled: 0, linux_unlimited: 0 };
  let before: Record<string, number> = {};
  const monitored = (name: Monitored, p: BenchPipeline): Variant => ({
    name,
    prepare: (i) => {
      clearMonitorState(p);
      before = readMonitorCounters(native, statsFd);
      i.setTarget(p.rootFd);
    },
    finish: () => {
      const after = readMonitorCounters(native, statsFd);
      for (const k of DID) did[name][k] = (did[name][k] ?? 0) + ((after[k] ?? 0) - (before[k] ?? 0));
      sent[name] += ctx.frames;
    },
  });
  const variants: Variant[] = [
    { name: 'linux', prepare: (i) => i.setTarget(null) },
    { name: 'off', prepare: (i) => i.setTarget(pOff.rootFd) },
    monitored('sampled', pSampled),
    monitored('unlimited', pUnl),
    monitored('linux_sampled', pKernSampled),
    monitored('linux_unlimited', pKernUnl),
  ];
  const name = kind === 'router' ? `epping-${flows}` : `epping-bridge-${flows}`;
  ctx.log(`${name}: ${EPPING_FRAME}-byte TCP segments with timestamps, ${flows} flow(s), ${kind} pipeline`);
  const res = await interleave(ctx, inj, counter, s.run, variants, `${flows}fl`);
  const lin = mpps(res.get('linux')!);
  const off = mpps(res.get('off')!);
  const sampled = mpps(res.get('sampled')!);
  const unl = mpps(res.get('unlimited')!);
  const linSampled = mpps(res.get('linux_sampled')!);
  const linUnl = mpps(res.get('linux_unlimited')!);
  const costOf = (base: number, on: number): number | null => round(base > 0 ? ((base - on) / base) * 100 : null, 1);
  const cost = (on: number): number | null => costOf(off.median, on);
  const missed = (k: Monitored): number => sent[k] - (did[k].packets ?? 0);
  // The monitor's own time per frame: the same in any pipeline, where the cost in % is not.
  const nsPerFrame = (on: number): number | null => round(on > 0 && off.median > 0 ? 1000 / on - 1000 / off.median : null, 1);
  return {
    scenario: name,
    pipeline: kind,
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
    monitor_ns_sampled: nsPerFrame(sampled.median),
    monitor_ns_unlimited: nsPerFrame(unl.median),
    linux: lin,
    off,
    sampled,
    unlimited: unl,
    monitor_sampled: did.sampled,
    monitor_unlimited: did.unlimited,
    // The monitor in front of the kernel's own forwarding, against the kernel alone.
    linux_monitored_sampled: linSampled,
    linux_monitored_unlimited: linUnl,
    cost_linux_sampled_pct: costOf(lin.median, linSampled.median),
    cost_linux_unlimited_pct: costOf(lin.median, linUnl.median),
    // Every frame injected into a monitored pipeline must have been inspected by the monitor.
    monitor_missed: {
      sampled: missed('sampled'), unlimited: missed('unlimited'),
      linux_sampled: missed('linux_sampled'), linux_unlimited: missed('linux_unlimited'),
    },
    ringbuf_drops: Object.values(did).reduce((n, d) => n + (d.ringbuf_drops ?? 0), 0),
    pipeline_off: pOff.programs.join(' > '),
    pipeline_on: pSampled.programs.join(' > '),
    pipeline_linux_monitored: pKernSampled.programs.join(' > '),
    note: `slipstream_mpps = ${kind} pipeline with epping on (100 ms sampling); reference_mpps = the same pipeline with epping off`,
  };
}
