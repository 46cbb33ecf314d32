// A namespace with a bridge (br0: p1, p2), a routed port (r1) and hand-filled shared maps,
// plus the FPM chains loaded the way the deployer loads them (fresh ss_chain per pipeline,
// shared maps by fd, successor baked into rodata). Frames are driven with BPF_PROG_TEST_RUN
// inside the namespace, so bpf_fib_lookup sees this namespace's routes and neighbours.
import { native } from '../../controller/native';
import type { BpfObject, TestRunResult } from '../../controller/native/types';
import { BPF_MAP_TYPE } from '../../controller/native/constants';
import { counterTable } from '../../controller/deployer/counters';
import {
  SS_DEV_BRIDGE, SS_DEV_L3, SS_DEV_PORT_FWD, SS_DEV_TX, SS_DEV_UP, SS_FDB_LOCAL, SS_MAX_CHAIN, SS_SLOT_NONE,
  SS_DEV_SIZE, encodeDev, encodeFdbKey, encodeFdbValue, encodeHeartbeat, sumCounter, u32Key, type DevValue, type FdbValue,
} from '../../controller/deployer/layout';
import { bpfObjectPath } from '../../controller/util/paths';
import { xfrmSelectors, XfrmSelectorSync } from '../../controller/deployer/xfrm-selectors';
import type { XfrmPolicy } from '../../controller/model/types';
import { LocalAddressSync } from '../../controller/deployer/local-addrs';
import { MirrorGeneration } from '../../controller/deployer/mirror-generation';
import { macAt } from '../../controller/model/addr';
import { loadManifests } from '../../controller/assembler/manifest';
import { programStages } from '../../controller/deployer/generation';
import { mergeMarks, NH_MARKS_SIZE } from '../../controller/deployer/neigh-refresh';
import { Lab } from '../lab';

export const MAC = {
  br0: '02:00:5e:00:00:b0',
  r1: '02:00:5e:00:00:a1',
  h1: '02:00:5e:00:01:01', // behind p1
  h3: '02:00:5e:00:01:03', // behind p1
  h2: '02:00:5e:00:01:02', // behind p2
  n1: '02:00:5e:00:02:01', // next hop behind r1
  stranger: '02:00:5e:00:0f:0f', // in no FDB
};

export type ChainName = 'gw' | 'router' | 'routerFib' | 'routerXfrm' | 'gwFold' | 'routerFold' | 'routerFibFold' | 'routerXfrmFold' | 'bridge' | 'bridgeNf' | 'bridgeSup' | 'nop' | 'root';
type PlainChain = Exclude<ChainName, 'root'>;

export const DEV_SLOT: Record<ChainName, number> = { gw: 0, router: 1, bridge: 2, nop: 3, root: 4, routerFib: 5, bridgeNf: 6, bridgeSup: 7, gwFold: 8, routerFold: 9, routerFibFold: 10, routerXfrm: 11, routerXfrmFold: 12 };

// The same pipelines as the deployer loads them (controller/deployer/generation.ts,
// programStages): parse runs right before l3-router and is folded into it.
export const FOLDED: Partial<Record<ChainName, ChainName>> = { gw: 'gwFold', router: 'routerFold', routerFib: 'routerFibFold', routerXfrm: 'routerXfrmFold' };

interface Stage {
  object: string;
  program: string;
  knobs: Record<string, number | boolean>;
}

const PARSE = 'fpm/parse.bpf.o';
const L2 = 'fpm/l2_bridge.bpf.o';
const L3 = 'fpm/l3_router.bpf.o';

// gw: a bridge port of a routing gateway; router: a plain routed port (source check against
// ss_local_v4); routerFib: the same with a reverse FIB lookup; bridge: a pure switch port
// (no parser); bridgeNf: the same under br_netfilter; bridgeSup: with ARP/ND suppression;
// nop: parse and one hop that hands on to nothing. *Fold: gw, router and routerFib in the
// assembler's order (parse right before l3-router), loaded the way the deployer loads them:
// through programStages, which folds parse into l3-router.
const BASE_CHAINS: Record<Exclude<PlainChain, 'gwFold' | 'routerFold' | 'routerFibFold' | 'routerXfrmFold'>, Stage[]> = {
  gw: [
    { object: PARSE, program: 'ss_fpm_parse', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_l4: true } },
    { object: L2, program: 'ss_fpm_l2_bridge', knobs: { cfg_local_next: true } },
    { object: L3, program: 'ss_fpm_l3_router', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_src_check: 1 } },
  ],
  router: [
    { object: PARSE, program: 'ss_fpm_parse', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_l4: false } },
    { object: L3, program: 'ss_fpm_l3_router', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_src_check: 1 } },
  ],
  // The router with the full reverse lookup (custom ip rules or local routes on the box).
  routerFib: [
    { object: PARSE, program: 'ss_fpm_parse', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_l4: false } },
    { object: L3, program: 'ss_fpm_l3_router', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_src_check: 2 } },
  ],
  // The router where IPsec policies of both families exist (ss_xfrm_v4/v6 hold their selectors).
  routerXfrm: [
    { object: PARSE, program: 'ss_fpm_parse', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_l4: false } },
    { object: L3, program: 'ss_fpm_l3_router', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_src_check: 1, cfg_xfrm_v4: true, cfg_xfrm_v6: true } },
  ],
  bridge: [{ object: L2, program: 'ss_fpm_l2_bridge', knobs: { cfg_local_next: false } }],
  // A switch port whose bridge hands IP to iptables (br_netfilter).
  bridgeNf: [{ object: L2, program: 'ss_fpm_l2_bridge', knobs: { cfg_local_next: false, cfg_brnf_ipv4: true, cfg_brnf_ipv6: true, cfg_brnf_arp: true } }],
  // A switch port whose bridge suppresses ARP/ND or proxies ARP on some port.
  bridgeSup: [{ object: L2, program: 'ss_fpm_l2_bridge', knobs: { cfg_local_next: false, cfg_neigh_suppress: true } }],
  nop: [
    { object: PARSE, program: 'ss_fpm_parse', knobs: { cfg_ipv4: true, cfg_ipv6: true, cfg_l4: true } },
    { object: 'fpm/nop.bpf.o', program: 'ss_fpm_nop', knobs: {} },
  ],
};

// The *Fold chains are the same stages; only gw's order differs (the assembler puts parse
// right before l3-router, after l2-bridge).
const CHAINS: Record<PlainChain, Stage[]> = {
  ...BASE_CHAINS,
  gwFold: [BASE_CHAINS.gw[1], BASE_CHAINS.gw[0], BASE_CHAINS.gw[2]],
  routerFold: BASE_CHAINS.router,
  routerFibFold: BASE_CHAINS.routerFib,
  routerXfrmFold: BASE_CHAINS.routerXfrm,
};

// What the deployer loads for a chain (controller/deployer/generation.ts).
function deployerStages(stages: Stage[]): Stage[] {
  const manifests = loadManifests();
  const byObject = new Map([...manifests.values()].map((m) => [m.object, m]));
  const name = (s: Stage): string => byObject.get(s.object)?.name ?? s.object;
  const progs = programStages(stages.map((s) => ({ name: name(s), knobs: s.knobs })), manifests);
  if (progs.length === stages.length) throw new Error('programStages folded nothing: the *Fold chains would test the unfolded form');
  return progs.map((p) => {
    const m = manifests.get(p.fpm)!;
    return { object: m.object, program: m.program, knobs: p.rodata };
  });
}

export class DataPathLab {
  readonly lab: Lab;
  readonly ns: string;
  readonly ifx: Record<'br0' | 'p1' | 'p2' | 'p1x' | 'p2x' | 'r1' | 'r1x', number>;
  localV4: LocalAddressSync | null = null;
  localAddrs = new Set<string>(); // what ss_local_v4 holds
  readonly devs: Map<number, DevValue> = new Map();
  private readonly objects: BpfObject[] = [];
  private readonly chains = new Map<PlainChain, { fd: number; progs: number[] }>();
  private readonly shared = new Map<string, number>();
  private readonly entry = new Map<ChainName, number>();
  private rootSlotFd = -1;
  private closed = false;

  constructor(t: { teardown(fn: () => unknown): void }) {
    this.lab = new Lab({ t });
    t.teardown(() => this.close());
    this.ns = this.lab.addNamespace('dp');
    const ns = this.ns;
    const L = this.lab;
    L.bridge(ns, 'br0');
    L.exec(ns, ['ip', 'link', 'set', 'br0', 'address', MAC.br0]);
    L.veth(ns, 'p1', ns, 'p1x');
    L.veth(ns, 'p2', ns, 'p2x');
    L.veth(ns, 'r1', ns, 'r1x');
    L.exec(ns, ['ip', 'link', 'set', 'r1', 'address', MAC.r1]);
    L.enslave(ns, 'p1', 'br0');
    L.enslave(ns, 'p2', 'br0');
    L.sysctl(ns, 'net.ipv4.ip_forward', 1);
    L.sysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
    L.sysctl(ns, 'net.ipv4.conf.all.rp_filter', 0);
    L.sysctl(ns, 'net.ipv4.conf.br0.rp_filter', 1);
    L.sysctl(ns, 'net.ipv4.conf.r1.rp_filter', 2);
    L.addr(ns, 'br0', '198.18.0.1/24');
    L.addr(ns, 'br0', '2001:2::1/64');
    L.addr(ns, 'r1', '198.18.1.1/24');
    L.addr(ns, 'r1', '2001:2:0:1::1/64');
    const neigh = (ip: string, lladdr: string, dev: string) =>
      L.exec(ns, ['ip', 'neigh', 'replace', ip, 'lladdr', lladdr, 'dev', dev, 'nud', 'permanent']);
    neigh('198.18.0.2', MAC.h2, 'br0');
    neigh('198.18.0.3', MAC.h1, 'br0');
    neigh('2001:2::2', MAC.h2, 'br0');
    neigh('2001:2::3', MAC.h1, 'br0');
    neigh('198.18.1.2', MAC.n1, 'r1');
    neigh('2001:2:0:1::2', MAC.n1, 'r1');
    L.route(ns, '198.18.2.0/24', '198.18.1.2');
    L.route(ns, '2001:2:0:2::/64', '2001:2:0:1::2');
    L.route(ns, '198.18.3.0/24', '198.18.1.3'); // next hop never resolved
    L.route(ns, '2001:2:0:3::/64', '2001:2:0:1::3');
    L.exec(ns, ['ip', 'route', 'add', '198.18.4.0/24', 'via', '198.18.1.2', 'mtu', 'lock', '600']);
    L.exec(ns, ['ip', 'route', 'add', 'blackhole', '198.18.9.0/24']);
    L.exec(ns, ['ip', 'route', 'add', 'unreachable', '198.18.10.0/24']);
    L.exec(ns, ['ip', 'route', 'add', 'prohibit', '198.18.11.0/24']);
    L.exec(ns, ['ip', '-6', 'route', 'add', 'blackhole', '2001:2:0:9::/64']);
    const idx = (n: string) => L.ifindex(ns, n);
    this.ifx = { br0: idx('br0'), p1: idx('p1'), p2: idx('p2'), p1x: idx('p1x'), p2x: idx('p2x'), r1: idx('r1'), r1x: idx('r1x') };

    this.loadAll();
    this.fillMaps();
  }

  private sharedFd(name: string): number {
    const fd = this.shared.get(name);
    if (fd === undefined) throw new Error(`shared map ${name} not created`);
    return fd;
  }

  // Shared maps: the first object creates them, later ones reuse the same fds.
  private open(path: string, rodata: Record<string, number | boolean>, chainFd: number | null): BpfObject {
    const obj = native.openObject(bpfObjectPath(path));
    this.objects.push(obj);
    obj.setRodata(rodata);
    for (const m of obj.maps()) {
      if (m.name.includes('.') || m.name === 'ss_root_slot') continue;
      if (m.name === 'ss_chain') {
        if (chainFd === null) throw new Error(`${path} has ss_chain but is not in a chain`);
        obj.reuseMap('ss_chain', chainFd);
        continue;
      }
      const fd = this.shared.get(m.name);
      if (fd !== undefined) obj.reuseMap(m.name, fd);
    }
    obj.load();
    for (const m of obj.maps()) {
      if (m.name.includes('.') || m.name === 'ss_chain' || m.name === 'ss_root_slot') continue;
      if (!this.shared.has(m.name)) this.shared.set(m.name, native.dupFd(m.fd));
    }
    return obj;
  }

  private loadAll(): void {
    const folded = new Set(Object.values(FOLDED));
    for (const [name, plain] of Object.entries(CHAINS) as Array<[PlainChain, Stage[]]>) {
      const stages = folded.has(name) ? deployerStages(plain) : plain;
      const chainFd = native.mapCreate(BPF_MAP_TYPE.PROG_ARRAY, 4, 4, SS_MAX_CHAIN, 'ss_chain');
      const progs: number[] = [];
      this.chains.set(name, { fd: chainFd, progs });
      stages.forEach((s, i) => {
        const obj = this.open(s.object, { ...s.knobs, ss_dev_slot: DEV_SLOT[name], ss_next_slot: i + 1 < stages.length ? i + 1 : SS_SLOT_NONE }, chainFd);
        const prog = obj.program(s.program);
        native.progArraySet(chainFd, i, prog.fd);
        progs.push(prog.fd);
        if (i === 0) this.entry.set(name, prog.fd);
      });
    }
    const root = this.open('xdp_root.bpf.o', { ss_dev_slot: DEV_SLOT.root }, null);
    this.entry.set('root', root.program('ss_root').fd);
    this.rootSlotFd = root.map('ss_root_slot').fd;
    this.rootAttach('gw');
  }

  // Empties (or refills) one position of a chain: a missed tail call.
  chainSlot(chain: PlainChain, index: number, filled: boolean): void {
    const c = this.chains.get(chain);
    if (!c) throw new Error(`no chain ${chain}`);
    if (filled) native.progArraySet(c.fd, index, c.progs[index]);
    else native.progArrayClear(c.fd, index);
  }

  rootAttach(chain: PlainChain | null): void {
    if (chain === null) native.progArrayClear(this.rootSlotFd, 0);
    else native.progArraySet(this.rootSlotFd, 0, this.entryFd(chain));
  }

  private entryFd(chain: ChainName): number {
    const fd = this.entry.get(chain);
    if (fd === undefined) throw new Error(`no chain ${chain}`);
    return fd;
  }

  defaultDevs(): Map<number, DevValue> {
    const x = this.ifx;
    const port = { bridgeIfindex: x.br0, mtu: 1500, flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_L3, mac: MAC.br0, rpFilter: 1 };
    return new Map<number, DevValue>([
      [x.p1, { ...port }],
      [x.p2, { ...port }],
      [x.r1, { bridgeIfindex: 0, mtu: 1500, flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_L3, mac: MAC.r1, rpFilter: 2 }],
      [x.br0, { bridgeIfindex: 0, mtu: 1500, flags: SS_DEV_UP | SS_DEV_BRIDGE | SS_DEV_L3, mac: MAC.br0, rpFilter: 1 }],
    ]);
  }

  defaultFdb(): Array<[string, FdbValue]> {
    const x = this.ifx;
    return [
      [MAC.h1, { portIfindex: x.p1, flags: 0, lastSeenNs: 0n }],
      [MAC.h3, { portIfindex: x.p1, flags: 0, lastSeenNs: 0n }],
      [MAC.h2, { portIfindex: x.p2, flags: 0, lastSeenNs: 0n }],
      [MAC.br0, { portIfindex: x.br0, flags: SS_FDB_LOCAL, lastSeenNs: 0n }],
    ];
  }

  // Back to the reference state: every test case starts from here.
  fillMaps(): void {
    // ss_devs is an array indexed by ifindex: clearing an entry means zeroing it.
    for (const ifindex of this.devs.keys()) this.zeroDev(ifindex);
    this.devs.clear();
    for (const [ifindex, d] of this.defaultDevs()) this.setDev(ifindex, d);
    const fdb = this.sharedFd('ss_fdb');
    for (const e of native.mapDump(fdb)) native.mapDelete(fdb, e.key);
    this.mirrorGen().bump();
    for (const [m, v] of this.defaultFdb()) this.setFdb(m, v);
    native.inNetns(this.ns, () => {
      for (const ifindex of [this.ifx.p1, this.ifx.p2, this.ifx.r1]) native.devmapSet(this.sharedFd('ss_tx_ports'), ifindex, ifindex);
    });
    // What the controller writes (deployer/local-addrs.ts): addresses and the local table's
    // /32 local and broadcast routes, read back from the kernel.
    // Through the controller's own class, so the FPM's filter (ss_local_v4_bf) and the
    // controller's bit function are tested together.
    const local = this.sharedFd('ss_local_v4');
    for (const e of native.mapDump(local)) native.mapDelete(local, e.key);
    const routes = JSON.parse(this.lab.exec(this.ns, ['ip', '-4', '-j', 'route', 'show', 'table', 'local'])) as Array<{ type?: string; dst?: string }>;
    const want = new Set<string>();
    for (const r of routes) {
      if ((r.type === 'local' || r.type === 'broadcast') && r.dst && !r.dst.includes('/')) want.add(r.dst);
    }
    this.localV4 = new LocalAddressSync(native, local, this.sharedFd('ss_local_v4_bf'));
    this.localV4.add(want);
    this.localAddrs = want;
    this.setXfrm([]);
    this.heartbeat(true);
  }

  // IPsec policy selectors, written as the controller writes them (deployer/xfrm-selectors.ts).
  setXfrm(policies: XfrmPolicy[]): void {
    const want = xfrmSelectors(policies);
    new XfrmSelectorSync(native, this.sharedFd('ss_xfrm_v4')).apply(want.v4);
    new XfrmSelectorSync(native, this.sharedFd('ss_xfrm_v6')).apply(want.v6);
  }

  // Like the controller (deployer/datapath.ts): every mirror change (ss_devs, ss_fdb) bumps
  // ss_mirror_gen, unless a test asks it not to.
  setDev(ifindex: number, d: DevValue, opts: { bump?: boolean } = {}): void {
    this.devs.set(ifindex, d);
    native.mapUpdate(this.sharedFd('ss_devs'), u32Key(ifindex), encodeDev(d));
    if (opts.bump !== false) this.mirrorGen().bump();
  }

  patchDev(ifindex: number, patch: Partial<DevValue>, opts: { bump?: boolean } = {}): void {
    const cur = this.devs.get(ifindex);
    if (!cur) throw new Error(`no dev ${ifindex}`);
    this.setDev(ifindex, { ...cur, ...patch }, opts);
  }

  delDev(ifindex: number): void {
    this.devs.delete(ifindex);
    this.zeroDev(ifindex);
  }

  private zeroDev(ifindex: number): void {
    native.mapUpdate(this.sharedFd('ss_devs'), u32Key(ifindex), Buffer.alloc(SS_DEV_SIZE));
    this.mirrorGen().bump();
  }

  setFdb(macAddr: string, v: FdbValue, opts: { bump?: boolean } = {}): void {
    native.mapUpdate(this.sharedFd('ss_fdb'), encodeFdbKey({ bridgeIfindex: this.ifx.br0, mac: macAddr, vlan: 0 }), encodeFdbValue(v));
    if (opts.bump !== false) this.mirrorGen().bump();
  }

  mirrorGen(): MirrorGeneration {
    return new MirrorGeneration(native, this.sharedFd('ss_mirror_gen'));
  }

  getFdb(macAddr: string): Buffer | null {
    return native.mapLookup(this.sharedFd('ss_fdb'), encodeFdbKey({ bridgeIfindex: this.ifx.br0, mac: macAddr, vlan: 0 }));
  }

  delFdb(macAddr: string): void {
    native.mapDelete(this.sharedFd('ss_fdb'), encodeFdbKey({ bridgeIfindex: this.ifx.br0, mac: macAddr, vlan: 0 }));
    this.mirrorGen().bump();
  }

  delTx(ifindex: number): void {
    native.mapDelete(this.sharedFd('ss_tx_ports'), u32Key(ifindex));
  }

  // fresh: last seen now with a 10 s timeout; stale: last seen 10 s ago with a 1 s timeout;
  // a number: last seen that many ns from now (negative: in the past) with a 1 s timeout.
  heartbeat(fresh: boolean | 'unset' | bigint): void {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, like bpf_ktime_get_ns
    const v =
      fresh === 'unset' ? Buffer.alloc(16)
      : typeof fresh === 'bigint' ? encodeHeartbeat(now + fresh, 1_000_000_000n)
      : fresh ? encodeHeartbeat(now, 10_000_000_000n)
      : encodeHeartbeat(now - 10_000_000_000n, 1_000_000_000n);
    native.mapUpdate(this.sharedFd('ss_heartbeat'), u32Key(0), v);
  }

  sysctl(key: string, value: number): void {
    this.lab.sysctl(this.ns, key, value);
  }

  // cpu: run pinned there (per-CPU state such as l2-bridge's flow cache).
  run(chain: ChainName, ingressIfindex: number, frame: Buffer, cpu?: number): TestRunResult {
    const fd = this.entryFd(chain);
    return native.inNetns(this.ns, () => native.testRun(fd, { data: frame, ingressIfindex, ...(cpu === undefined ? {} : { cpu }) }));
  }

  // l2-bridge's flow cache entries for frames from `src` to `dst` entering `inIf`, as CPU
  // `cpu` sees them (at most one, in the slot the FPM's hash picks; found by scanning).
  l2Flows(cpu: number, inIf: number, dst: string, src: string): Array<{ gen: bigint; stamp: bigint; outIf: number; outMtu: number }> {
    const size = 40; // struct ss_l2_flow
    const found: Array<{ gen: bigint; stamp: bigint; outIf: number; outMtu: number }> = [];
    for (const { value } of native.mapDump(this.sharedFd('ss_l2_flows'))) {
      const o = cpu * size;
      if (macAt(value, o) !== dst || macAt(value, o + 6) !== src || value.readUInt32LE(o + 12) !== inIf) continue;
      found.push({ gen: value.readBigUInt64LE(o + 16), stamp: value.readBigUInt64LE(o + 24), outIf: value.readUInt32LE(o + 32), outMtu: value.readUInt32LE(o + 36) });
    }
    return found;
  }

  // l3-router's bridge-port cache entries for next hop `mac` behind bridge `bridge`, as CPU
  // `cpu` sees them (at most one, in the slot the FPM's hash picks; found by scanning).
  l3Ports(cpu: number, bridge: number, mac: string): Array<{ portIf: number; gen: bigint }> {
    const size = 24; // struct ss_l3_port
    const found: Array<{ portIf: number; gen: bigint }> = [];
    for (const { value } of native.mapDump(this.sharedFd('ss_l3_ports'))) {
      const o = cpu * size;
      if (macAt(value, o) !== mac || value.readUInt32LE(o + 8) !== bridge) continue;
      found.push({ portIf: value.readUInt32LE(o + 12), gen: value.readBigUInt64LE(o + 16) });
    }
    return found;
  }

  // l3-router's next-hop marks (ss_nh_used), every CPU's bitmap merged, as the controller reads them.
  nhMarks(): Buffer {
    const v = native.mapLookup(this.sharedFd('ss_nh_used'), u32Key(0));
    return mergeMarks(v ?? Buffer.alloc(0), native.numPossibleCpus());
  }

  clearNhMarks(): void {
    native.mapUpdate(this.sharedFd('ss_nh_used'), u32Key(0), Buffer.alloc(NH_MARKS_SIZE * native.numPossibleCpus()));
  }

  // Many frames in one namespace switch; for the fuzzer.
  runMany(chain: ChainName, frames: Array<{ ingress: number; frame: Buffer }>): TestRunResult[] {
    const fd = this.entryFd(chain);
    return native.inNetns(this.ns, () => frames.map((f) => native.testRun(fd, { data: f.frame, ingressIfindex: f.ingress })));
  }

  // Packets per counter id of one device slot.
  counters(chain: ChainName): number[] {
    const table = counterTable();
    const stats = this.sharedFd('ss_stats');
    const out: number[] = [];
    for (let id = 0; id < table.stride; id++) {
      const v = native.mapLookup(stats, u32Key(DEV_SLOT[chain] * table.stride + id));
      out.push(v ? sumCounter(v).packets : 0);
    }
    return out;
  }

  counterId(name: string): number {
    const d = counterTable().byName.get(name);
    if (!d) throw new Error(`no counter named ${name}`);
    return d.id;
  }

  counterName(id: number): string {
    return counterTable().defs.find((d) => d.id === id)?.name ?? `#${id}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const o of this.objects) o.close();
    for (const c of this.chains.values()) native.closeFd(c.fd);
    for (const fd of this.shared.values()) native.closeFd(fd);
    this.lab.destroy();
  }
}
