import type { BpfObject, NativeAddon } from '../native/types';
import type { XdpMode } from '../daemon/view';
import { bpfObjectPath } from '../util/paths';
import type { Generation } from './generation';
import type { PinLayout } from './pins';
import type { SharedMaps } from './shared-maps';

const XDP_FLAGS_SKB_MODE = 1 << 1;
const XDP_FLAGS_DRV_MODE = 1 << 2;
const ROOT_OBJECT = 'xdp_root.bpf.o';
const ROOT_PROGRAM = 'ss_root';

export type ModePreference = 'auto' | 'native' | 'generic';

// The persistent part of one device's fast path: the root dispatcher, attached through a
// bpf_link, and its one-entry slot. A generation swap is one update of that slot.
export class DevicePipeline {
  current: Generation | null = null;
  mode: XdpMode = 'none';
  rootProgId = 0;

  private constructor(
    private readonly native: NativeAddon,
    private readonly pins: PinLayout,
    readonly ifname: string,
    readonly ifindex: number,
    readonly devSlot: number,
    private readonly linkFd: number,
    private readonly rootSlotFd: number,
    private readonly rootObj: BpfObject | null,
  ) {}

  static attach(
    native: NativeAddon,
    pins: PinLayout,
    shared: SharedMaps,
    ifname: string,
    ifindex: number,
    devSlot: number,
    pref: ModePreference,
  ): DevicePipeline {
    const q = native.xdpQuery(ifindex);
    if (q.progId !== 0) throw new Error(`${ifname} already has XDP program ${q.progId} attached by someone else`);
    const obj = native.openObject(bpfObjectPath(ROOT_OBJECT));
    let linkFd = -1;
    try {
      obj.setRodata({ ss_dev_slot: devSlot });
      const creates = shared.prepare(obj);
      obj.load();
      shared.register(obj, creates);
      const prog = obj.program(ROOT_PROGRAM);
      const slot = obj.map('ss_root_slot');
      const tries: Array<[XdpMode, number]> =
        pref === 'native' ? [['native', XDP_FLAGS_DRV_MODE]]
        : pref === 'generic' ? [['generic', XDP_FLAGS_SKB_MODE]]
        : [['native', XDP_FLAGS_DRV_MODE], ['generic', XDP_FLAGS_SKB_MODE]];
      let mode: XdpMode = 'none';
      let lastErr: Error | null = null;
      for (const [m, flags] of tries) {
        try {
          linkFd = native.xdpLinkCreate(prog.fd, ifindex, flags);
          mode = m;
          break;
        } catch (e) {
          lastErr = e as Error;
        }
      }
      if (linkFd < 0) throw new Error(`cannot attach XDP to ${ifname}: ${lastErr?.message ?? 'unknown error'}`);
      pins.ensureDir(pins.devDir(ifindex));
      native.unpin(pins.link(ifindex));
      native.unpin(pins.rootSlot(ifindex));
      native.pin(linkFd, pins.link(ifindex));
      native.pin(slot.fd, pins.rootSlot(ifindex));
      const dev = new DevicePipeline(native, pins, ifname, ifindex, devSlot, linkFd, native.dupFd(slot.fd), obj);
      dev.mode = mode;
      dev.rootProgId = prog.id;
      return dev;
    } catch (e) {
      if (linkFd >= 0) native.closeFd(linkFd);
      obj.close();
      throw e;
    }
  }

  // Take over a device an earlier daemon left pinned, without a gap in forwarding.
  static adopt(native: NativeAddon, pins: PinLayout, ifname: string, ifindex: number, devSlot: number): DevicePipeline | null {
    let linkFd = -1;
    let slotFd = -1;
    try {
      linkFd = native.objGet(pins.link(ifindex));
      const info = native.linkInfo(linkFd);
      const q = native.xdpQuery(ifindex);
      if (info.ifindex !== ifindex || q.progId !== info.progId) throw new Error('stale pin');
      slotFd = native.objGet(pins.rootSlot(ifindex));
      const dev = new DevicePipeline(native, pins, ifname, ifindex, devSlot, linkFd, slotFd, null);
      dev.mode = q.mode === 'generic' ? 'generic' : 'native';
      dev.rootProgId = info.progId;
      return dev;
    } catch {
      if (linkFd >= 0) native.closeFd(linkFd);
      if (slotFd >= 0) native.closeFd(slotFd);
      return null;
    }
  }

  // The atomic step: one map update makes every new packet enter the new generation.
  swap(next: Generation): Generation | null {
    this.native.progArraySet(this.rootSlotFd, 0, next.entryProgFd);
    this.native.pin(next.chainFd, this.pins.generation(this.ifindex, next.id));
    const old = this.current;
    this.current = next;
    if (old) {
      this.native.unpin(this.pins.generation(this.ifindex, old.id));
    }
    return old;
  }

  // Detach and forget: the kernel alone handles this device afterwards.
  detach(): void {
    try {
      this.native.progArrayClear(this.rootSlotFd, 0);
    } catch {
      /* slot already empty */
    }
    try {
      this.native.linkDetach(this.linkFd);
    } catch {
      /* link already gone with its device */
    }
    this.release(true);
  }

  // Keep everything attached and pinned for the next daemon.
  release(unpin: boolean): void {
    if (unpin) this.pins.removeDevDir(this.ifindex);
    this.current?.close();
    this.current = null;
    this.native.closeFd(this.linkFd);
    this.native.closeFd(this.rootSlotFd);
    this.rootObj?.close();
  }
}
