// controller/epping/layout.ts must agree with bpf/include/ss_epping.h and the built object.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as L from '../../controller/epping/layout';
import { parseAddr } from '../../controller/epping/addr';

const root = path.resolve(__dirname, '..', '..', '..');
const header = fs.readFileSync(path.join(root, 'bpf', 'include', 'ss_epping.h'), 'utf8');

t.test('counter names and ids match SS_EP_COUNTERS', async (tt) => {
  const found = [...header.matchAll(/C\((SS_EP_C_\w+),\s*(\d+),\s*"(\w+)"/g)].map((m) => ({ id: Number(m[2]), name: m[3] }));
  tt.ok(found.length >= 10, 'header parsed');
  for (const f of found) tt.equal(L.COUNTER_NAMES[f.id], f.name, `counter ${f.id}`);
  tt.equal(found.length, L.COUNTER_NAMES.length);
  tt.match(header, new RegExp(`#define SS_EP_NR_COUNTERS ${L.NR_COUNTERS}\\b`));
});

t.test('struct sizes agree with the static asserts and the object BTF', async (tt) => {
  const asserts = Object.fromEntries(
    [...header.matchAll(/sizeof\(struct (ss_ep_\w+)\) == (\d+)/g)].map((m) => [m[1], Number(m[2])]),
  );
  tt.same(asserts, {
    ss_ep_tuple: L.TUPLE_SIZE,
    ss_ep_ts_key: L.TS_KEY_SIZE,
    ss_ep_dir: L.DIR_SIZE,
    ss_ep_flow: L.FLOW_VAL_SIZE,
    ss_ep_rtt_event: L.RTT_EVENT_SIZE,
    ss_ep_flow_event: L.FLOW_EVENT_SIZE,
    ss_ep_hist_key: L.HIST_KEY_SIZE,
    ss_ep_hist_val: L.HIST_VAL_SIZE,
  });
  tt.match(header, new RegExp(`#define SS_EP_HIST_BUCKETS ${L.HIST_BUCKETS}\\b`));
  tt.match(header, new RegExp(`#define SS_EP_QUIET_WAYS ${L.QUIET_WAYS}\\b`));
  const obj = path.join(root, 'build', 'bpf', 'fpm', 'epping.bpf.o');
  const btf = execFileSync('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw'], { encoding: 'utf8' });
  const size = (name: string): number => Number(new RegExp(`STRUCT '${name}' size=(\\d+)`).exec(btf)?.[1]);
  tt.equal(size('ss_ep_ts_val'), L.TS_VAL_SIZE);
  tt.equal(size('ss_ep_dir'), L.DIR_SIZE);
  tt.equal(size('ss_ep_flow'), L.FLOW_VAL_SIZE);
  tt.equal(size('ss_ep_hist_val'), L.HIST_VAL_SIZE);
  const flow = /STRUCT 'ss_ep_flow' size=\d+ vlen=\d+\n((?:\t.*\n)+)/.exec(btf)?.[1] ?? '';
  tt.match(flow, new RegExp(`'tuple' type_id=\\d+ bits_offset=${L.FLOW_TUPLE_OFFSET * 8}\\b`), 'the canonical tuple sits at FLOW_TUPLE_OFFSET');
  tt.match(flow, new RegExp(`'dir' type_id=\\d+ bits_offset=${L.dirOffset(0) * 8}\\b`), 'dir[0] sits at dirOffset(0)');
  const dir = /STRUCT 'ss_ep_dir' size=\d+ vlen=\d+\n((?:\t.*\n)+)/.exec(btf)?.[1] ?? '';
  tt.match(dir, new RegExp(`'outstanding' type_id=\\d+ bits_offset=${(L.outstandingOffset(0) - L.dirOffset(0)) * 8}\\b`), 'outstanding where the cleanup writes it');
  tt.match(dir, /'last_seen_ns' type_id=\d+ bits_offset=64\b/);
  tt.match(dir, /'min_rtt_ns' type_id=\d+ bits_offset=256\b/);
});

function tuple(src: string, dst: string, sport: number, dport: number, proto: number): Buffer {
  const b = Buffer.alloc(L.TUPLE_SIZE);
  const s = parseAddr(src);
  parseAddr(dst).bytes.copy(b, 16);
  s.bytes.copy(b, 0);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  b[36] = proto;
  b[37] = s.ipv;
  return b;
}

t.test('records decode', async (tt) => {
  const rtt = Buffer.alloc(L.RTT_EVENT_SIZE);
  rtt.writeUInt32LE(L.EV_RTT, 0);
  rtt.writeUInt32LE(7, 4);
  rtt.writeBigUInt64LE(123456789n, 8);
  rtt.writeBigUInt64LE(2_500_000n, 16);
  rtt.writeBigUInt64LE(2_000_000n, 24);
  rtt.writeBigUInt64LE(2_400_000n, 32);
  tuple('198.18.1.2', '198.18.2.2', 40000, 5201, 6).copy(rtt, 40);
  rtt.writeUInt32LE(3, 80);
  rtt.writeUInt32LE(0xdeadbeef, 84);
  tt.same(L.decodeRecord(rtt), {
    type: 'rtt',
    ifindex: 7,
    timeNs: 123456789n,
    rttNs: 2_500_000n,
    minRttNs: 2_000_000n,
    srttNs: 2_400_000n,
    flow: { src: '198.18.1.2', dst: '198.18.2.2', sport: 40000, dport: 5201, proto: 'tcp', ipv: 4 },
    reqIfindex: 3,
    id: 0xdeadbeef,
  });
  const fl = Buffer.alloc(L.FLOW_EVENT_SIZE);
  fl.writeUInt32LE(L.EV_FLOW, 0);
  fl.writeUInt32LE(4, 4);
  tuple('2001:2:0:1::2', '2001:2:0:2::2', 9, 9, 58).copy(fl, 16);
  fl[56] = L.FLOW_CLOSE;
  fl[57] = 5;
  tt.match(L.decodeRecord(fl), { type: 'flow', event: 'close', reason: 'rst', flow: { src: '2001:2:0:1::2', proto: 'icmpv6', ipv: 6 } });
  tt.throws(() => L.decodeRecord(Buffer.alloc(4)), /record/);
  const bad = Buffer.from(fl);
  bad.writeUInt32LE(9, 0);
  tt.throws(() => L.decodeRecord(bad), /unknown record type 9/);
  const badProto = Buffer.from(fl);
  badProto[16 + 36] = 17;
  tt.throws(() => L.decodeRecord(badProto), /protocol 17/);
});

t.test('canonical order matches the BPF rule and is symmetric', async (tt) => {
  const a = tuple('198.18.1.2', '198.18.2.2', 40000, 5201, 6);
  const b = L.reverseTuple(a);
  const ca = L.canonical(a);
  const cb = L.canonical(b);
  tt.ok(ca.key.equals(cb.key), 'same key both ways');
  tt.not(ca.dir, cb.dir, 'opposite directions');
  const same = tuple('198.18.1.2', '198.18.1.2', 5, 9, 6);
  tt.equal(L.canonical(same).dir, L.canonical(L.reverseTuple(same)).dir === 0 ? 1 : 0);
});

t.test('buckets: four per octave, bounds contain their values', async (tt) => {
  tt.equal(L.bucketOf(0), 0);
  tt.equal(L.bucketOf(1023), 0);
  tt.equal(L.bucketOf(1024), 1);
  tt.equal(L.bucketOf(1279), 1);
  tt.equal(L.bucketOf(1280), 2);
  tt.equal(L.bucketOf(2048), 5);
  tt.equal(L.bucketOf(2 ** 60), L.HIST_BUCKETS - 1);
  for (const ns of [1500, 4096, 25_000, 1_000_000, 23_456_789, 3_000_000_000]) {
    const [lo, hi] = L.bucketBounds(L.bucketOf(ns));
    tt.ok(lo <= ns && ns < hi, `${ns} in [${lo}, ${hi})`);
    tt.ok((hi - lo) / lo <= 0.25, 'at most 25% wide');
  }
});

t.test('per-CPU histogram values merge', async (tt) => {
  const stride = L.HIST_VAL_SIZE;
  const buf = Buffer.alloc(stride * 3);
  const put = (cpu: number, count: number, sum: number, min: number, max: number, bucket: number): void => {
    const o = cpu * stride;
    buf.writeBigUInt64LE(BigInt(count), o);
    buf.writeBigUInt64LE(BigInt(sum), o + 8);
    buf.writeBigUInt64LE(BigInt(min), o + 16);
    buf.writeBigUInt64LE(BigInt(max), o + 24);
    buf.writeUInt32LE(count, o + 32 + bucket * 4);
  };
  put(0, 2, 3000, 1000, 2000, 1);
  put(2, 1, 9000, 9000, 9000, 10);
  const h = L.mergeHistValues(buf, 3);
  tt.match(h, { count: 3, sumNs: 12000, minNs: 1000, maxNs: 9000 });
  tt.equal(h.buckets[1], 2);
  tt.equal(h.buckets[10], 1);
  tt.throws(() => L.mergeHistValues(buf, 4));
});
