// Per-device XDP features from the generic netlink family "netdev" (Linux 6.3+).
// bpf_redirect_map into a device whose xdp_features lack NDO_XMIT is dropped by the kernel
// without a trace (devmap's __xdp_enqueue returns EOPNOTSUPP), and for veth that bit follows
// the PEER's GRO/XDP state. So the fast path may only redirect into devices this watcher
// reports as able to transmit, and it follows the kernel's change notifications live.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { NativeAddon, NetlinkSocket } from '../native/types';
import type { LogFn } from './introspector';
import { nlAttr } from '../util/bytes';

export const NETLINK_GENERIC = 16;
export const GENL_ID_CTRL = 0x10;
const CTRL_CMD_NEWFAMILY = 1;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_MCAST_GROUPS = 7;
const CTRL_ATTR_MCAST_GRP_NAME = 1;
const CTRL_ATTR_MCAST_GRP_ID = 2;

export const NETDEV_FAMILY_NAME = 'netdev';
export const NETDEV_MGMT_GROUP = 'mgmt';
const NETDEV_FAMILY_VERSION = 1;
// enum netdev_cmd / NETDEV_A_DEV_* (include/uapi/linux/netdev.h; checked against this kernel's BTF).
export const NETDEV_CMD = { DEV_GET: 1, DEV_ADD_NTF: 2, DEV_DEL_NTF: 3, DEV_CHANGE_NTF: 4 } as const;
const NETDEV_A_DEV_IFINDEX = 1;
const NETDEV_A_DEV_XDP_FEATURES = 3;

// enum netdev_xdp_act.
export const XDP_ACT = {
  BASIC: 1n,
  REDIRECT: 2n,
  NDO_XMIT: 4n,
  XSK_ZEROCOPY: 8n,
  HW_OFFLOAD: 16n,
  RX_SG: 32n,
  NDO_XMIT_SG: 64n,
} as const;
// The kernel's own names (Documentation/netlink/specs/netdev.yaml), lowest bit first.
const XDP_ACT_NAMES = ['basic', 'redirect', 'ndo-xmit', 'xsk-zerocopy', 'hw-offload', 'rx-sg', 'ndo-xmit-sg'];

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLM_F_DUMP_INTR = 0x10;
const NLA_TYPE_MASK = 0x3fff; // drops NLA_F_NESTED / NLA_F_NET_BYTEORDER
const ENOENT = 2;
const ENOBUFS = 105;
const ETIMEDOUT = 110;

// ------------------------------------------------------------------ pure helpers

export function describeXdpFeatures(bits: bigint | number): string[] {
  let b = BigInt(bits);
  const out: string[] = [];
  for (let i = 0; b > 0n; i++, b >>= 1n) {
    if (b & 1n) out.push(XDP_ACT_NAMES[i] ?? `bit${i}`);
  }
  return out;
}

function genlMessage(type: number, flags: number, seq: number, cmd: number, version: number, attrs: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([cmd, version, 0, 0]), ...attrs]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([hdr, body]);
}

// CTRL_CMD_GETFAMILY for one family by name (a "do" request: one reply or an error).
export function getFamilyRequest(name: string, seq: number): Buffer {
  return genlMessage(GENL_ID_CTRL, NLM_F_REQUEST, seq, CTRL_CMD_GETFAMILY, 1, [
    nlAttr(CTRL_ATTR_FAMILY_NAME, Buffer.from(name + '\0', 'utf8')),
  ]);
}

// NETDEV_CMD_DEV_GET as a dump: one message per device of the socket's namespace.
export function devGetDumpRequest(familyId: number, seq: number): Buffer {
  return genlMessage(familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, NETDEV_CMD.DEV_GET, NETDEV_FAMILY_VERSION, []);
}

export interface Nlattr {
  type: number;
  data: Buffer;
}

export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Nlattr[] {
  const out: Nlattr[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    out.push({ type: buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, data: buf.subarray(off + 4, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}

// Unsigned integer attribute of 1, 2, 4 or 8 bytes (the kernel's "uint" may be 4 or 8).
function readUint(b: Buffer): bigint | undefined {
  switch (b.length) {
    case 1: return BigInt(b.readUInt8(0));
    case 2: return BigInt(b.readUInt16LE(0));
    case 4: return BigInt(b.readUInt32LE(0));
    case 8: return b.readBigUInt64LE(0);
    default: return undefined;
  }
}

export interface GenlFamily {
  id: number;
  name: string;
  groups: Map<string, number>; // multicast group name -> id
}

// A CTRL_CMD_NEWFAMILY reply; payload starts at the genlmsghdr.
export function parseFamilyReply(payload: Buffer): GenlFamily {
  if (payload.length < 4) throw new Error('generic netlink family reply shorter than its header');
  if (payload[0] !== CTRL_CMD_NEWFAMILY) throw new Error(`unexpected nlctrl command ${payload[0]} in family reply`);
  let id: number | undefined;
  let name = '';
  const groups = new Map<string, number>();
  for (const a of parseAttrs(payload, 4)) {
    if (a.type === CTRL_ATTR_FAMILY_ID && a.data.length >= 2) id = a.data.readUInt16LE(0);
    else if (a.type === CTRL_ATTR_FAMILY_NAME) name = cString(a.data);
    else if (a.type === CTRL_ATTR_MCAST_GROUPS) {
      for (const g of parseAttrs(a.data)) {
        let gname: string | undefined;
        let gid: number | undefined;
        for (const ga of parseAttrs(g.data)) {
          if (ga.type === CTRL_ATTR_MCAST_GRP_NAME) gname = cString(ga.data);
          else if (ga.type === CTRL_ATTR_MCAST_GRP_ID && ga.data.length >= 4) gid = ga.data.readUInt32LE(0);
        }
        if (gname !== undefined && gid !== undefined) groups.set(gname, gid);
      }
    }
  }
  if (id === undefined) throw new Error(`generic netlink family reply for '${name}' has no family id`);
  return { id, name, groups };
}

export interface DevMessage {
  cmd: number; // NETDEV_CMD.*
  ifindex: number;
  xdpFeatures: bigint | undefined; // absent attribute: undefined
}

// A netdev "dev" message (dump reply or notification); payload starts at the genlmsghdr.
// Returns null for other commands (page pools, queues, ...).
export function parseDevMessage(payload: Buffer): DevMessage | null {
  if (payload.length < 4) throw new Error('netdev message shorter than its genl header');
  const cmd = payload[0];
  if (cmd < NETDEV_CMD.DEV_GET || cmd > NETDEV_CMD.DEV_CHANGE_NTF) return null;
  let ifindex: number | undefined;
  let xdpFeatures: bigint | undefined;
  for (const a of parseAttrs(payload, 4)) {
    if (a.type === NETDEV_A_DEV_IFINDEX && a.data.length >= 4) ifindex = a.data.readUInt32LE(0);
    else if (a.type === NETDEV_A_DEV_XDP_FEATURES) xdpFeatures = readUint(a.data);
  }
  if (ifindex === undefined) throw new Error(`netdev message (cmd ${cmd}) without an ifindex`);
  return { cmd, ifindex, xdpFeatures };
}

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  payload: Buffer;
}

export function splitDatagram(d: Buffer, out: NlMessage[] = []): NlMessage[] {
  let off = 0;
  while (off + 16 <= d.length) {
    const len = d.readUInt32LE(off);
    if (len < 16 || off + len > d.length) break;
    out.push({ type: d.readUInt16LE(off + 4), flags: d.readUInt16LE(off + 6), seq: d.readUInt32LE(off + 8), payload: d.subarray(off + 16, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

// Whether a device with these features accepts frames from bpf_redirect_map.
export function redirectable(bits: bigint): boolean {
  return (bits & XDP_ACT.NDO_XMIT) !== 0n;
}

// ------------------------------------------------------------------ requests

export class GenlRequestError extends Error {
  constructor(message: string, readonly errno: number) {
    super(message);
  }
}

interface PendingRequest {
  seq: number;
  dump: boolean;
  label: string;
  replies: NlMessage[];
  interrupted: boolean;
  resolve: (r: { replies: NlMessage[]; interrupted: boolean }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

// One request at a time over a socket we own; replies are matched by sequence number.
class Requester {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private current: PendingRequest | null = null;
  private queue: Array<() => void> = [];

  constructor(private sock: NetlinkSocket | null, private readonly timeoutMs: number) {}

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  request(build: (seq: number) => Buffer, dump: boolean, label: string): Promise<{ replies: NlMessage[]; interrupted: boolean }> {
    return new Promise((resolve, reject) => {
      const start = (): void => {
        if (!this.sock) {
          reject(new Error(`${label}: netlink socket is closed`));
          this.next();
          return;
        }
        const seq = this.nextSeq();
        const timer = setTimeout(() => this.finish(new GenlRequestError(`${label}: no reply from the kernel`, ETIMEDOUT)), this.timeoutMs);
        this.current = { seq, dump, label, replies: [], interrupted: false, resolve, reject, timer };
        try {
          this.sock.send(build(seq));
        } catch (e) {
          this.finish(e as Error);
        }
      };
      if (this.current) this.queue.push(start);
      else start();
    });
  }

  onDatagrams(datagrams: Buffer[]): void {
    const msgs: NlMessage[] = [];
    for (const d of datagrams) splitDatagram(d, msgs);
    for (const m of msgs) {
      const p = this.current;
      if (!p || m.seq !== p.seq) continue; // late reply of a timed-out request
      if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      if (m.type === NLMSG_ERROR) {
        const code = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
        if (code !== 0) this.finish(new GenlRequestError(`${p.label} failed: errno ${code}`, code));
        else if (!p.dump) this.finish(null); // an ack
        continue;
      }
      if (m.type === NLMSG_DONE) {
        this.finish(null);
        continue;
      }
      p.replies.push(m);
      if (!p.dump) this.finish(null);
    }
  }

  onOverflow(): void {
    if (this.current) this.finish(new GenlRequestError(`${this.current.label}: reply lost (ENOBUFS)`, ENOBUFS));
  }

  close(): void {
    this.sock = null;
    if (this.current) this.finish(new Error(`${this.current.label}: socket closed`));
    const q = this.queue;
    this.queue = [];
    for (const s of q) s();
  }

  private finish(err: Error | null): void {
    const p = this.current;
    this.current = null;
    if (p) {
      clearTimeout(p.timer);
      if (err) p.reject(err);
      else p.resolve({ replies: p.replies, interrupted: p.interrupted });
    }
    const next = this.queue.shift();
    if (next) next();
  }

  private next(): void {
    const n = this.queue.shift();
    if (n) n();
  }
}

// ------------------------------------------------------------------ the watcher

export interface XdpFeatureWatcherOptions {
  netns?: string; // name under /var/run/netns; absent: the calling thread's namespace
  native?: NativeAddon; // injected for tests; default: the real addon
  log?: LogFn;
  rcvbuf?: number; // event socket receive buffer (default 1 MiB)
  requestTimeoutMs?: number; // default 5000
}

export type XdpFeatureChangeReason = 'add' | 'del' | 'change' | 'resync';

export interface XdpFeatureChange {
  ifindex: number;
  before: bigint | undefined; // undefined: the device was not known
  after: bigint | undefined; // undefined: the device is gone
  reason: XdpFeatureChangeReason;
}

export declare interface XdpFeatureWatcher {
  on(event: 'change', listener: (ev: XdpFeatureChange) => void): this;
  on(event: 'resync', listener: (ev: { changes: number }) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'change', listener: (ev: XdpFeatureChange) => void): this;
  once(event: 'resync', listener: (ev: { changes: number }) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
}

export class XdpFeatureWatcher extends EventEmitter {
  private readonly opts: XdpFeatureWatcherOptions;
  private nat: NativeAddon | null = null;
  private reqSock: NetlinkSocket | null = null;
  private evSock: NetlinkSocket | null = null;
  private requester: Requester | null = null;
  private familyId = 0;
  private devs = new Map<number, bigint>();
  private _supported = false;
  private started = false;
  private stopped = false;
  // While a dump runs, notifications wait here; each carries a device's whole state, so
  // replaying them in order on top of the dump ends at the newest state.
  private holding = false;
  private held: Buffer[] = [];
  // After ENOBUFS, until the re-dump starts: what is still queued is older than the dump.
  private discarding = false;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(opts: XdpFeatureWatcherOptions = {}) {
    super();
    this.opts = opts;
  }

  // False until start() resolved, and for good when the kernel has no "netdev" family.
  get supported(): boolean {
    return this._supported && !this.stopped;
  }

  get netns(): string | undefined {
    return this.opts.netns;
  }

  // The device's NETDEV_XDP_ACT_* bits; undefined when unknown (or not supported).
  features(ifindex: number): bigint | undefined {
    return this.supported ? this.devs.get(ifindex) : undefined;
  }

  // Whether bpf_redirect_map into the device can work (NDO_XMIT). undefined: unknown device,
  // or no netdev family on this kernel (the caller decides; the safe answer is "don't").
  canRedirectInto(ifindex: number): boolean | undefined {
    const f = this.features(ifindex);
    return f === undefined ? undefined : redirectable(f);
  }

  // A copy of every known device's features.
  snapshot(): Map<number, bigint> {
    return this.supported ? new Map(this.devs) : new Map();
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, obj);
  }

  private get native(): NativeAddon {
    if (!this.nat) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      this.nat = this.opts.native ?? (require('../native') as { native: NativeAddon }).native;
    }
    return this.nat;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('XdpFeatureWatcher already started');
    this.started = true;
    const ns = this.opts.netns;
    if (ns && !fs.existsSync(`/var/run/netns/${ns}`)) throw new Error(`network namespace ${ns} not found`);
    const n = this.native;
    this.reqSock = n.netlinkOpen({
      protocol: NETLINK_GENERIC,
      netns: ns,
      rcvbuf: 1024 * 1024,
      onMessages: (d) => this.requester?.onDatagrams(d),
      onOverflow: () => this.requester?.onOverflow(),
      onError: (e) => this.emitError(new Error(`netdev request socket: ${e.message}`)),
    });
    this.requester = new Requester(this.reqSock, this.opts.requestTimeoutMs ?? 5000);
    try {
      let family: GenlFamily;
      try {
        const { replies } = await this.requester.request((seq) => getFamilyRequest(NETDEV_FAMILY_NAME, seq), false, 'netdev family lookup');
        if (!replies[0]) throw new Error('netdev family lookup: empty reply');
        family = parseFamilyReply(replies[0].payload);
      } catch (e) {
        if (e instanceof GenlRequestError && e.errno === ENOENT) {
          this.log('info', 'no "netdev" generic netlink family (Linux < 6.3): XDP redirect targets cannot be checked');
          this.closeSockets();
          return;
        }
        throw e;
      }
      const group = family.groups.get(NETDEV_MGMT_GROUP);
      if (group === undefined) {
        this.log('warn', 'the netdev family has no "mgmt" multicast group: XDP features cannot be followed');
        this.closeSockets();
        return;
      }
      this.familyId = family.id;
      if (this.stopped) throw new Error('XdpFeatureWatcher stopped during start');
      // Join before dumping, so nothing that happens during the dump is missed.
      this.holding = true;
      this.evSock = n.netlinkOpen({
        protocol: NETLINK_GENERIC,
        netns: ns,
        groups: [group],
        rcvbuf: this.opts.rcvbuf ?? 1024 * 1024,
        onMessages: (d) => this.onEvents(d),
        onOverflow: () => this.onOverflow(),
        onError: (e) => this.emitError(new Error(`netdev event socket: ${e.message}`)),
      });
      const fresh = await this.dump();
      if (this.stopped) throw new Error('XdpFeatureWatcher stopped during start');
      this.devs = fresh;
      this.replayHeld(this.devs, false);
      this._supported = true;
      this.log('debug', 'xdp features ready', { devices: this.devs.size, netns: ns ?? null });
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closeSockets();
    this.devs = new Map();
    this.held = [];
  }

  // Forces a full re-dump, diffed against what is known ('change' per difference).
  resync(): Promise<void> {
    if (!this._supported || this.stopped) return Promise.resolve();
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = this.doResync().finally(() => {
      this.resyncing = null;
      if (this.resyncAgain && !this.stopped) {
        this.resyncAgain = false;
        void this.resync();
      }
    });
    return this.resyncing;
  }

  private closeSockets(): void {
    this.requester?.close();
    this.requester = null;
    for (const s of [this.evSock, this.reqSock]) {
      try {
        s?.close();
      } catch {
        /* closing twice is harmless */
      }
    }
    this.evSock = this.reqSock = null;
  }

  private async dump(): Promise<Map<number, bigint>> {
    for (let attempt = 0; ; attempt++) {
      const r = this.requester;
      if (!r) throw new Error('netdev dump: watcher stopped');
      const { replies, interrupted } = await r.request((seq) => devGetDumpRequest(this.familyId, seq), true, 'netdev device dump');
      if (interrupted && attempt < 3) continue;
      const out = new Map<number, bigint>();
      for (const m of replies) {
        if (m.type !== this.familyId) continue;
        const d = parseDevMessage(m.payload);
        if (d) out.set(d.ifindex, d.xdpFeatures ?? 0n);
      }
      return out;
    }
  }

  private onEvents(datagrams: Buffer[]): void {
    if (this.stopped || this.discarding) return;
    if (this.holding) {
      for (const d of datagrams) this.held.push(d);
      return;
    }
    for (const d of datagrams) this.applyDatagram(this.devs, d, true);
  }

  private applyDatagram(devs: Map<number, bigint>, d: Buffer, live: boolean): void {
    for (const m of splitDatagram(d)) {
      if (m.type !== this.familyId) continue;
      let dev: DevMessage | null;
      try {
        dev = parseDevMessage(m.payload);
      } catch (e) {
        this.log('warn', 'undecodable netdev message', { err: (e as Error).message });
        continue;
      }
      if (!dev) continue;
      const before = devs.get(dev.ifindex);
      let after: bigint | undefined;
      let reason: XdpFeatureChangeReason;
      if (dev.cmd === NETDEV_CMD.DEV_DEL_NTF) {
        devs.delete(dev.ifindex);
        reason = 'del';
      } else {
        after = dev.xdpFeatures ?? 0n;
        devs.set(dev.ifindex, after);
        reason = dev.cmd === NETDEV_CMD.DEV_ADD_NTF ? 'add' : 'change';
      }
      if (live && before !== after) this.emitChange({ ifindex: dev.ifindex, before, after, reason });
    }
  }

  private replayHeld(devs: Map<number, bigint>, live: boolean): void {
    const held = this.held;
    this.held = [];
    this.holding = false;
    for (const d of held) this.applyDatagram(devs, d, live);
  }

  private emitChange(ev: XdpFeatureChange): void {
    this.log('debug', 'xdp features changed', {
      ifindex: ev.ifindex,
      before: ev.before === undefined ? null : describeXdpFeatures(ev.before),
      after: ev.after === undefined ? null : describeXdpFeatures(ev.after),
      reason: ev.reason,
    });
    this.emit('change', ev);
  }

  // ENOBUFS: notifications were lost. The ones still queued predate the re-dump, so they
  // are dropped until it starts (setImmediate runs after this read batch).
  private onOverflow(): void {
    if (this.stopped) return;
    this.discarding = true;
    this.log('warn', 'netdev event socket overflowed (ENOBUFS): re-dumping');
    setImmediate(() => void this.resync());
  }

  private async doResync(): Promise<void> {
    this.discarding = false;
    this.holding = true;
    let fresh: Map<number, bigint>;
    try {
      fresh = await this.dump();
    } catch (e) {
      if (this.stopped) return;
      // Keep what we know plus what arrived meanwhile, and try again shortly.
      this.replayHeld(this.devs, true);
      this.emitError(new Error(`netdev re-dump failed: ${(e as Error).message}`));
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          void this.resync();
        }, 1000);
        this.retryTimer.unref();
      }
      return;
    }
    if (this.stopped) return;
    this.replayHeld(fresh, false);
    const old = this.devs;
    this.devs = fresh;
    let changes = 0;
    for (const [ifindex, before] of old) {
      const after = fresh.get(ifindex);
      if (after !== before) {
        changes++;
        this.emitChange({ ifindex, before, after, reason: 'resync' });
      }
    }
    for (const [ifindex, after] of fresh) {
      if (!old.has(ifindex)) {
        changes++;
        this.emitChange({ ifindex, before: undefined, after, reason: 'resync' });
      }
    }
    this.log(changes ? 'info' : 'debug', 'netdev re-dump done', { changes });
    this.emit('resync', { changes });
  }

  private emitError(e: Error): void {
    this.log('error', e.message);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
