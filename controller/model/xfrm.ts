// IPsec (xfrm) policies. The kernel's forward path applies the fwd and out policies to every
// routed packet (ip_forward's xfrm4_policy_check and xfrm_route_forward, and their IPv6
// twins): it may encrypt the packet, or drop it. bpf_fib_lookup knows nothing of them, so
// the graph must know them. Read over NETLINK_XFRM: a policy dump and the default policies,
// again after every policy event (XFRMNLGRP_POLICY carries adds, deletes, flushes, expiries
// and default changes).
import type { NativeAddon, NetlinkSocket } from '../native/types';
import { formatV4, formatV6 } from '../epping/addr';
import type { RawMessage } from './decode';
import { DumpError, Dumper } from './dump';
import { emptyXfrm, type XfrmDefault, type XfrmDir, type XfrmPolicy, type XfrmState } from './types';

export const NETLINK_XFRM = 6;
export const XFRMNLGRP_POLICY = 4;

export const XFRM_MSG = {
  NEWPOLICY: 0x13, // a dump entry
  GETPOLICY: 0x15,
  GETDEFAULT: 0x28,
} as const;

const POLICY_INFO_LEN = 168; // struct xfrm_userpolicy_info
const USER_TMPL_LEN = 64; // struct xfrm_user_tmpl
const XFRMA_TMPL = 5;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_NAMES: Record<number, string> = { 50: 'esp', 51: 'ah', 108: 'comp' };
const DIRS: readonly XfrmDir[] = ['in', 'out', 'fwd'];

function addr(b: Buffer, off: number, family: number): string {
  return family === AF_INET ? formatV4(b, off) : formatV6(b, off);
}

// One XFRM_MSG_NEWPOLICY (dump entry or notification): struct xfrm_userpolicy_info, then attributes.
export function decodePolicy(payload: Buffer): XfrmPolicy | null {
  if (payload.length < POLICY_INFO_LEN) return null;
  const fam = payload.readUInt16LE(40);
  const family = fam === AF_INET ? 4 : fam === AF_INET6 ? 6 : 0;
  const dirNum = payload[160];
  const p: XfrmPolicy = {
    index: payload.readUInt32LE(156),
    priority: payload.readUInt32LE(152),
    dir: dirNum < 3 ? DIRS[dirNum] : 'socket',
    action: payload[161] === 1 ? 'block' : 'allow',
    family,
    dst: family ? addr(payload, 0, fam) : '',
    dstLen: payload[42],
    src: family ? addr(payload, 16, fam) : '',
    srcLen: payload[43],
    proto: payload[44],
    ifindex: payload.readInt32LE(48),
    templates: [],
  };
  for (let off = POLICY_INFO_LEN; off + 4 <= payload.length;) {
    const len = payload.readUInt16LE(off);
    const type = payload.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > payload.length) break;
    if (type === XFRMA_TMPL) {
      for (let t = off + 4; t + USER_TMPL_LEN <= off + len; t += USER_TMPL_LEN) {
        const proto = payload[t + 20];
        p.templates.push(`${IPPROTO_NAMES[proto] ?? `proto ${proto}`} ${payload[t + 48] === 1 ? 'tunnel' : 'transport'}`);
      }
    }
    off += (len + 3) & ~3;
  }
  return p;
}

// struct xfrm_userpolicy_default: in, fwd, out; XFRM_USERPOLICY_BLOCK 1, ACCEPT 2.
export function decodeDefault(payload: Buffer): XfrmState['defaults'] | null {
  if (payload.length < 3) return null;
  const one = (v: number): XfrmDefault => (v === 1 ? 'block' : v === 2 ? 'accept' : 'unknown');
  return { in: one(payload[0]), fwd: one(payload[1]), out: one(payload[2]) };
}

// The policies the kernel applies to routed packets: fwd and out (in and socket policies
// only concern traffic to and from the box).
export function forwardPolicies(x: XfrmState): XfrmPolicy[] {
  return x.policies.filter((p) => p.dir === 'fwd' || p.dir === 'out');
}

export type XfrmLog = (level: 'warn' | 'debug', msg: string, obj?: Record<string, unknown>) => void;

// Keeps an XfrmState of one namespace: reads it at start and after every policy event.
export class XfrmWatcher {
  private evSock: NetlinkSocket | null = null;
  private dumpSock: NetlinkSocket | null = null;
  private readonly dumper = new Dumper();
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private _state: XfrmState = emptyXfrm();

  constructor(
    private readonly native: NativeAddon,
    private readonly netns: string | undefined,
    private readonly onChange: (s: XfrmState) => void,
    private readonly log: XfrmLog,
  ) {}

  // Never throws: a kernel without NETLINK_XFRM (CONFIG_XFRM_USER off) is reported in the state.
  async start(): Promise<XfrmState> {
    try {
      this.evSock = this.native.netlinkOpen({
        protocol: NETLINK_XFRM,
        netns: this.netns,
        groups: [XFRMNLGRP_POLICY],
        onMessages: () => this.kick(),
        onOverflow: () => this.kick(),
      });
      this.dumpSock = this.native.netlinkOpen({
        protocol: NETLINK_XFRM,
        netns: this.netns,
        onMessages: (d) => this.dumper.onDatagrams(d),
        onOverflow: () => this.dumper.onOverflow(),
      });
      this.dumper.attach(this.dumpSock);
    } catch (e) {
      this._state = { ...emptyXfrm(), error: `no NETLINK_XFRM socket: ${(e as Error).message}` };
      this.log('warn', 'IPsec policies cannot be read: routed traffic is accelerated as if there were none', { err: (e as Error).message });
      return this._state;
    }
    this._state = await this.readWithRetry();
    if (this._state.error) this.retryLater();
    return this._state;
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.dumper.detach();
    this.evSock?.close();
    this.dumpSock?.close();
    this.evSock = this.dumpSock = null;
  }

  // Coalesces events into one read at a time.
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.readWithRetry().then((s) => {
      if (this.stopped) return;
      const changed = JSON.stringify(s) !== JSON.stringify(this._state);
      this._state = s;
      if (changed) this.onChange(s);
      if (s.error) this.retryLater();
    }).finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private retryLater(): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.kick();
    }, 1000);
    this.retry.unref();
  }

  private async readWithRetry(): Promise<XfrmState> {
    let last = '';
    for (let i = 0; i < 3; i++) {
      try {
        return await this.read();
      } catch (e) {
        last = (e as Error).message;
      }
    }
    this.log('warn', 'reading IPsec policies failed', { err: last });
    // Unknown policies: the graph keeps routing with the kernel until a read succeeds.
    return { ...this._state, checked: true, error: `reading IPsec policies failed: ${last}` };
  }

  private async read(): Promise<XfrmState> {
    const policies: XfrmPolicy[] = [];
    let defaults: XfrmState['defaults'] | null = null;
    const interrupted = await this.dumper.dump(
      { type: XFRM_MSG.GETPOLICY, header: Buffer.alloc(0), label: 'xfrm policies' },
      (m: RawMessage) => {
        const p = m.type === XFRM_MSG.NEWPOLICY ? decodePolicy(m.payload) : null;
        if (p) policies.push(p);
      },
    );
    if (interrupted) throw new Error('policy dump interrupted');
    try {
      await this.dumper.dump(
        { type: XFRM_MSG.GETDEFAULT, header: Buffer.alloc(4), label: 'xfrm default policies', single: true },
        (m: RawMessage) => {
          if (m.type === XFRM_MSG.GETDEFAULT) defaults = decodeDefault(m.payload);
        },
      );
    } catch (e) {
      // Kernels before 5.16 have no default policies (everything is accepted).
      if (!(e instanceof DumpError)) throw e;
    }
    policies.sort((a, b) => a.index - b.index);
    return { checked: true, policies, defaults: defaults ?? { in: 'unknown', fwd: 'unknown', out: 'unknown' }, error: null };
  }
}
