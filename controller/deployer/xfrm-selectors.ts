// The IPsec policy selectors l3-router checks (ss_xfrm_v4/v6 in bpf/include/ss_maps.h).
//
// The kernel applies fwd and out policies to routed packets. The fast path passes every
// packet whose source lies in some policy's source prefix and whose destination in some
// policy's destination prefix: a superset of what the policies match, since ports,
// protocol, interface and mark are ignored, and a source and destination taken from two
// different policies also count. Each LPM entry carries the bits of every listed prefix
// that covers it, so a longest-prefix lookup sees them all.
import type { NativeAddon } from '../native/types';
import type { XfrmPolicy, XfrmState } from '../model/types';
import { forwardPolicies } from '../model/xfrm';
import { parseV4, parseV6 } from '../epping/addr';

export const XFRM_SRC = 1;
export const XFRM_DST = 2;
export const XFRM_PREFIXES = 4096; // SS_XFRM_PREFIXES

interface Prefix {
  addr: Buffer; // network order, masked
  len: number;
}

export interface XfrmSelectors {
  v4: Map<string, number>; // LPM key (hex) -> SRC|DST bits
  v6: Map<string, number>;
}

function masked(addr: Buffer, len: number): Buffer {
  const out = Buffer.from(addr);
  for (let bit = len; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

// struct ss_xfrm_key4/6: u32 prefixlen (host order), then the address bytes.
function lpmKey(p: Prefix): Buffer {
  const k = Buffer.alloc(4 + p.addr.length);
  k.writeUInt32LE(p.len, 0);
  p.addr.copy(k, 4);
  return k;
}

// What the selector maps should hold; empty for a family whose check is off (the graph's
// xfrmFacts decides that: no policies, or the family is not routed by the fast path at all).
// Every reconcile asks; the state object only changes when the policies do (a few hundred ms
// for thousands of IPv6 policies).
let memo: { x: XfrmState; on: string; s: XfrmSelectors } | null = null;

export function fastPathSelectors(x: XfrmState, on: { v4: boolean; v6: boolean }): XfrmSelectors {
  const key = `${on.v4},${on.v6}`;
  if (memo?.x !== x || memo.on !== key) memo = { x, on: key, s: xfrmSelectors(forwardPolicies(x), on) };
  return memo.s;
}

export function xfrmSelectors(policies: XfrmPolicy[], on = { v4: true, v6: true }): XfrmSelectors {
  const out: XfrmSelectors = { v4: new Map(), v6: new Map() };
  for (const fam of [4, 6] as const) {
    if (!on[fam === 4 ? 'v4' : 'v6']) continue;
    const width = fam === 4 ? 4 : 16;
    const listed = new Map<string, { p: Prefix; bits: number }>();
    const add = (addr: string, len: number, bit: number): void => {
      const raw = fam === 4 ? parseV4(addr) : parseV6(addr);
      const p: Prefix = raw && len <= width * 8 ? { addr: masked(raw, len), len } : { addr: Buffer.alloc(width), len: 0 };
      const key = lpmKey(p).toString('hex');
      const e = listed.get(key);
      if (e) e.bits |= bit;
      else listed.set(key, { p, bits: bit });
    };
    for (const pol of policies) {
      if (pol.family !== 0 && pol.family !== fam) continue;
      // A selector without a family matches anything of either.
      add(pol.family ? pol.src : '', pol.family ? pol.srcLen : 0, XFRM_SRC);
      add(pol.family ? pol.dst : '', pol.family ? pol.dstLen : 0, XFRM_DST);
    }
    const m = fam === 4 ? out.v4 : out.v6;
    for (const [key, e] of listed) {
      let bits = e.bits;
      // The prefixes covering this one are its own shorter maskings.
      for (let len = 0; len < e.p.len; len++) bits |= listed.get(lpmKey({ addr: masked(e.p.addr, len), len }).toString('hex'))?.bits ?? 0;
      m.set(key, bits);
    }
  }
  return out;
}

// Keeps one LPM map equal to a wanted set: writes changed entries, then deletes stale ones.
export class XfrmSelectorSync {
  private current = new Map<string, number>();

  constructor(
    private readonly native: NativeAddon,
    private readonly fd: number,
  ) {
    for (const { key, value } of native.mapDump(fd)) this.current.set(key.toString('hex'), value[0]);
  }

  apply(want: Map<string, number>): number {
    if (want.size > XFRM_PREFIXES) throw new Error(`${want.size} IPsec selector prefixes, more than the fast path holds (${XFRM_PREFIXES})`);
    let n = 0;
    for (const [k, bits] of want) {
      if (this.current.get(k) === bits) continue;
      this.native.mapUpdate(this.fd, Buffer.from(k, 'hex'), Buffer.from([bits]));
      this.current.set(k, bits);
      n++;
    }
    for (const k of [...this.current.keys()]) {
      if (want.has(k)) continue;
      this.native.mapDelete(this.fd, Buffer.from(k, 'hex'));
      this.current.delete(k);
      n++;
    }
    return n;
  }
}
