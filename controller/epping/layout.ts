// Byte layouts of bpf/include/ss_epping.h (x86-64, little endian). Change both together;
// test/unit/epping-layout.test.ts checks the sizes and counters against the header.
import { formatAddr } from './addr';

export const TUPLE_SIZE = 40;
export const TS_KEY_SIZE = 48;
export const TS_VAL_SIZE = 16;
export const DIR_SIZE = 48;
export const FLOW_KEY_SIZE = 4; // slot index: set × FLOW_WAYS + way
export const FLOW_WAYS = 8; // SS_EP_FLOW_WAYS
export const QUIET_WAYS = 4; // SS_EP_QUIET_WAYS: ways per set of ss_ep_quiet
export const FLOW_VAL_SIZE = 152;
export const FLOW_TUPLE_OFFSET = 0; // the canonical tuple, inside the value
export const FLOW_DIR_OFFSET = 40; // dir[0]; dir[1] follows
export const RTT_EVENT_SIZE = 88;
export const FLOW_EVENT_SIZE = 64;
export const HIST_KEY_SIZE = 24;
export const HIST_BUCKETS = 128;
export const HIST_MIN_EXP = 10;
export const HIST_VAL_SIZE = 32 + HIST_BUCKETS * 4;
export const LOCAL_KEY_SIZE = 16;

export const EV_RTT = 1;
export const EV_FLOW = 2;
export const FLOW_OPEN = 1;
export const FLOW_CLOSE = 2;

export const DIR_HAVE_ID = 1 << 0;
export const DIR_FIN = 1 << 1;
export const DIR_SEEN = 1 << 2;
export const DIR_ID_STALE = 1 << 3;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_ICMPV6 = 58;

// Every map the epping objects declare; all are shared (one instance per netns).
export const EPPING_MAPS = ['ss_ep_flows', 'ss_ep_seed', 'ss_ep_ts', 'ss_ep_hist', 'ss_ep_hzero', 'ss_ep_local', 'ss_ep_events', 'ss_ep_stats', 'ss_ep_quiet'] as const;
export type EppingMapName = (typeof EPPING_MAPS)[number];

export type EppingProto = 'tcp' | 'icmp' | 'icmpv6';
export type FlowReason = 'syn' | 'syn_ack' | 'first_packet' | 'fin' | 'rst' | 'timeout';

export const REASONS: Record<number, FlowReason> = { 1: 'syn', 2: 'syn_ack', 3: 'first_packet', 4: 'fin', 5: 'rst', 6: 'timeout' };

// SS_EP_COUNTERS in the header, by index.
export const COUNTER_NAMES = [
  'packets',
  'timestamps',
  'ts_map_full',
  'samples',
  'ringbuf_drops',
  'flows_opened',
  'flows_map_full',
  'flows_closed',
  'local_skipped',
  'rate_limited',
  'not_newer',
  'hist_map_full',
  'pure_ack',
  'no_match',
  'flow_collision',
  'id_resync',
  'quiet',
  'flow_claim_lost',
] as const;
export const NR_COUNTERS = 18;

export function protoName(proto: number, ipv: number): EppingProto | null {
  if (proto === IPPROTO_TCP) return 'tcp';
  if (proto === IPPROTO_ICMP && ipv === 4) return 'icmp';
  if (proto === IPPROTO_ICMPV6 && ipv === 6) return 'icmpv6';
  return null;
}

export interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: EppingProto;
  ipv: 4 | 6;
}

export function decodeTuple(b: Buffer, off = 0): Tuple {
  const protoNum = b[off + 36];
  const ipv = b[off + 37] === 6 ? 6 : 4;
  const proto = protoName(protoNum, ipv);
  if (!proto) throw new Error(`epping: tuple with protocol ${protoNum}/IPv${ipv}`);
  return {
    src: formatAddr(b, off, ipv),
    dst: formatAddr(b, off + 16, ipv),
    sport: b.readUInt16BE(off + 32),
    dport: b.readUInt16BE(off + 34),
    proto,
    ipv,
  };
}

export function reverseTuple(b: Buffer, off = 0): Buffer {
  const out = Buffer.from(b.subarray(off, off + TUPLE_SIZE));
  b.copy(out, 0, off + 16, off + 32);
  b.copy(out, 16, off, off + 16);
  b.copy(out, 32, off + 34, off + 36);
  b.copy(out, 34, off + 32, off + 34);
  return out;
}

// The flow map's key for a directional tuple, as ep_src_is_lower() orders endpoints.
export function canonical(tuple: Buffer): { key: Buffer; dir: 0 | 1 } {
  const s0 = tuple.readBigUInt64LE(0);
  const s1 = tuple.readBigUInt64LE(8);
  const d0 = tuple.readBigUInt64LE(16);
  const d1 = tuple.readBigUInt64LE(24);
  let lower: boolean;
  if (s0 !== d0) lower = s0 < d0;
  else if (s1 !== d1) lower = s1 < d1;
  else lower = tuple.readUInt16LE(32) <= tuple.readUInt16LE(34);
  return lower ? { key: Buffer.from(tuple.subarray(0, TUPLE_SIZE)), dir: 0 } : { key: reverseTuple(tuple), dir: 1 };
}

export interface RttRecord {
  type: 'rtt';
  ifindex: number;
  timeNs: bigint;
  rttNs: bigint;
  minRttNs: bigint;
  srttNs: bigint;
  flow: Tuple;
  reqIfindex: number;
  id: number;
}

export interface FlowRecord {
  type: 'flow';
  ifindex: number;
  timeNs: bigint;
  flow: Tuple;
  event: 'open' | 'close';
  reason: FlowReason;
}

export type EppingRecord = RttRecord | FlowRecord;

// One ring-buffer record; throws on a record that is not one of ours.
export function decodeRecord(b: Buffer): EppingRecord {
  if (b.length < 8) throw new Error(`epping: ${b.length}-byte record`);
  const type = b.readUInt32LE(0);
  if (type === EV_RTT) {
    if (b.length < RTT_EVENT_SIZE) throw new Error(`epping: short RTT record (${b.length} bytes)`);
    return {
      type: 'rtt',
      ifindex: b.readUInt32LE(4),
      timeNs: b.readBigUInt64LE(8),
      rttNs: b.readBigUInt64LE(16),
      minRttNs: b.readBigUInt64LE(24),
      srttNs: b.readBigUInt64LE(32),
      flow: decodeTuple(b, 40),
      reqIfindex: b.readUInt32LE(80),
      id: b.readUInt32LE(84),
    };
  }
  if (type === EV_FLOW) {
    if (b.length < FLOW_EVENT_SIZE) throw new Error(`epping: short flow record (${b.length} bytes)`);
    const ev = b[56];
    const reason = REASONS[b[57]];
    if ((ev !== FLOW_OPEN && ev !== FLOW_CLOSE) || !reason) throw new Error(`epping: flow record with event ${ev} reason ${b[57]}`);
    return {
      type: 'flow',
      ifindex: b.readUInt32LE(4),
      timeNs: b.readBigUInt64LE(8),
      flow: decodeTuple(b, 16),
      event: ev === FLOW_OPEN ? 'open' : 'close',
      reason,
    };
  }
  throw new Error(`epping: unknown record type ${type}`);
}

export interface DirState {
  lastTsNs: bigint;
  lastSeenNs: bigint;
  minRttNs: bigint;
  srttNs: bigint;
  lastId: number;
  outstanding: number;
  ifindex: number;
  flags: number;
}

export interface FlowState {
  dir: [DirState, DirState];
  openedNs: bigint;
  openReason: FlowReason | null;
  local: boolean; // SS_EP_FLOW_LOCAL: an end is the box (only kept with egress_tc)
  tuple: Buffer; // the canonical tuple the entry belongs to (its key is only a slot)
}

function decodeDir(b: Buffer, off: number): DirState {
  return {
    lastTsNs: b.readBigUInt64LE(off),
    lastSeenNs: b.readBigUInt64LE(off + 8),
    lastId: b.readUInt32LE(off + 16),
    outstanding: b.readUInt32LE(off + 20),
    ifindex: b.readUInt32LE(off + 24),
    flags: b.readUInt32LE(off + 28),
    minRttNs: b.readBigUInt64LE(off + 32),
    srttNs: b.readBigUInt64LE(off + 40),
  };
}

export function decodeFlow(b: Buffer): FlowState {
  return {
    dir: [decodeDir(b, dirOffset(0)), decodeDir(b, dirOffset(1))],
    openedNs: b.readBigUInt64LE(FLOW_TAIL_OFFSET),
    openReason: REASONS[b[FLOW_TAIL_OFFSET + 8]] ?? null,
    local: (b[FLOW_TAIL_OFFSET + 9] & 1) !== 0,
    tuple: Buffer.from(b.subarray(FLOW_TUPLE_OFFSET, FLOW_TUPLE_OFFSET + TUPLE_SIZE)),
  };
}

const FLOW_TAIL_OFFSET = FLOW_DIR_OFFSET + 2 * DIR_SIZE; // opened_ns, open_reason, flags

// Offset of dir[d] inside a flow value.
export function dirOffset(dir: 0 | 1): number {
  return FLOW_DIR_OFFSET + dir * DIR_SIZE;
}

// Offset of dir[d].outstanding inside a flow value.
export function outstandingOffset(dir: 0 | 1): number {
  return dirOffset(dir) + 20;
}

export interface TsEntry {
  flow: Buffer; // the 40-byte directional tuple
  id: number;
  tsNs: bigint;
  ifindex: number;
}

export function decodeTsKey(b: Buffer): { flow: Buffer; id: number } {
  return { flow: Buffer.from(b.subarray(0, TUPLE_SIZE)), id: b.readUInt32LE(TUPLE_SIZE) };
}

export function decodeTsVal(b: Buffer): { tsNs: bigint; ifindex: number } {
  return { tsNs: b.readBigUInt64LE(0), ifindex: b.readUInt32LE(8) };
}

export interface HistKey {
  prefix: string; // e.g. '198.18.2.0/24'
  ifindex: number;
  ipv: 4 | 6;
  prefixLen: number;
}

export function decodeHistKey(b: Buffer): HistKey {
  const ipv = b[20] === 6 ? 6 : 4;
  const prefixLen = b[21];
  return { prefix: `${formatAddr(b, 0, ipv)}/${prefixLen}`, ifindex: b.readUInt32LE(16), ipv, prefixLen };
}

export interface HistValue {
  count: number;
  sumNs: number;
  minNs: number; // 0 when count is 0
  maxNs: number;
  buckets: number[];
}

// Merges the per-CPU copies of one ss_ep_hist value (each CPU's slot rounded up to 8 bytes).
export function mergeHistValues(buf: Buffer, ncpu: number): HistValue {
  const stride = Math.ceil(HIST_VAL_SIZE / 8) * 8;
  if (buf.length < stride * ncpu) throw new Error(`epping: histogram value of ${buf.length} bytes for ${ncpu} CPUs`);
  const out: HistValue = { count: 0, sumNs: 0, minNs: 0, maxNs: 0, buckets: new Array<number>(HIST_BUCKETS).fill(0) };
  for (let c = 0; c < ncpu; c++) {
    const o = c * stride;
    const count = Number(buf.readBigUInt64LE(o));
    if (count === 0) continue;
    out.count += count;
    out.sumNs += Number(buf.readBigUInt64LE(o + 8));
    const mn = Number(buf.readBigUInt64LE(o + 16));
    const mx = Number(buf.readBigUInt64LE(o + 24));
    if (out.minNs === 0 || (mn > 0 && mn < out.minNs)) out.minNs = mn;
    if (mx > out.maxNs) out.maxNs = mx;
    for (let i = 0; i < HIST_BUCKETS; i++) out.buckets[i] += buf.readUInt32LE(o + 32 + i * 4);
  }
  return out;
}

// [lower, upper) bounds in ns of histogram bucket i (see ss_epping.h).
export function bucketBounds(i: number): [number, number] {
  if (i <= 0) return [0, 2 ** HIST_MIN_EXP];
  const e = HIST_MIN_EXP + Math.floor((i - 1) / 4);
  const s = (i - 1) % 4;
  const step = 2 ** (e - 2);
  return [2 ** e + s * step, 2 ** e + (s + 1) * step];
}

// The bucket ep_bucket() picks, for tests and fixtures.
export function bucketOf(ns: number): number {
  if (ns < 2 ** HIST_MIN_EXP) return 0;
  const e = Math.floor(Math.log2(ns));
  // log2 of an exact power of two can round down; correct by checking.
  const ee = 2 ** (e + 1) <= ns ? e + 1 : 2 ** e > ns ? e - 1 : e;
  const sub = Math.floor(ns / 2 ** (ee - 2)) & 3;
  return Math.min(HIST_BUCKETS - 1, 1 + (ee - HIST_MIN_EXP) * 4 + sub);
}

export function encodeLocalKey(addr16: Buffer): Buffer {
  if (addr16.length !== LOCAL_KEY_SIZE) throw new Error('epping: local address key must be 16 bytes');
  return Buffer.from(addr16);
}
