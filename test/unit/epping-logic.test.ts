// Pure logic of the latency monitor: addresses, filters, the sample store, formats,
// histogram statistics, cleanup decisions and the config -> knob mapping.
import t from 'tap';
import { cidrContains, formatV6, parseAddr, parseCidr } from '../../controller/epping/addr';
import { collect, quantileNs, summarise } from '../../controller/epping/aggregate';
import { cleanup, defaultPolicy, tsLifetimeNs, type MapOps } from '../../controller/epping/cleanup';
import { FlowTable, type FlowOps, type FlowTableMaps } from '../../controller/epping/flow-table';
import { formatSample } from '../../controller/epping/format';
import { DEFAULT_EPPING_CONFIG, eppingKnobs, eppingMapSizes, flowSlots, ringbufSize, tickNs } from '../../controller/epping/knobs';
import { hzFromConfig } from '../../controller/util/kernel-hz';
import * as L from '../../controller/epping/layout';
import type { RttSample } from '../../controller/epping/sample';
import { SampleStore } from '../../controller/epping/store';
import { EppingService } from '../../controller/epping';
import { silentLogger } from '../../controller/util/log';
import YAML from 'yaml';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');

function sample(o: Partial<RttSample> = {}): RttSample {
  return {
    time: '2024-05-01T10:11:12.345Z',
    time_us: Date.UTC(2024, 4, 1, 10, 11, 12) * 1000 + 345678,
    src: '198.18.1.2',
    dst: '198.18.2.2',
    sport: 40000,
    dport: 5201,
    proto: 'tcp',
    rtt_us: 23456.789,
    min_rtt_us: 4000.5,
    srtt_us: 20000,
    device: 'wan0',
    side: 'wan',
    req_device: 'lan0',
    id: 1,
    ...o,
  };
}

t.test('addresses', async (tt) => {
  tt.equal(parseAddr('198.18.0.1').ipv, 4);
  tt.equal(parseAddr('198.18.0.1').bytes.toString('hex'), '00000000000000000000ffffc6120001');
  tt.equal(formatV6(parseAddr('2001:2::1').bytes), '2001:2::1');
  tt.equal(formatV6(parseAddr('2001:2:0:0:1:0:0:1').bytes), '2001:2::1:0:0:1', 'longest zero run first');
  tt.equal(formatV6(parseAddr('::').bytes), '::');
  tt.equal(formatV6(parseAddr('2001:db8:1:2:3:4:5:6').bytes), '2001:db8:1:2:3:4:5:6');
  tt.equal(formatV6(parseAddr('::ffff:1.2.3.4').bytes), '::ffff:102:304');
  for (const bad of ['', '1.2.3', '256.1.1.1', '1::2::3', 'fe80::1%eth0', '12345::', 'x']) tt.throws(() => parseAddr(bad), bad);
  const c = parseCidr('198.18.0.0/15');
  tt.ok(cidrContains(c, parseAddr('198.19.200.1').bytes));
  tt.notOk(cidrContains(c, parseAddr('198.20.0.1').bytes));
  tt.ok(cidrContains(parseCidr('2001:2::/48'), parseAddr('2001:2:0:ffff::1').bytes));
  tt.notOk(cidrContains(parseCidr('2001:2::/48'), parseAddr('198.18.0.1').bytes));
  tt.throws(() => parseCidr('198.18.0.0/33'));
});

t.test('sample store: bounded, newest N oldest first, filters', async (tt) => {
  const st = new SampleStore(5);
  for (let i = 0; i < 8; i++) st.add(sample({ rtt_us: i, proto: i % 2 ? 'icmp' : 'tcp', dst: `198.18.2.${i}` }));
  tt.equal(st.size, 5);
  tt.same(st.all().map((s) => s.rtt_us), [3, 4, 5, 6, 7]);
  tt.same(st.query({ limit: 2 }).map((s) => s.rtt_us), [6, 7]);
  tt.same(st.query({ proto: 'icmp' }).map((s) => s.rtt_us), [3, 5, 7]);
  tt.same(st.query({ dst: '198.18.2.4' }).map((s) => s.rtt_us), [4]);
  tt.same(st.query({ dst: '198.18.2.4/31' }).map((s) => s.rtt_us), [4, 5]);
  tt.same(st.query({ host: '198.18.1.2' }).length, 5);
  tt.same(st.query({ device: 'lan0' }).length, 0);
  tt.same(st.query({ side: 'wan', limit: 1 }).map((s) => s.rtt_us), [7]);
  tt.throws(() => st.query({ src: 'nope' }), { name: 'FilterError', statusCode: 400 });
  tt.throws(() => new SampleStore(0));
});

t.test('formats', async (tt) => {
  const s = sample();
  const std = formatSample(s, 'standard');
  tt.match(std, /^\d\d:\d\d:\d\d\.345678 23\.456789 ms 4\.000500 ms TCP 198\.18\.1\.2:40000\+198\.18\.2\.2:5201$/);
  tt.same(JSON.parse(formatSample(s, 'json')), s);
  tt.equal(formatSample(s, 'ppviz'), '1714558272.345678000 0.023456789 0.004000500 198.18.1.2:40000+198.18.2.2:5201');
  tt.match(formatSample(sample({ src: '2001:2::1', dst: '2001:2::2', proto: 'icmpv6', sport: 7, dport: 7 })), /ICMPV6 \[2001:2::1\]:7\+\[2001:2::2\]:7$/);
});

function hist(values: number[]): L.HistValue {
  const h: L.HistValue = { count: 0, sumNs: 0, minNs: 0, maxNs: 0, buckets: new Array<number>(L.HIST_BUCKETS).fill(0) };
  for (const v of values) {
    h.count++;
    h.sumNs += v;
    h.minNs = h.minNs === 0 ? v : Math.min(h.minNs, v);
    h.maxNs = Math.max(h.maxNs, v);
    h.buckets[L.bucketOf(v)]++;
  }
  return h;
}

t.test('histogram statistics stay within a bucket width of the truth', async (tt) => {
  const vals: number[] = [];
  for (let i = 1; i <= 1000; i++) vals.push(1_000_000 + i * 20_000); // 1.02 .. 21 ms
  const h = hist(vals);
  const sorted = [...vals].sort((a, b) => a - b);
  const p50 = sorted[499];
  const p95 = sorted[949];
  tt.ok(Math.abs(quantileNs(h, 0.5) - p50) / p50 < 0.13, `p50 ${quantileNs(h, 0.5)} vs ${p50}`);
  tt.ok(Math.abs(quantileNs(h, 0.95) - p95) / p95 < 0.13, `p95 ${quantileNs(h, 0.95)} vs ${p95}`);
  const s = summarise(h);
  tt.equal(s.count, 1000);
  tt.equal(s.min_us, 1020);
  tt.equal(s.max_us, 21000);
  tt.equal(s.mean_us, vals.reduce((a, b) => a + b, 0) / 1000 / 1000);
  tt.equal(s.histogram.reduce((a, b) => a + b.count, 0), 1000);
  const one = summarise(hist([5_000_000]));
  tt.same([one.p50_us, one.p95_us, one.min_us, one.max_us], [5000, 5000, 5000, 5000], 'clamped to min/max');
  tt.equal(quantileNs(hist([]), 0.5), 0);
});

t.test('collect reads, names and resets', async (tt) => {
  const key = Buffer.alloc(L.HIST_KEY_SIZE);
  parseAddr('198.18.2.0').bytes.copy(key, 0);
  key.writeUInt32LE(9, 16);
  key[20] = 4;
  key[21] = 24;
  const val = Buffer.alloc(L.HIST_VAL_SIZE * 2);
  val.writeBigUInt64LE(1n, L.HIST_VAL_SIZE);
  val.writeBigUInt64LE(3_000_000n, L.HIST_VAL_SIZE + 8);
  val.writeBigUInt64LE(3_000_000n, L.HIST_VAL_SIZE + 16);
  val.writeBigUInt64LE(3_000_000n, L.HIST_VAL_SIZE + 24);
  val.writeUInt32LE(1, L.HIST_VAL_SIZE + 32 + L.bucketOf(3_000_000) * 4);
  let deleted: Buffer[] = [];
  const out = collect(
    { dump: () => [{ key, value: val }], deleteKeys: (k) => (deleted = k), ncpu: 2 },
    (i) => ({ device: `if${i}`, side: 'wan' }),
  );
  tt.match(out, [{ prefix: '198.18.2.0/24', device: 'if9', side: 'wan', count: 1, min_us: 3000, p50_us: 3000, max_us: 3000 }]);
  tt.equal(deleted.length, 1);
});

// A map in a JS Map, hex keys.
function fakeMap(): MapOps & { m: Map<string, Buffer> } {
  const m = new Map<string, Buffer>();
  return {
    m,
    dump: () => [...m].map(([k, v]) => ({ key: Buffer.from(k, 'hex'), value: Buffer.from(v) })),
    delete: (k) => m.delete(k.toString('hex')),
  };
}

// An array map's slots, as the addon would show them to FlowTable.
function fakeArray(slots: number): FlowTableMaps & { m: Map<string, Buffer> } {
  const m = new Map<string, Buffer>();
  for (let i = 0; i < slots; i++) m.set(slotKey(i).toString('hex'), Buffer.alloc(L.FLOW_VAL_SIZE));
  const set = (k: Buffer, v: Buffer): void => {
    if (!m.has(k.toString('hex'))) throw new Error('E2BIG');
    m.set(k.toString('hex'), Buffer.from(v));
  };
  return {
    m,
    mapDump: () => [...m].map(([k, v]) => ({ key: Buffer.from(k, 'hex'), value: Buffer.from(v) })),
    mapLookup: (_fd, k) => (m.has(k.toString('hex')) ? Buffer.from(m.get(k.toString('hex')) as Buffer) : null),
    mapUpdate: (_fd, k, v) => set(k, v),
    mapUpdateBatch: (_fd, ks, vs) => ks.forEach((k, i) => set(k, vs[i])),
  };
}

function slotKey(i: number): Buffer {
  const k = Buffer.alloc(L.FLOW_KEY_SIZE);
  k.writeUInt32LE(i);
  return k;
}

function tupleBuf(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(L.TUPLE_SIZE);
  parseAddr(src).bytes.copy(b, 0);
  parseAddr(dst).bytes.copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  b[36] = 6;
  b[37] = 4;
  return b;
}

t.test('cleanup: stale timestamps, outstanding, idle flows', async (tt) => {
  const arr = fakeArray(16);
  const flows = new FlowTable(arr, 0);
  const ts = fakeMap();
  const S = 1_000_000_000n;
  const now = 1000n * S;
  const fwd = tupleBuf('198.18.1.2', '198.18.2.2', 40000, 5201);
  const { key: canon, dir } = L.canonical(fwd);
  const key = slotKey(5); // the slot the FPM claimed in the set its hash of the tuple picked
  const fv = Buffer.alloc(L.FLOW_VAL_SIZE);
  canon.copy(fv, L.FLOW_TUPLE_OFFSET);
  fv.writeBigUInt64LE(now - S, L.dirOffset(dir) + 8); // last seen 1 s ago
  fv.writeBigUInt64LE(5_000_000n, L.dirOffset(dir) + 32); // min RTT 5 ms -> lifetime 1 s
  fv.writeUInt32LE(3, L.outstandingOffset(dir));
  arr.m.set(key.toString('hex'), fv);
  // The same tuple in another slot, idle longer: made before the seed was written.
  const orphanKey = slotKey(12);
  const ov = Buffer.from(fv);
  ov.writeBigUInt64LE(now - 100n * S, L.dirOffset(dir) + 8);
  arr.m.set(orphanKey.toString('hex'), ov);
  tt.equal(flows.dump().length, 2, 'two live slots of 16');
  const tsKey = (id: number): Buffer => {
    const k = Buffer.alloc(L.TS_KEY_SIZE);
    fwd.copy(k, 0);
    k.writeUInt32LE(id, L.TUPLE_SIZE);
    return k;
  };
  const tsVal = (age: bigint): Buffer => {
    const v = Buffer.alloc(L.TS_VAL_SIZE);
    v.writeBigUInt64LE(now - age, 0);
    return v;
  };
  ts.m.set(tsKey(1).toString('hex'), tsVal(2n * S)); // stale
  ts.m.set(tsKey(2).toString('hex'), tsVal(3n * S)); // stale
  ts.m.set(tsKey(3).toString('hex'), tsVal(S / 10n)); // fresh
  const orphan = Buffer.alloc(L.TS_KEY_SIZE);
  tupleBuf('198.18.1.9', '198.18.2.9', 1, 2).copy(orphan);
  ts.m.set(orphan.toString('hex'), tsVal(0n)); // its flow is gone
  const p = defaultPolicy(300);
  tt.equal(tsLifetimeNs(p, 5_000_000n), S);
  tt.equal(tsLifetimeNs(p, 0n), 10n * S);
  tt.equal(tsLifetimeNs(p, 2n * S), 10n * S);
  const r = cleanup(flows, ts, now, p);
  tt.match(r, { flowsRemoved: 0, timestampsRemoved: 3, outstandingFixed: 1 });
  tt.equal(ts.m.size, 1);
  tt.equal(L.decodeFlow(arr.m.get(key.toString('hex')) as Buffer).dir[dir].outstanding, 1);
  tt.equal(L.decodeFlow(arr.m.get(orphanKey.toString('hex')) as Buffer).dir[dir].outstanding, 3, 'the stale duplicate is not the one corrected');
  const r2 = cleanup(flows, ts, now + 400n * S, p);
  tt.equal(r2.flowsRemoved, 2, 'both idle entries go');
  tt.match(r2.closed, [{ flow: { src: '198.18.1.2', dst: '198.18.2.2' } }]);
  tt.equal(ts.m.size, 0, 'its timestamps went with it');
  tt.equal(flows.dump().length, 0, 'freed slots are zero');
  tt.ok([...arr.m.values()].every((v) => v.equals(Buffer.alloc(L.FLOW_VAL_SIZE))));
});

t.test('flow table: a slot is freed only while it holds the flow decided about', async (tt) => {
  const arr = fakeArray(8);
  const flows = new FlowTable(arr, 0);
  const S = 1_000_000_000n;
  const now = 1000n * S;
  const a = L.canonical(tupleBuf('198.18.1.2', '198.18.2.2', 40000, 5201)).key;
  const b = L.canonical(tupleBuf('198.18.1.3', '198.18.2.2', 40000, 5201)).key;
  const v = (tuple: Buffer, seen: bigint, outstanding: number): Buffer => {
    const x = Buffer.alloc(L.FLOW_VAL_SIZE);
    tuple.copy(x, L.FLOW_TUPLE_OFFSET);
    x.writeBigUInt64LE(seen, L.dirOffset(0) + 8);
    x.writeUInt32LE(outstanding, L.outstandingOffset(0));
    return x;
  };
  arr.m.set(slotKey(3).toString('hex'), v(a, now - 400n * S, 0));
  tt.equal(flows.free(slotKey(3), b), false, 'another flow\'s tuple: not freed');
  tt.ok(flows.lookup(slotKey(3)), 'still live');
  tt.equal(flows.free(slotKey(3), a), true);
  tt.equal(flows.lookup(slotKey(3)), null, 'free');
  tt.equal(flows.free(slotKey(3), a), false, 'a free slot is not freed twice');
  // The cleanup decided from a dump; meanwhile BPF freed the slot and gave it to flow b.
  arr.m.set(slotKey(4).toString('hex'), v(a, now - 400n * S, 2));
  const reuse: FlowOps = {
    dump: () => flows.dump(),
    lookup: (k) => flows.lookup(k),
    update: (k, x) => flows.update(k, x),
    free: (k, tuple) => {
      arr.m.set(slotKey(4).toString('hex'), v(b, now, 2));
      return flows.free(k, tuple);
    },
  };
  const r = cleanup(reuse, fakeMap(), now, defaultPolicy(300));
  tt.equal(r.flowsRemoved, 0, 'the new flow in the slot is not removed');
  tt.equal(L.decodeFlow(arr.m.get(slotKey(4).toString('hex')) as Buffer).tuple.equals(b), true);
  tt.equal(flows.clear(), 1);
  tt.equal(flows.dump().length, 0);
});

t.test('knobs cover the manifest; map sizes', async (tt) => {
  const manifest = YAML.parse(fs.readFileSync(path.join(root, 'fpm-library', 'latency-monitor.yaml'), 'utf8')) as {
    knobs: Array<{ name: string; default: number | boolean }>;
  };
  const k = eppingKnobs(DEFAULT_EPPING_CONFIG, null);
  tt.same(Object.keys(k).sort(), manifest.knobs.map((x) => x.name).sort(), 'one value per manifest knob');
  for (const m of manifest.knobs) tt.equal(Number(k[m.name]), Number(m.default), `default config gives the default of ${m.name}`);
  const k2 = eppingKnobs({ ...DEFAULT_EPPING_CONFIG, protocols: ['icmp'], rtt_rate: 0.5, rtt_basis: 'smoothed' });
  tt.match(k2, { cfg_tcp: false, cfg_icmp: true, cfg_rtt_rate_milli: 500, cfg_rtt_basis: 1 });
  tt.equal(ringbufSize(5000), 8192);
  tt.equal(ringbufSize(262144), 262144);
  tt.same(eppingMapSizes(DEFAULT_EPPING_CONFIG), { ss_ep_flows: 32768, ss_ep_quiet: 8192, ss_ep_ts: 16384, ss_ep_events: 262144 });
  // Quiet times count jiffies: the kernel's tick, or the longest one when HZ is unknown.
  tt.equal(eppingKnobs(DEFAULT_EPPING_CONFIG, 250).cfg_tick_ns, 4_000_000);
  tt.same([100, 300, 1000, null, 0].map(tickNs), [10_000_000, 3_333_334, 1_000_000, 10_000_000, 10_000_000]);
  tt.equal(hzFromConfig('# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n'), 250);
  tt.equal(hzFromConfig('CONFIG_HZ_PERIODIC=y\n'), null);
  tt.equal(k.cfg_flow_sets, 4096, 'sets of eight slots');
  // Twice the flows in slots, in sets of eight.
  tt.same([1, 4, 5, 1000, 16384, 16385].map(flowSlots), [8, 8, 16, 2000, 32768, 32776]);
  const hdr = fs.readFileSync(path.join(root, 'bpf', 'include', 'ss_epping.h'), 'utf8');
  tt.match(hdr, new RegExp(`#define SS_EP_FLOW_WAYS\\s+${L.FLOW_WAYS}\\b`), 'FLOW_WAYS is the header\'s');
  const src = fs.readFileSync(path.join(root, 'bpf', 'fpm', 'epping_core.h'), 'utf8');
  for (const m of manifest.knobs) tt.match(src, new RegExp(`const volatile __u\\d+\\s+${m.name} = `), `${m.name} is rodata in the core`);
});

t.test('service without BPF: records in, samples and flow events out', async (tt) => {
  const svc = new EppingService({ log: silentLogger(), config: DEFAULT_EPPING_CONFIG, timers: false });
  svc.setDevices([{ ifindex: 5, ifname: 'eth0' }]);
  svc.setSides({ eth0: 'wan' });
  const got: RttSample[] = [];
  svc.on('sample', (s) => got.push(s));
  const rec = Buffer.alloc(L.RTT_EVENT_SIZE);
  rec.writeUInt32LE(L.EV_RTT, 0);
  rec.writeUInt32LE(5, 4);
  rec.writeBigUInt64LE(process.hrtime.bigint(), 8);
  rec.writeBigUInt64LE(1_500_000n, 16);
  rec.writeBigUInt64LE(1_000_000n, 24);
  tupleBuf('198.18.1.2', '198.18.2.2', 1, 2).copy(rec, 40);
  svc.onRecord(rec);
  svc.onRecord(Buffer.from('garbage!'));
  tt.equal(got.length, 1);
  tt.match(got[0], { device: 'eth0', side: 'wan', rtt_us: 1500, min_rtt_us: 1000, req_device: 'local' });
  tt.ok(Math.abs(got[0].time_us / 1000 - Date.now()) < 1000, 'wall clock conversion');
  tt.equal(svc.samples({ side: 'wan' }).length, 1);
  tt.equal(svc.stats().decode_errors, 1);
  tt.throws(() => svc.attachMaps({}), /ss_ep_events/);
  tt.same(svc.aggregates().prefixes, []);
  svc.close();
});

t.test('the manifest validates and the assembler puts the monitor right after parse', async (tt) => {
  const { loadManifests } = await import('../../controller/assembler/manifest');
  const { assemble } = await import('../../controller/assembler/plan');
  const m = loadManifests();
  const lm = m.get('latency-monitor');
  tt.ok(lm, 'latency-monitor is in the library');
  tt.match(lm, { object: 'fpm/epping.bpf.o', program: 'ss_fpm_epping', order: 20, requires: ['parse'], services: ['latency-monitor'] });
  const r = assemble({
    roles: [
      { ifname: 'eth0', ifindex: 2, l2Bridge: null, l3: { v4: true, v6: true }, epping: true },
      { ifname: 'eth1', ifindex: 3, l2Bridge: null, l3: { v4: false, v6: false }, epping: true },
    ],
    manifests: m,
  });
  tt.same(r.problems, []);
  tt.same(r.plans.get('eth0')?.fpms.map((f) => f.name), ['parse', 'latency-monitor', 'l3-router']);
  tt.same(r.plans.get('eth1')?.fpms.map((f) => f.name), ['parse', 'latency-monitor'], 'a monitored-only device');
  tt.equal(r.plans.get('eth1')?.fpms[0].knobs.cfg_l4, true, 'parse reads ports and echo ids for the monitor');
});
