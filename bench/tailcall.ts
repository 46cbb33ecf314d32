// Cost of one tail-call hop: chains of 0..8 nop FPMs (the real fpm/nop.bpf.o with the
// real ss_next and shared maps) in front of an XDP_DROP, each with its own ss_chain.
// The slope of ns per frame over the chain length is the cost of a hop.
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../controller/native';
import type { BpfObject } from '../controller/native';
import { PinLayout } from '../controller/deployer/pins';
import { SharedMaps } from '../controller/deployer/shared-maps';
import { SS_MAX_CHAIN, SS_SLOT_NONE } from '../controller/deployer/layout';
import { bpfObjectPath } from '../controller/util/paths';
import { Lab } from '../test/lab';
import type { BenchContext, ScenarioResult } from './context';
import { buildFrame } from './frames';
import { interleave, type Variant } from './interleave';
import { Injector, LoadedProgram } from './probe';
import { BENCH_DEV_SLOT } from './pipeline';
import { linearFit, median, round } from './stats';

const BENCH_BPFFS = '/sys/fs/bpf/slipstream-bench';
const BPF_MAP_TYPE_PROG_ARRAY = 3;

class NopChain {
  private readonly objs: BpfObject[] = [];
  readonly chainFd: number;
  readonly headFd: number;
  constructor(shared: SharedMaps, hops: number, drop: LoadedProgram) {
    this.chainFd = native.mapCreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, SS_MAX_CHAIN, 'ss_chain');
    try {
      for (let i = 0; i < hops; i++) {
        const o = native.openObject(bpfObjectPath(path.join('fpm', 'nop.bpf.o')));
        this.objs.push(o);
        o.setRodata({ ss_dev_slot: BENCH_DEV_SLOT, ss_next_slot: i + 1 < SS_MAX_CHAIN ? i + 1 : SS_SLOT_NONE });
        o.reuseMap('ss_chain', this.chainFd);
        const creates = shared.prepare(o);
        o.load();
        shared.register(o, creates);
        native.progArraySet(this.chainFd, i, o.program('ss_fpm_nop').fd);
      }
      native.progArraySet(this.chainFd, hops, drop.fd);
    } catch (e) {
      this.close();
      throw e;
    }
    this.headFd = hops === 0 ? drop.fd : this.objs[0].program('ss_fpm_nop').fd;
  }
  close(): void {
    for (const o of this.objs) o.close();
    try {
      native.closeFd(this.chainFd);
    } catch {
      /* closed */
    }
  }
}

export async function runTailcallHops(ctx: BenchContext): Promise<ScenarioResult> {
  const lab = new Lab();
  ctx.defer(() => lab.destroy());
  const ns = lab.addNamespace('hops');
  const pins = new PinLayout(BENCH_BPFFS, ns);
  ctx.defer(() => {
    fs.rmSync(pins.base, { recursive: true, force: true });
    try {
      fs.rmdirSync(BENCH_BPFFS); // only when no other bench still uses it
    } catch {
      /* not empty, or already gone */
    }
  });
  const shared = new SharedMaps(native, pins);
  ctx.defer(() => shared.closeAll(true));
  const drop = new LoadedProgram(path.join('bench', 'drop.bpf.o'), 'bench_drop');
  ctx.defer(() => drop.close());
  const depths = ctx.quick ? [0, 1, 4, 8] : [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const chains = depths.map((n) => {
    const c = new NopChain(shared, n, drop);
    ctx.defer(() => c.close());
    return c;
  });
  const frame = buildFrame({ srcMac: '02:be:00:00:00:01', dstMac: '02:be:00:00:00:02', src: '198.18.0.1', dst: '198.18.0.2', sport: 10000, dport: 9000, proto: 'udp', length: 64 });
  const inj = new Injector({ frames: [frame] });
  ctx.defer(() => inj.close());
  const variants: Variant[] = depths.map((n, i) => ({ name: String(n), prepare: (j) => j.setTarget(chains[i].headFd) }));
  ctx.log(`tailcall-hops: chains of ${depths.join(', ')} nop FPMs before XDP_DROP`);
  // Frames are cheap here (no forwarding): longer runs for a steadier slope.
  const hctx = { ...ctx, frames: ctx.quick ? ctx.frames : ctx.frames * 3 };
  const res = await interleave(hctx, inj, null, { netns: ns, ingressIfindex: 1, cpu: ctx.cpu, batchSize: ctx.batchSize }, variants, 'hops');
  const nsPerFrame = depths.map((n) => median(res.get(String(n))!.map((s) => s.wallNs / hctx.frames)));
  const mpps = depths.map((n) => median(res.get(String(n))!.map((s) => s.mpps)));
  const fit = linearFit(depths, nsPerFrame);
  return {
    scenario: 'tailcall-hops',
    linux_mpps: null,
    slipstream_mpps: round(mpps[depths.indexOf(1)] ?? null, 4),
    reference_mpps: round(mpps[0], 4),
    speedup_vs_linux: null,
    fraction_of_reference: round(mpps[depths.indexOf(1)] / mpps[0], 3),
    runs: ctx.reps,
    ns_per_hop: round(fit.slope, 2),
    intercept_ns: round(fit.intercept, 2),
    r2: round(fit.r2, 4),
    points: depths.map((n, i) => ({ hops: n, ns_per_frame: round(nsPerFrame[i], 2), mpps: round(mpps[i], 4) })),
    note: 'slipstream_mpps = 1 nop hop before the drop, reference_mpps = the injector straight into the drop',
  };
}
