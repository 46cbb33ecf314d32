import type { NativeAddon } from '../native/types';
import { MirrorGeneration } from './mirror-generation';
import {
  SS_DEV_BRIDGE, SS_DEV_ISOLATED, SS_DEV_L3, SS_DEV_NF_OUT4, SS_DEV_NF_OUT6, SS_DEV_PORT_FWD, SS_DEV_QDISC, SS_DEV_TX, SS_DEV_UP,
  SS_DEV_SIZE, SS_FDB_LOCAL, SS_FDB_STATIC, SS_IFINDEX_MAX, decodeFdbKey, decodeFdbValue, encodeDev, encodeFdbKey, encodeFdbValue, u32Key,
} from './layout';

// What the fast path must know about a device, whether or not it has a pipeline.
export interface DpDevice {
  ifindex: number;
  ifname: string;
  mtu: number;
  mac: string; // for an accelerated bridge port: the bridge's MAC
  up: boolean;
  isBridge: boolean;
  bridgeIfindex: number; // accelerated bridge this is a forwarding port of, else 0
  portForwarding: boolean;
  isolated: boolean;
  tx: boolean; // may receive XDP redirects
  qdisc: boolean; // shaped egress: never bypass
  l3: boolean; // routed ingress may be accelerated
  nfEgress?: { v4: boolean; v6: boolean }; // forward-path rules match routed traffic leaving here
  rpFilter: number;
  routeMtu4?: number; // smallest MTU metric of the IPv4 routes out of it (0 or absent: none)
}

export interface DpFdb {
  bridgeIfindex: number;
  mac: string;
  vlan: number;
  portIfindex: number;
  local: boolean;
  static: boolean;
}

export interface SyncCounts {
  devs: number;
  txPorts: number;
  fdbWritten: number;
  fdbDeleted: number;
}

const ABSENT_DEV = Buffer.alloc(SS_DEV_SIZE);
const CLEAR_CHUNK = 8192; // ss_devs entries zeroed per batch call (bounds the key arrays)

function devFlags(d: DpDevice): number {
  let f = 0;
  if (d.up) f |= SS_DEV_UP;
  if (d.tx && d.up && !d.qdisc) f |= SS_DEV_TX;
  if (d.qdisc) f |= SS_DEV_QDISC;
  if (d.portForwarding && d.bridgeIfindex) f |= SS_DEV_PORT_FWD;
  if (d.isolated) f |= SS_DEV_ISOLATED;
  if (d.isBridge) f |= SS_DEV_BRIDGE;
  if (d.l3) f |= SS_DEV_L3;
  if (d.nfEgress?.v4) f |= SS_DEV_NF_OUT4;
  if (d.nfEgress?.v6) f |= SS_DEV_NF_OUT6;
  return f;
}

// Keeps ss_devs, ss_tx_ports and ss_fdb equal to what the model says, writing only
// differences, so data changes never need a program reload.
export class DatapathSync {
  private devs = new Map<number, string>(); // ifindex -> encoded value (hex)
  private tx = new Set<number>();
  private fdb = new Map<string, string>(); // key hex -> "port:flags"
  // ss_devs may hold entries we did not write (an adopted map): the first apply() zeroes
  // every index it does not want. Reading the 65536-entry array back (one object and two
  // Buffers per entry) took 0.5 s; one blind batch write of zeros takes a fifth of that.
  private devsUnknown: boolean;
  private readonly mirrorGen: MirrorGeneration;

  constructor(
    private readonly native: NativeAddon,
    private readonly fds: { devs: number; txPorts: number; fdb: number; mirrorGen: number },
    opts: { devsFresh?: boolean } = {}, // devsFresh: ss_devs was just created (all zeros)
  ) {
    this.devsUnknown = !opts.devsFresh;
    this.mirrorGen = new MirrorGeneration(native, fds.mirrorGen);
    // Start from what is in the (possibly adopted) hash maps; they hold only live entries.
    for (const { key } of native.mapDump(fds.txPorts)) this.tx.add(key.readUInt32LE(0));
    for (const { key, value } of native.mapDump(fds.fdb)) {
      const v = decodeFdbValue(value);
      this.fdb.set(key.toString('hex'), `${v.portIfindex}:${v.flags}`);
    }
  }

  apply(devices: DpDevice[], entries: DpFdb[]): SyncCounts {
    const counts: SyncCounts = { devs: 0, txPorts: 0, fdbWritten: 0, fdbDeleted: 0 };
    // Order matters for transparency: withdraw permissions first, grant them last.
    const wantDevs = new Map<number, string>();
    const wantTx = new Set<number>();
    for (const d of devices) {
      if (d.ifindex >= SS_IFINDEX_MAX) continue; // beyond the array: stays with the kernel
      const flags = devFlags(d);
      wantDevs.set(d.ifindex, encodeDev({ bridgeIfindex: d.bridgeIfindex, mtu: d.mtu, flags, mac: d.mac, rpFilter: d.rpFilter, routeMtu4: d.routeMtu4 }).toString('hex'));
      if (flags & SS_DEV_TX) wantTx.add(d.ifindex);
    }
    if (this.devsUnknown) {
      this.clearDevsExcept(wantDevs);
      this.devsUnknown = false;
      this.mirrorGen.bump();
    }
    for (const [ifindex] of this.devs) {
      if (!wantDevs.has(ifindex)) {
        this.native.mapUpdate(this.fds.devs, u32Key(ifindex), ABSENT_DEV);
        this.devs.delete(ifindex);
        counts.devs++;
      }
    }
    for (const ifindex of this.tx) {
      if (!wantTx.has(ifindex)) {
        this.native.mapDelete(this.fds.txPorts, u32Key(ifindex));
        this.tx.delete(ifindex);
        counts.txPorts++;
      }
    }
    const wantFdb = new Map<string, { port: number; flags: number }>();
    for (const e of entries) {
      const key = encodeFdbKey({ bridgeIfindex: e.bridgeIfindex, mac: e.mac, vlan: e.vlan }).toString('hex');
      wantFdb.set(key, { port: e.portIfindex, flags: (e.local ? SS_FDB_LOCAL : 0) | (e.static ? SS_FDB_STATIC : 0) });
    }
    for (const [key] of this.fdb) {
      if (!wantFdb.has(key)) {
        this.native.mapDelete(this.fds.fdb, Buffer.from(key, 'hex'));
        this.fdb.delete(key);
        counts.fdbDeleted++;
      }
    }
    // What l2-bridge cached from a vanished device or entry is dropped before anything is granted.
    const withdrawn = counts.devs + counts.txPorts + counts.fdbDeleted;
    if (withdrawn) this.mirrorGen.bump();
    for (const [key, v] of wantFdb) {
      const sig = `${v.port}:${v.flags}`;
      if (this.fdb.get(key) === sig) continue; // unchanged: keep the fast path's last_seen
      this.native.mapUpdate(this.fds.fdb, Buffer.from(key, 'hex'), encodeFdbValue({ portIfindex: v.port, flags: v.flags, lastSeenNs: 0n }));
      this.fdb.set(key, sig);
      counts.fdbWritten++;
    }
    for (const [ifindex, hex] of wantDevs) {
      if (this.devs.get(ifindex) === hex) continue;
      this.native.mapUpdate(this.fds.devs, u32Key(ifindex), Buffer.from(hex, 'hex'));
      this.devs.set(ifindex, hex);
      counts.devs++;
    }
    for (const ifindex of wantTx) {
      if (this.tx.has(ifindex)) continue;
      this.native.devmapSet(this.fds.txPorts, ifindex, ifindex);
      this.tx.add(ifindex);
      counts.txPorts++;
    }
    // A rewrite may move a source or stop a port forwarding: every write counts.
    if (counts.devs + counts.txPorts + counts.fdbDeleted + counts.fdbWritten > withdrawn) this.mirrorGen.bump();
    return counts;
  }

  // Zeroes every ss_devs index not in `keep` (which apply() writes right after, unless
  // unchanged): entries of devices that vanished while no daemon ran are cleared.
  private clearDevsExcept(keep: Map<number, string>): void {
    const keyBuf = Buffer.allocUnsafe(4 * CLEAR_CHUNK);
    for (let base = 0; base < SS_IFINDEX_MAX; base += CLEAR_CHUNK) {
      const keys: Buffer[] = [];
      for (let i = base; i < base + CLEAR_CHUNK && i < SS_IFINDEX_MAX; i++) {
        if (keep.has(i)) continue;
        const off = 4 * (i - base);
        keyBuf.writeUInt32LE(i, off);
        keys.push(keyBuf.subarray(off, off + 4));
      }
      if (keys.length) this.native.mapUpdateBatch(this.fds.devs, keys, new Array<Buffer>(keys.length).fill(ABSENT_DEV));
    }
  }

  // Source MACs the fast path saw since `sinceNs`: the kernel must hear about them.
  activeSources(sinceNs: bigint): Array<{ bridgeIfindex: number; mac: string; vlan: number; portIfindex: number }> {
    const out: Array<{ bridgeIfindex: number; mac: string; vlan: number; portIfindex: number }> = [];
    for (const { key, value } of this.native.mapDump(this.fds.fdb)) {
      const v = decodeFdbValue(value);
      if (v.flags & (SS_FDB_LOCAL | SS_FDB_STATIC)) continue;
      if (v.lastSeenNs <= sinceNs) continue;
      out.push({ ...decodeFdbKey(key), portIfindex: v.portIfindex });
    }
    return out;
  }
}
