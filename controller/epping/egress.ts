// The optional tc egress companion (config epping.egress_tc): one program, shared with the
// FPM's maps, attached to the egress of every monitored device, so the box's own packets
// are timestamped and their replies matched by the FPM.
import path from 'node:path';
import type { BpfObject, NativeAddon, TcAttachment } from '../native/types';

export const EGRESS_OBJECT = 'epping_tc.bpf.o'; // relative to build/bpf
export const EGRESS_PROGRAM = 'ss_epping_egress';

// What the deployer's SharedMaps offers: reuse existing maps before load, register new ones after.
export interface MapRegistry {
  prepare(obj: BpfObject): string[];
  register(obj: BpfObject, names: string[]): void;
}

export class EppingEgress {
  private attached = new Map<number, TcAttachment>();

  private constructor(
    private readonly native: NativeAddon,
    private readonly obj: BpfObject,
    readonly progFd: number,
  ) {}

  // knobs: eppingKnobs(cfg); sizes: eppingMapSizes(cfg), the same the FPM objects got.
  static load(
    native: NativeAddon,
    bpfBuildDir: string,
    shared: MapRegistry,
    knobs: Record<string, number | boolean>,
    sizes: Record<string, number>,
  ): EppingEgress {
    const obj = native.openObject(path.join(bpfBuildDir, EGRESS_OBJECT));
    try {
      obj.setRodata(knobs);
      for (const [m, n] of Object.entries(sizes)) obj.setMaxEntries(m, n);
      const creates = shared.prepare(obj);
      obj.load();
      shared.register(obj, creates);
      return new EppingEgress(native, obj, obj.program(EGRESS_PROGRAM).fd);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  attach(ifindex: number): TcAttachment {
    const have = this.attached.get(ifindex);
    if (have) return have;
    const att = this.native.tcAttachEgress(ifindex, this.progFd);
    this.attached.set(ifindex, att);
    return att;
  }

  detach(ifindex: number): void {
    const att = this.attached.get(ifindex);
    if (!att) return;
    this.attached.delete(ifindex);
    this.native.tcDetach(att);
  }

  get devices(): number[] {
    return [...this.attached.keys()];
  }

  close(): void {
    for (const ifindex of [...this.attached.keys()]) {
      try {
        this.detach(ifindex);
      } catch {
        /* the device went away */
      }
    }
    this.obj.close();
  }
}
