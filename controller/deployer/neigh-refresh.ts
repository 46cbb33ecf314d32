// l3-router marks the next hops it forwards to (ss_nh_used, bpf/include/ss_maps.h). The
// kernel never transmits through those neighbour entries, so it would neither verify a
// STALE one nor see it used. Each refresh turns the marks into RTM_NEWNEIGH with NTF_USE,
// which does what a transmit does (neigh_event_send): a STALE entry goes to DELAY and is
// probed, a dead next hop ends FAILED (and the FIB lookup then hands its packets to the
// kernel), and the entry counts as used for garbage collection. The marks are bits of a
// hash; the neighbour table (the introspector's model) says which entries they stand for.

import { parseV4, parseV6 } from '../epping/addr';

export const NH_BITS = 8192; // SS_NH_BITS
export const NH_MARKS_SIZE = NH_BITS / 8; // struct ss_nh_marks: one CPU's bitmap, bytes

const RTM_NEWNEIGH = 28;
const NLM_F_REQUEST = 0x1;
const NLM_F_REPLACE = 0x100;
const NUD_PERMANENT = 0x80; // ignored with NTF_USE; what `ip neigh change ... use` sends
const NTF_USE = 0x01;
const NDA_DST = 1;
const AF_INET = 2;
const AF_INET6 = 10;
// States a transmit acts on: REACHABLE, STALE, DELAY, PROBE. Others need no NTF_USE, and
// one sent to a FAILED entry because its bit is shared would start a needless resolution.
const NUD_IN_USE = 0x02 | 0x04 | 0x08 | 0x10;

export interface NextHopUse {
  family: 4 | 6;
  ifindex: number;
  addr: Buffer; // 4 or 16 bytes, network order
}

export interface NeighbourEntry {
  family: 4 | 6;
  ifindex: number;
  dst: string;
  state: number; // NUD_*
}

// ss_nh_bit() of bpf/include/ss_maps.h: the address as little-endian words, as the FPM
// loads it (IPv4: one word, the rest 0), and the neighbour's device.
export function nhBit(addr: Buffer, ifindex: number): number {
  const w = (i: number): number => (addr.length >= (i + 1) * 4 ? addr.readUInt32LE(i * 4) : 0);
  let h = Math.imul(w(0), 0x9e3779b1) ^ Math.imul(w(1), 0x85ebca77) ^ Math.imul(w(2), 0xc2b2ae3d) ^ Math.imul(w(3), 0x27d4eb2f) ^ Math.imul(ifindex, 0x165667b1);
  h = (h ^ (h >>> 15)) >>> 0;
  return Math.imul(h, 0x2c1b3c6d) >>> 19;
}

// The union of every CPU's bitmap in a per-CPU lookup of ss_nh_used (each CPU's copy in
// turn). Bit b sits in byte b >> 3: the BPF side's u64 words are little-endian.
export function mergeMarks(value: Buffer, ncpu: number): Buffer {
  const out = Buffer.alloc(NH_MARKS_SIZE);
  for (let c = 0; c < ncpu; c++) {
    const o = c * NH_MARKS_SIZE;
    if (o + NH_MARKS_SIZE > value.length) break;
    for (let i = 0; i < NH_MARKS_SIZE; i++) out[i] |= value[o + i];
  }
  return out;
}

function isMarked(marks: Buffer, bit: number): boolean {
  return (marks[bit >> 3] & (1 << (bit & 7))) !== 0;
}

// The neighbour entries whose bit is set, among those a transmit would act on.
export function usedNextHops(marks: Buffer, neighbours: Iterable<NeighbourEntry>): NextHopUse[] {
  const used: NextHopUse[] = [];
  for (const n of neighbours) {
    if (!(n.state & NUD_IN_USE)) continue;
    const addr = n.family === 4 ? parseV4(n.dst) : parseV6(n.dst);
    if (addr && isMarked(marks, nhBit(addr, n.ifindex))) used.push({ family: n.family, ifindex: n.ifindex, addr });
  }
  return used;
}

export function neighUseMessage(n: NextHopUse, seq: number): Buffer {
  const dst = Buffer.alloc(4 + n.addr.length);
  dst.writeUInt16LE(4 + n.addr.length, 0);
  dst.writeUInt16LE(NDA_DST, 2);
  n.addr.copy(dst, 4);
  const nd = Buffer.alloc(12);
  nd.writeUInt8(n.family === 4 ? AF_INET : AF_INET6, 0);
  nd.writeInt32LE(n.ifindex, 4);
  nd.writeUInt16LE(NUD_PERMANENT, 8);
  nd.writeUInt8(NTF_USE, 10);
  const body = Buffer.concat([nd, dst]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(RTM_NEWNEIGH, 4);
  hdr.writeUInt16LE(NLM_F_REQUEST | NLM_F_REPLACE, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([hdr, body]);
}
