import * as fs from 'fs';
import * as path from 'path';
import { EventEmitter } from 'events';
import type { NativeAddon } from '../native/types';
import type { FpmManifest } from '../assembler/manifest';
import type { PipelinePlan } from '../assembler/plan';
import type { DeviceStats, PipelineView } from '../daemon/view';
import { bpfObjectPath } from '../util/paths';
import { DatapathSync, type DpDevice, type DpFdb } from './datapath';
import { LocalAddressSync } from './local-addrs';
import { XfrmSelectorSync, type XfrmSelectors } from './xfrm-selectors';
import { DevicePipeline, type ModePreference } from './device';
import { fdbUseMessage } from './fdb-refresh';
import { mergeMarks, NH_MARKS_SIZE, neighUseMessage, usedNextHops, type NeighbourEntry } from './neigh-refresh';
import { Generation, LoadError } from './generation';
import { encodeHeartbeat, SS_MAX_DEVS, u32Key } from './layout';
import { PinLayout } from './pins';
import { SharedMaps } from './shared-maps';
import { deviceStats, readDeviceCounters, zeroDeviceCounters } from './stats';

export interface DeployerOptions {
  native: NativeAddon;
  manifests: Map<string, FpmManifest>;
  bpffsRoot: string;
  netns: string | null;
  mode: ModePreference;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  fdbRefreshMs: number;
  // Max entries for maps whose size comes from config (e.g. the latency monitor's tables).
  mapSizes?: () => Record<string, number>;
  // Sends raw rtnetlink requests (FDB refresh); null disables the refresh.
  sendNetlink: ((msg: Buffer) => void) | null;
  // The kernel's neighbour table, for the next-hop refresh; absent, next hops are not refreshed.
  neighbours?: () => Iterable<NeighbourEntry>;
}

export interface SwapEvent {
  device: string;
  generation: number;
  latencyMs: number | null;
  fpms: string[];
}

export interface DeployError {
  device: string;
  message: string;
  detail?: string;
}

const CORE_MAPS = [
  'ss_devs', 'ss_tx_ports', 'ss_fdb', 'ss_mirror_gen', 'ss_local_v4', 'ss_local_v4_bf', 'ss_nh_used', 'ss_xfrm_v4', 'ss_xfrm_v6',
  'ss_stats', 'ss_heartbeat', 'ss_scratch',
];

// Turns plans into live pipelines, one generation at a time, and keeps map data in step.
// Events: 'swap' (SwapEvent), 'error' (DeployError), 'detach' ({device}).
export class Deployer extends EventEmitter {
  readonly pins: PinLayout;
  readonly shared: SharedMaps;
  private readonly native: NativeAddon;
  private devices = new Map<number, DevicePipeline>(); // by ifindex
  private slots = new Map<number, number>(); // ifindex -> dev slot
  private sync!: DatapathSync;
  private localV4!: LocalAddressSync;
  private xfrmV4!: XfrmSelectorSync;
  private xfrmV6!: XfrmSelectorSync;
  private generation = 0;
  private hbTimer: NodeJS.Timeout | null = null;
  private fdbTimer: NodeJS.Timeout | null = null;
  private lastRefreshNs = 0n;
  private seq = 1;

  constructor(private readonly opts: DeployerOptions) {
    super();
    this.native = opts.native;
    this.pins = new PinLayout(opts.bpffsRoot, opts.netns);
    this.shared = new SharedMaps(opts.native, this.pins);
  }

  get currentGeneration(): number {
    return this.generation;
  }

  // Adopt what an earlier daemon pinned, create the shared maps, start the heartbeat.
  init(ifnameOf: (ifindex: number) => string | undefined): { adopted: string[] } {
    this.pins.ensureDir(this.pins.base);
    this.shared.adopt();
    if (CORE_MAPS.some((m) => this.shared.fd(m) === undefined)) this.createSharedMaps();
    this.beat();
    const adopted: string[] = [];
    for (const ifindex of this.pins.pinnedDevices()) {
      const ifname = ifnameOf(ifindex);
      const slot = this.pinnedSlot(ifindex);
      const dev = ifname !== undefined && slot !== null ? DevicePipeline.adopt(this.native, this.pins, ifname, ifindex, slot) : null;
      if (!dev) {
        this.pins.removeDevDir(ifindex);
        continue;
      }
      const gens = this.pins.pinnedGenerations(ifindex);
      const last = gens.pop();
      for (const g of gens) this.native.unpin(this.pins.generation(ifindex, g));
      if (last !== undefined) {
        dev.current = Generation.adopted(this.native, last, dev.ifname, ifindex, this.native.objGet(this.pins.generation(ifindex, last)));
        this.generation = Math.max(this.generation, last);
      }
      this.devices.set(ifindex, dev);
      this.slots.set(ifindex, slot!);
      adopted.push(dev.ifname);
    }
    this.sync = new DatapathSync(this.native, {
      devs: this.shared.fd('ss_devs')!,
      txPorts: this.shared.fd('ss_tx_ports')!,
      fdb: this.shared.fd('ss_fdb')!,
      mirrorGen: this.shared.fd('ss_mirror_gen')!,
    });
    this.localV4 = new LocalAddressSync(this.native, this.shared.fd('ss_local_v4')!, this.shared.fd('ss_local_v4_bf')!);
    this.xfrmV4 = new XfrmSelectorSync(this.native, this.shared.fd('ss_xfrm_v4')!);
    this.xfrmV6 = new XfrmSelectorSync(this.native, this.shared.fd('ss_xfrm_v6')!);
    this.hbTimer = setInterval(() => this.beat(), this.opts.heartbeatIntervalMs);
    this.hbTimer.unref();
    if (this.opts.sendNetlink && this.opts.fdbRefreshMs > 0) {
      this.lastRefreshNs = process.hrtime.bigint();
      this.fdbTimer = setInterval(() => this.refreshFdb(), this.opts.fdbRefreshMs);
      this.fdbTimer.unref();
    }
    return { adopted };
  }

  private createSharedMaps(): void {
    // The root object declares every shared map (it includes ss_maps.h); loading it once
    // without attaching creates them with exactly the C layouts.
    const obj = this.native.openObject(bpfObjectPath('xdp_root.bpf.o'));
    try {
      const creates = this.shared.prepare(obj);
      obj.load();
      this.shared.register(obj, creates);
    } finally {
      obj.close();
    }
  }

  // Written every interval; the root fails open when it is older than the timeout.
  beat(): void {
    const fd = this.shared.fd('ss_heartbeat');
    if (fd === undefined) return;
    const timeout = BigInt(this.opts.heartbeatTimeoutMs) * 1_000_000n;
    this.native.mapUpdate(fd, u32Key(0), encodeHeartbeat(process.hrtime.bigint(), timeout));
  }

  heartbeatAgeSeconds(): number | null {
    const fd = this.shared.fd('ss_heartbeat');
    if (fd === undefined) return null;
    const v = this.native.mapLookup(fd, u32Key(0));
    if (!v) return null;
    return Number(process.hrtime.bigint() - v.readBigUInt64LE(0)) / 1e9;
  }

  // localV4: the box's IPv4 addresses for l3-router's source check (see local-addrs.ts).
  syncData(devices: DpDevice[], fdb: DpFdb[], localV4: Set<string>, xfrm: XfrmSelectors = { v4: new Map(), v6: new Map() }): void {
    this.localV4.add(localV4);
    this.xfrmV4.apply(xfrm.v4);
    this.xfrmV6.apply(xfrm.v6);
    this.sync.apply(devices, fdb);
    this.localV4.removeExcept(localV4);
  }

  // Bring every device to its plan. Devices without a plan lose their pipeline.
  apply(plans: Map<string, PipelinePlan>, firstEventAt: bigint | null): void {
    const wanted = new Map<number, PipelinePlan>();
    for (const p of plans.values()) wanted.set(p.ifindex, p);
    for (const [ifindex, dev] of [...this.devices]) {
      const p = wanted.get(ifindex);
      if (!p || p.ifname !== dev.ifname) this.detachDevice(ifindex);
    }
    for (const plan of wanted.values()) {
      try {
        this.applyOne(plan, firstEventAt);
      } catch (e) {
        const le = e as LoadError;
        // A device that never got a working generation goes back to the kernel entirely.
        if (this.devices.get(plan.ifindex)?.current === null) this.detachDevice(plan.ifindex);
        this.emit('error', { device: plan.ifname, message: le.message, detail: le.verifierLog } satisfies DeployError);
      }
    }
  }

  private applyOne(plan: PipelinePlan, firstEventAt: bigint | null): void {
    let dev = this.devices.get(plan.ifindex);
    if (dev?.current && dev.current.plan.key === plan.key) return;
    if (!dev) {
      const slot = this.allocSlot(plan.ifindex);
      dev = DevicePipeline.attach(this.native, this.pins, this.shared, plan.ifname, plan.ifindex, slot, this.opts.mode);
      this.devices.set(plan.ifindex, dev);
      this.markSlot(plan.ifindex, slot);
    }
    // Load the whole new generation first; the running one is untouched if this throws.
    const next = Generation.load(this.native, this.generation + 1, plan, dev.devSlot, this.opts.manifests, this.shared, this.opts.mapSizes?.() ?? {});
    this.generation = next.id;
    const old = dev.swap(next);
    old?.close();
    const latencyMs = firstEventAt === null ? null : Number(process.hrtime.bigint() - firstEventAt) / 1e6;
    this.emit('swap', { device: plan.ifname, generation: next.id, latencyMs, fpms: next.fpmNames } satisfies SwapEvent);
  }

  detachDevice(ifindex: number): void {
    const dev = this.devices.get(ifindex);
    if (!dev) return;
    dev.detach();
    this.devices.delete(ifindex);
    this.slots.delete(ifindex);
    this.emit('detach', { device: dev.ifname });
  }

  private allocSlot(ifindex: number): number {
    const used = new Set(this.slots.values());
    for (let s = 0; s < SS_MAX_DEVS; s++) {
      if (!used.has(s)) {
        this.slots.set(ifindex, s);
        zeroDeviceCounters(this.native, this.shared.fd('ss_stats')!, s);
        return s;
      }
    }
    throw new Error(`more than ${SS_MAX_DEVS} managed devices`);
  }

  // The slot is recorded in the pin tree itself, so a restarted daemon finds it.
  private markSlot(ifindex: number, slot: number): void {
    fs.mkdirSync(path.join(this.pins.devDir(ifindex), `slot-${slot}`), { recursive: true });
  }

  private pinnedSlot(ifindex: number): number | null {
    try {
      const m = fs.readdirSync(this.pins.devDir(ifindex)).map((f) => /^slot-(\d+)$/.exec(f)).find((x) => x);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  private refreshFdb(): void {
    const now = process.hrtime.bigint();
    const since = this.lastRefreshNs;
    this.lastRefreshNs = now;
    try {
      for (const e of this.sync.activeSources(since)) {
        this.opts.sendNetlink!(fdbUseMessage(e.portIfindex, e.mac, e.vlan, this.seq++));
      }
    } catch (err) {
      this.emit('error', { device: '', message: `FDB refresh: ${(err as Error).message}` } satisfies DeployError);
    }
    this.refreshNeighbours();
  }

  // The next hops l3-router forwarded to since the last refresh: "used", as a transmit
  // through the kernel would have told the neighbour table (see neigh-refresh.ts).
  private refreshNeighbours(): void {
    const fd = this.shared.fd('ss_nh_used');
    if (fd === undefined || !this.opts.neighbours) return;
    try {
      const ncpu = this.native.numPossibleCpus();
      const value = this.native.mapLookup(fd, u32Key(0));
      if (!value || value.every((b) => b === 0)) return;
      // A bit set between the read and the clear is lost; the next packet sets it again.
      this.native.mapUpdate(fd, u32Key(0), Buffer.alloc(NH_MARKS_SIZE * ncpu));
      const used = usedNextHops(mergeMarks(value, ncpu), this.opts.neighbours());
      for (const n of used) this.opts.sendNetlink!(neighUseMessage(n, this.seq++));
    } catch (err) {
      this.emit('error', { device: '', message: `neighbour refresh: ${(err as Error).message}` } satisfies DeployError);
    }
  }

  pipelines(): PipelineView[] {
    return [...this.devices.values()].map((d) => ({
      ifname: d.ifname,
      ifindex: d.ifindex,
      mode: d.mode,
      generation: d.current?.id ?? 0,
      fpms: d.current?.fpmNames ?? [],
      programs: d.current?.programs ?? [],
      knobs: Object.fromEntries((d.current?.plan.fpms ?? []).map((f) => [f.name, f.knobs])),
    }));
  }

  stats(): DeviceStats[] {
    const statsFd = this.shared.fd('ss_stats');
    if (statsFd === undefined) return [];
    return [...this.devices.values()].map((d) =>
      deviceStats(d.ifname, d.ifindex, readDeviceCounters(this.native, statsFd, d.devSlot), d.current?.fpmNames ?? [], this.opts.manifests),
    );
  }

  rootProgIds(): number[] {
    return [...this.devices.values()].map((d) => d.rootProgId).filter((id) => id > 0);
  }

  // Before init: the programs an earlier daemon left attached through pinned links.
  pinnedRootProgIds(): number[] {
    const ids: number[] = [];
    for (const ifindex of this.pins.pinnedDevices()) {
      try {
        const fd = this.native.objGet(this.pins.link(ifindex));
        try {
          ids.push(this.native.linkInfo(fd).progId);
        } finally {
          this.native.closeFd(fd);
        }
      } catch {
        /* stale pin: init() removes it */
      }
    }
    return ids;
  }

  managedDevices(): string[] {
    return [...this.devices.values()].map((d) => d.ifname);
  }

  // on_exit: detach removes every trace; keep leaves pipelines pinned for the next daemon.
  shutdown(onExit: 'detach' | 'keep'): void {
    if (this.hbTimer) clearInterval(this.hbTimer);
    if (this.fdbTimer) clearInterval(this.fdbTimer);
    for (const [ifindex, dev] of this.devices) {
      if (onExit === 'detach') dev.detach();
      else dev.release(false);
      this.devices.delete(ifindex);
    }
    this.shared.closeAll(onExit === 'detach');
    if (onExit === 'detach') this.pins.removeAll();
  }
}
