// Forwarding capacity on one core: Linux (XDP_PASS into the kernel) vs the slipstream
// pipeline (the daemon's own root program, heartbeat check included) vs a hand-written
// reference program, for the bridge, the router (IPv4, IPv6) and the gateway lab.
import * as path from 'path';
import { Lab, bridgeLab, gatewayLab, routerLab } from '../test/lab';
import { macBytes } from '../test/lab/frames';
import { startDaemon, type DaemonHandle } from '../test/harness/daemon';
import { native, u32 } from '../controller/native';
import type { DeviceStats } from '../controller/daemon/view';
import type { BenchContext, ScenarioResult } from './context';
import { benchMac, buildFrame, flowSet, type FlowSpec, type FlowVariation } from './frames';
import { interleave, type Variant } from './interleave';
import { DeliveryCounter, Injector, LoadedProgram, rootProgFd, type RunContext, type Sample } from './probe';
import { median, ratio, round, spread, type Spread } from './stats';

export const BPFFS_ROOT = '/sys/fs/bpf/slipstream';
export const BENCH_DPORT = 9000;

export interface FwdCase {
  frameSize: number;
  flows: number;
}

export function forwardingCases(quick: boolean, sizes = true): FwdCase[] {
  if (quick) return [{ frameSize: 64, flows: 1 }];
  const c: FwdCase[] = [];
  if (sizes) for (const s of [64, 512, 1500]) c.push({ frameSize: s, flows: 1 });
  else c.push({ frameSize: 64, flows: 1 });
  c.push({ frameSize: 64, flows: 100 }, { frameSize: 64, flows: 1000 });
  return c;
}

// Everything a forwarding scenario needs once its lab and daemon run.
export interface FwdSetup {
  run: RunContext;
  counterNs: string;
  counterIf: string;
  base: FlowSpec;
  vary: FlowVariation;
  slipstreamFd: number;
  reference: LoadedProgram | null;
  daemon: DaemonHandle;
  ingressIfname: string;
  egressIfnames: string[];
  bridge?: string; // the accelerated bridge the ingress port belongs to (bridge scenarios)
}

export const daemonConfig = { heartbeat: { interval_ms: 200, timeout_ms: 5000 } };

async function waitPipeline(d: DaemonHandle, ifname: string, fpm: string, timeoutMs = 20000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const p = await d.get<{ pipelines: Array<{ ifname: string; fpms: string[] }> }>('/v1/pipelines');
    const mine = p.pipelines.find((x) => x.ifname === ifname);
    if (mine?.fpms.includes(fpm)) return mine.fpms;
    if (Date.now() > end) throw new Error(`no ${fpm} pipeline on ${ifname}: ${JSON.stringify(p.pipelines)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startBenchDaemon(ctx: BenchContext, netns: string, ingress: string, fpm: string, extra: Record<string, unknown> = {}): Promise<{ d: DaemonHandle; fpms: string[] }> {
  const d = await startDaemon({ netns, config: { ...daemonConfig, ...extra } });
  ctx.defer(() => d.stop());
  const fpms = await waitPipeline(d, ingress, fpm);
  return { d, fpms };
}

export async function devStats(d: DaemonHandle): Promise<Map<string, DeviceStats>> {
  const s = await d.get<{ devices: DeviceStats[] }>('/v1/stats');
  return new Map(s.devices.map((x) => [x.ifname, x]));
}

function refMacKey(mac: string): Buffer {
  return Buffer.concat([macBytes(mac), Buffer.alloc(2)]);
}

function batch(lab: Lab, ns: string, tool: 'ip' | 'bridge', lines: string[]): void {
  if (lines.length) lab.exec(ns, [tool, '-force', '-batch', '-'], lines.join('\n') + '\n');
}

export async function setupBridge(ctx: BenchContext, lab: Lab, maxFlows: number, daemonExtra: Record<string, unknown> = {}): Promise<FwdSetup> {
  const topo = bridgeLab(lab, { hosts: 2 });
  const [h1, h2] = topo.hosts;
  const [p1, p2] = topo.ports;
  const srcMac = (k: number): string => (k === 0 ? h1.mac : benchMac(1, k));
  const fdb = [`fdb replace ${h2.mac} dev ${p2.ifname} master static`];
  for (let k = 0; k < maxFlows; k++) fdb.push(`fdb replace ${srcMac(k)} dev ${p1.ifname} master static`);
  batch(lab, topo.sw, 'bridge', fdb);
  const ref = new LoadedProgram(path.join('ref', 'ref_l2.bpf.o'), 'ref_l2');
  ctx.defer(() => ref.close());
  native.mapUpdate(ref.map('ref_l2_fdb'), refMacKey(h2.mac), u32(p2.ifindex));
  native.inNetns(topo.sw, () => native.devmapSet(ref.map('ref_l2_tx'), p2.ifindex, p2.ifindex));
  const { d } = await startBenchDaemon(ctx, topo.sw, p1.ifname, 'l2-bridge', daemonExtra);
  const fd = rootProgFd(topo.sw, p1.ifindex);
  ctx.defer(() => native.closeFd(fd));
  return {
    run: { netns: topo.sw, ingressIfindex: p1.ifindex, cpu: ctx.cpu, batchSize: ctx.batchSize },
    counterNs: h2.ns,
    counterIf: 'eth0',
    base: { srcMac: h1.mac, dstMac: h2.mac, src: h1.ip4, dst: h2.ip4, sport: 10000, dport: BENCH_DPORT, proto: 'udp', length: 64 },
    vary: { srcMac, src: (k) => (k === 0 ? h1.ip4 : `198.18.1.${100 + (k % 100)}`), sport: (k) => 10000 + k },
    slipstreamFd: fd,
    reference: ref,
    daemon: d,
    ingressIfname: p1.ifname,
    egressIfnames: [p2.ifname],
    bridge: topo.bridge.ifname,
  };
}

export async function setupRouter(ctx: BenchContext, lab: Lab, family: 4 | 6, daemonExtra: Record<string, unknown> = {}): Promise<FwdSetup> {
  const topo = routerLab(lab);
  const { hostA: a, hostB: b, portA, portB, router } = topo;
  lab.exec(router, ['ip', 'neigh', 'replace', b.ip4, 'lladdr', b.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  lab.exec(router, ['ip', '-6', 'neigh', 'replace', b.ip6, 'lladdr', b.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  const ref = new LoadedProgram(path.join('ref', 'ref_fib.bpf.o'), 'ref_fib');
  ctx.defer(() => ref.close());
  native.inNetns(router, () => native.devmapSet(ref.map('ref_fib_tx'), portB.ifindex, portB.ifindex));
  const { d } = await startBenchDaemon(ctx, router, portA.ifname, 'l3-router', daemonExtra);
  const fd = rootProgFd(router, portA.ifindex);
  ctx.defer(() => native.closeFd(fd));
  const v4 = family === 4;
  return {
    run: { netns: router, ingressIfindex: portA.ifindex, cpu: ctx.cpu, batchSize: ctx.batchSize },
    counterNs: b.ns,
    counterIf: 'eth0',
    base: { srcMac: a.mac, dstMac: portA.mac, src: v4 ? a.ip4 : a.ip6, dst: v4 ? b.ip4 : b.ip6, sport: 10000, dport: BENCH_DPORT, proto: 'udp', length: 64 },
    vary: {
      src: (k) => (k === 0 ? (v4 ? a.ip4 : a.ip6) : v4 ? `198.18.1.${100 + (k % 100)}` : `2001:2:0:1::${(0x100 + (k % 100)).toString(16)}`),
      sport: (k) => 10000 + k,
    },
    slipstreamFd: fd,
    reference: ref,
    daemon: d,
    ingressIfname: portA.ifname,
    egressIfnames: [portB.ifname],
  };
}

export async function setupGateway(ctx: BenchContext, lab: Lab): Promise<FwdSetup> {
  const topo = gatewayLab(lab, { lanHosts: 2 }); // the bridge is accelerated (and its FDB mirrored) only with 2+ ports
  const { gw, wan, wanHost, lanHosts, lanPorts } = topo;
  const l1 = lanHosts[0];
  const lan1 = lanPorts[0];
  lab.exec(gw, ['ip', 'neigh', 'replace', l1.ip4, 'lladdr', l1.mac, 'dev', 'br0', 'nud', 'permanent']);
  lab.exec(gw, ['bridge', 'fdb', 'replace', l1.mac, 'dev', lan1.ifname, 'master', 'static']);
  const ref = new LoadedProgram(path.join('bench', 'ref_gw.bpf.o'), 'ref_gw');
  ctx.defer(() => ref.close());
  native.mapUpdate(ref.map('ref_gw_port'), refMacKey(l1.mac), u32(lan1.ifindex));
  native.inNetns(gw, () => native.devmapSet(ref.map('ref_gw_tx'), lan1.ifindex, lan1.ifindex));
  const { d } = await startBenchDaemon(ctx, gw, wan.ifname, 'l3-router');
  const fd = rootProgFd(gw, wan.ifindex);
  ctx.defer(() => native.closeFd(fd));
  return {
    run: { netns: gw, ingressIfindex: wan.ifindex, cpu: ctx.cpu, batchSize: ctx.batchSize },
    counterNs: l1.ns,
    counterIf: 'eth0',
    base: { srcMac: wanHost.mac, dstMac: wan.mac, src: wanHost.ip4, dst: l1.ip4, sport: 10000, dport: BENCH_DPORT, proto: 'udp', length: 64 },
    vary: { src: (k) => (k === 0 ? wanHost.ip4 : `198.18.20.${100 + (k % 100)}`), sport: (k) => 10000 + k },
    slipstreamFd: fd,
    reference: ref,
    daemon: d,
    ingressIfname: wan.ifname,
    egressIfnames: [lan1.ifname],
  };
}

export interface CaseResult {
  frame_size: number;
  flows: number;
  linux_mpps: number | null;
  slipstream_mpps: number | null;
  reference_mpps: number | null;
  speedup_vs_linux: number | null;
  fraction_of_reference: number | null;
  linux: Spread;
  slipstream: Spread;
  reference: Spread | null;
  slipstream_delivered_fraction: number; // delivered / injected, median; < 1 means the pipeline passed or lost frames
  slipstream_pass_reasons: Record<string, number>;
}

function mppsSpread(s: Sample[]): Spread {
  const sp = spread(s.map((x) => x.mpps));
  return { median: round(sp.median, 4)!, min: round(sp.min, 4)!, max: round(sp.max, 4)!, samples: sp.samples.map((x) => round(x, 4)!) };
}

function reasonDelta(a: Map<string, DeviceStats>, b: Map<string, DeviceStats>, devs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const dev of devs) {
    const x = a.get(dev);
    const y = b.get(dev);
    if (!y) continue;
    for (const [r, n] of Object.entries(y.pass_reasons)) {
      const dn = n - (x?.pass_reasons[r] ?? 0);
      if (dn) out[r] = (out[r] ?? 0) + dn;
    }
  }
  return out;
}

// One case (frame size × flows) of a forwarding scenario, all variants interleaved.
export async function runCase(ctx: BenchContext, s: FwdSetup, c: FwdCase, counter: DeliveryCounter): Promise<CaseResult> {
  const flows = flowSet({ ...s.base, length: c.frameSize }, c.flows, s.vary).map(buildFrame);
  const inj = new Injector({ frames: flows });
  try {
    const variants: Variant[] = [
      { name: 'linux', prepare: (i) => i.setTarget(null) },
      { name: 'slipstream', prepare: (i) => i.setTarget(s.slipstreamFd) },
    ];
    if (s.reference) {
      const ref = s.reference;
      variants.push({ name: 'reference', prepare: (i) => i.setTarget(ref.fd) });
    }
    const before = await devStats(s.daemon);
    const res = await interleave(ctx, inj, counter, s.run, variants, `${c.frameSize}B/${c.flows}fl`);
    const after = await devStats(s.daemon);
    const lin = mppsSpread(res.get('linux')!);
    const ss = mppsSpread(res.get('slipstream')!);
    const ref = res.has('reference') ? mppsSpread(res.get('reference')!) : null;
    const delivered = median(res.get('slipstream')!.map((x) => x.delivered / ctx.frames));
    const reasons = reasonDelta(before, after, [s.ingressIfname]);
    if (delivered < 0.95) ctx.log(`  warning: slipstream delivered only ${(delivered * 100).toFixed(1)}% (pass reasons ${JSON.stringify(reasons)})`);
    return {
      frame_size: c.frameSize,
      flows: c.flows,
      linux_mpps: lin.median,
      slipstream_mpps: ss.median,
      reference_mpps: ref?.median ?? null,
      speedup_vs_linux: round(ratio(ss.median, lin.median), 3),
      fraction_of_reference: round(ratio(ss.median, ref?.median ?? null), 3),
      linux: lin,
      slipstream: ss,
      reference: ref,
      slipstream_delivered_fraction: round(delivered, 4)!,
      slipstream_pass_reasons: reasons,
    };
  } finally {
    inj.close();
  }
}

export async function runForwarding(ctx: BenchContext, name: string, setup: (lab: Lab, maxFlows: number) => Promise<FwdSetup>, cases: FwdCase[], extra: Record<string, unknown> = {}): Promise<ScenarioResult> {
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  const maxFlows = Math.max(...cases.map((c) => c.flows));
  const s = await setup(lab, maxFlows);
  const counter = new DeliveryCounter(s.counterNs, s.counterIf, s.base.proto, s.base.dport);
  ctx.defer(() => counter.close());
  const out: CaseResult[] = [];
  for (const c of cases) {
    ctx.log(`${name}: ${c.frameSize}-byte frames, ${c.flows} flow(s)`);
    out.push(await runCase(ctx, s, c, counter));
  }
  const head = out[0];
  return {
    scenario: name,
    linux_mpps: head.linux_mpps,
    slipstream_mpps: head.slipstream_mpps,
    reference_mpps: head.reference_mpps,
    speedup_vs_linux: head.speedup_vs_linux,
    fraction_of_reference: head.fraction_of_reference,
    runs: ctx.reps,
    frame_size: head.frame_size,
    flows: head.flows,
    frames_per_run: ctx.frames,
    cases: out,
    ...extra,
  };
}
