// The measuring instruments: the live-frames injector (bpf/bench/inject.bpf.c) and the
// far host's delivery counter (bpf/bench/count.bpf.c).
import * as path from 'path';
import { native, sumPerCpuU64, u32, BPF_F_TEST_XDP_LIVE_FRAMES, XDP_FLAGS_DRV_MODE } from '../controller/native';
import type { BpfObject } from '../controller/native';
import { bpfObjectPath } from '../controller/util/paths';

export const BENCH_HDR_MAX = 128;
export const BENCH_FLOWS_MAX = 4096;

export interface InjectorOptions {
  frames: Buffer[]; // one per flow, all the same length
  tsvalOffset?: number; // stamp a fresh TCP TSval at this offset
}

export interface RunContext {
  netns: string; // where the frames enter (the lab router)
  ingressIfindex: number;
  cpu: number;
  batchSize: number;
}

export class Injector {
  private readonly obj: BpfObject;
  readonly progFd: number;
  private readonly targetFd: number;
  readonly frame: Buffer;
  private closed = false;

  constructor(opts: InjectorOptions) {
    const { frames } = opts;
    if (frames.length < 1 || frames.length > BENCH_FLOWS_MAX) throw new RangeError(`1..${BENCH_FLOWS_MAX} flows, not ${frames.length}`);
    const len = frames[0].length;
    if (frames.some((f) => f.length !== len)) throw new Error('all flows need frames of one length');
    const copy = Math.min(BENCH_HDR_MAX, len & ~7);
    this.obj = native.openObject(bpfObjectPath(path.join('bench', 'inject.bpf.o')));
    try {
      this.obj.setRodata({ cfg_flows: frames.length, cfg_copy: copy, cfg_tsval_off: opts.tsvalOffset ?? 0 });
      this.obj.load();
      const fm = this.obj.map('bench_frames').fd;
      frames.forEach((f, k) => {
        const v = Buffer.alloc(BENCH_HDR_MAX);
        f.copy(v, 0, 0, Math.min(BENCH_HDR_MAX, f.length));
        native.mapUpdate(fm, u32(k), v);
      });
      this.progFd = this.obj.program('bench_inject').fd;
      this.targetFd = this.obj.map('bench_target').fd;
    } catch (e) {
      this.obj.close();
      throw e;
    }
    this.frame = frames[0];
  }

  // null: an empty slot, so every frame goes to the kernel (XDP_PASS).
  setTarget(progFd: number | null): void {
    if (progFd === null) {
      try {
        native.progArrayClear(this.targetFd, 0);
      } catch {
        /* already empty */
      }
    } else {
      native.progArraySet(this.targetFd, 0, progFd);
    }
  }

  // Wall-clock nanoseconds of one live-frames run of `repeat` frames.
  async run(ctx: RunContext, repeat: number): Promise<number> {
    const t0 = process.hrtime.bigint();
    await native.testRunAsync(this.progFd, {
      data: this.frame,
      repeat,
      flags: BPF_F_TEST_XDP_LIVE_FRAMES,
      batchSize: ctx.batchSize,
      ingressIfindex: ctx.ingressIfindex,
      cpu: ctx.cpu,
      netns: ctx.netns,
    });
    return Number(process.hrtime.bigint() - t0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.setTarget(null);
    this.obj.close();
  }
}

// Counts the test flow arriving at a host's veth (and drops it there).
export class DeliveryCounter {
  private readonly obj: BpfObject;
  private readonly linkFd: number;
  private readonly mapFd: number;
  private readonly ncpu = native.numPossibleCpus();
  private closed = false;

  constructor(netns: string, ifname: string, proto: 'udp' | 'tcp', dport: number) {
    this.obj = native.openObject(bpfObjectPath(path.join('bench', 'count.bpf.o')));
    try {
      this.obj.setRodata({ cfg_proto: proto === 'tcp' ? 6 : 17, cfg_dport: dport });
      this.obj.load();
      const prog = this.obj.program('bench_counter');
      this.linkFd = native.inNetns(netns, () => {
        const ifindex = native.ifNameToIndex(ifname);
        if (!ifindex) throw new Error(`${ifname} not found in ${netns}`);
        return native.xdpLinkCreate(prog.fd, ifindex, XDP_FLAGS_DRV_MODE);
      });
      this.mapFd = this.obj.map('bench_count').fd;
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }

  packets(): number {
    const v = native.mapLookup(this.mapFd, u32(0));
    if (!v) return 0;
    return Number(sumPerCpuU64(v, this.ncpu, 16)[0]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      native.closeFd(this.linkFd);
    } catch {
      /* gone with its netns */
    }
    this.obj.close();
  }
}

// A loaded program of its own object (references, the drop stage).
export class LoadedProgram {
  readonly obj: BpfObject;
  readonly fd: number;
  constructor(objectRel: string, program: string, setup?: (o: BpfObject) => void) {
    this.obj = native.openObject(bpfObjectPath(objectRel));
    try {
      setup?.(this.obj);
      this.obj.load();
      this.fd = this.obj.program(program).fd;
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }
  map(name: string): number {
    return this.obj.map(name).fd;
  }
  close(): void {
    this.obj.close();
  }
}

// The root program of a device managed by a running daemon: the program its pinned
// bpf_link holds, found through the device's XDP query (native.linkInfo refuses fds from
// objGet on a link pin: those read "anon_inode:bpf-link", not "bpf_link").
export function rootProgFd(netns: string, ifindex: number): number {
  const q = native.inNetns(netns, () => native.xdpQuery(ifindex));
  if (!q.progId) throw new Error(`no XDP program on ifindex ${ifindex} in ${netns}`);
  return native.progFdById(q.progId);
}

export interface Sample {
  delivered: number;
  wallNs: number;
  mpps: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// One measured run: frames injected, frames delivered at the far host, Mpps over wall time.
export async function measureOnce(inj: Injector, counter: DeliveryCounter | null, ctx: RunContext, repeat: number): Promise<Sample> {
  const before = counter ? counter.packets() : 0;
  const wallNs = await inj.run(ctx, repeat);
  await sleep(30);
  const delivered = counter ? counter.packets() - before : repeat;
  return { delivered, wallNs, mpps: delivered / (wallNs / 1e3) };
}
