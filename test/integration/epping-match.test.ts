// The matching rules against the real verifier and kernel: crafted frames go through
// parse -> epping with BPF_PROG_TEST_RUN (ingress device set), and what comes out of the
// ring buffer and the counters is checked. Retransmissions, TSval runs, pure ACKs,
// duplicate replies and reordering must not produce samples.
import t, { type Test } from 'tap';
import { native } from '../../controller/native';
import { EppingService, type FlowEvent, type RttSample } from '../../controller/epping';
import { DEFAULT_EPPING_CONFIG, tickNs } from '../../controller/epping/knobs';
import { kernelHz } from '../../controller/util/kernel-hz';
import { silentLogger } from '../../controller/util/log';
import { Lab } from '../lab';
import { loadEppingChain, type EppingChain } from './epping-chain';
import { TCP, echoFrame, tcpFrame, type TcpSpec } from './epping-frames';
import * as L from '../../controller/epping/layout';
import { FlowTable } from '../../controller/epping/flow-table';

const XDP_PASS = 2;
const C = '198.18.1.2'; // client, behind lan0
const S = '198.18.2.2'; // server, behind wan0
const C6 = '2001:2:0:1::2';
const S6 = '2001:2:0:2::2';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const lab = new Lab({ t });
const ns = lab.addNamespace('ep');
lab.veth(ns, 'lan0', ns, 'wan0');
const LAN = lab.ifindex(ns, 'lan0');
const WAN = lab.ifindex(ns, 'wan0');

interface Rig {
  chain: EppingChain;
  svc: EppingService;
  samples: RttSample[];
  flows: FlowEvent[];
  run(frame: Buffer, ifindex: number): void;
  settle(): Promise<void>;
  stats(): Record<string, number>;
}

function rig(tt: Test, knobs: Record<string, number | boolean> = {}, sizes?: Record<string, number>, fold = false): Rig {
  const chain = loadEppingChain({ knobs: { cfg_rate_limit_ms: 0, cfg_tick_ns: tickNs(kernelHz()), ...knobs }, sizes, fold });
  const svc = new EppingService({ log: silentLogger(), config: DEFAULT_EPPING_CONFIG, native, timers: false });
  svc.setDevices([
    { ifindex: LAN, ifname: 'lan0' },
    { ifindex: WAN, ifname: 'wan0' },
  ]);
  svc.setSides({ wan0: 'wan', lan0: 'lan' });
  svc.attachMaps(chain.maps);
  const samples: RttSample[] = [];
  const flows: FlowEvent[] = [];
  svc.on('sample', (s) => samples.push(s));
  svc.on('flow', (f) => flows.push(f));
  tt.teardown(() => {
    svc.close();
    chain.close();
  });
  return {
    chain,
    svc,
    samples,
    flows,
    run(frame, ifindex) {
      const r = native.inNetns(ns, () => native.testRun(chain.parseFd, { data: frame, ingressIfindex: ifindex }));
      if (r.retval !== XDP_PASS) throw new Error(`verdict ${r.retval}, want XDP_PASS`);
    },
    settle: () => sleep(30),
    stats: () => svc.stats(),
  };
}

// Shorthands: data and ACKs of one connection C:40000 <-> S:5201.
const up = (o: Partial<TcpSpec>): Buffer => tcpFrame(C, S, { sport: 40000, dport: 5201, flags: TCP.ACK | TCP.PSH, payload: 100, ...o });
const down = (o: Partial<TcpSpec>): Buffer => tcpFrame(S, C, { sport: 5201, dport: 40000, flags: TCP.ACK, payload: 0, ...o });

t.test('a data segment and the ACK echoing its TSval give one sample on the reply side', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 100, tsecr: 7 }), LAN);
  await sleep(5);
  r.run(down({ tsval: 500, tsecr: 100 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'one sample');
  const s = r.samples[0];
  tt.match(s, { src: C, dst: S, sport: 40000, dport: 5201, proto: 'tcp', device: 'wan0', side: 'wan', req_device: 'lan0' });
  tt.ok(s.rtt_us >= 4000 && s.rtt_us < 1_000_000, `rtt ${s.rtt_us} µs covers the 5 ms gap`);
  tt.equal(s.min_rtt_us, s.rtt_us, 'min RTT is the only sample');
  tt.equal(r.flows.length, 1, 'one flow event');
  tt.match(r.flows[0], { event: 'open', reason: 'first_packet', src: C, dst: S, device: 'lan0' });
  const st = r.stats();
  tt.equal(st.timestamps, 1, 'one timestamp (the pure ACK is not one)');
  tt.equal(st.samples, 1);
  tt.equal(st.pure_ack, 1);
});

t.test('a TSval run is timestamped once, at its first segment', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 200 }), LAN);
  await sleep(20);
  r.run(up({ tsval: 200, seq: 1100 }), LAN);
  r.run(up({ tsval: 200, seq: 1200 }), LAN);
  r.run(down({ tsval: 900, tsecr: 200 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'one sample');
  tt.ok(r.samples[0].rtt_us >= 19000, `RTT ${r.samples[0].rtt_us} µs from the first segment of the run`);
  tt.equal(r.stats().not_newer, 2, 'the two later segments were not newer');
});

t.test('the timestamp option is read wherever it sits among the options', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 250, tsFirst: true }), LAN);
  r.run(down({ tsval: 950, tsecr: 250, tsFirst: true }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'one sample from the other option layout');
  tt.equal(r.stats().timestamps, 1);
});

t.test('the option walk reads a timestamp where the kernel would, and nowhere else', async (tt) => {
  const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const TS = (v: number): number[] => [8, 10, ...u32(v), ...u32(0)];
  const MSS = [2, 4, 0x05, 0xb4];
  const SACK_OK = [4, 2];
  const WS = [3, 3, 7];
  const SACK = [5, 10, ...u32(1), ...u32(2)];
  const cases: Array<[string, number[], boolean]> = [
    ['SYN order: MSS, SACK permitted, timestamp, NOP, window scale', [...MSS, ...SACK_OK, ...TS(11), 1, ...WS], true],
    ['a SACK block first', [1, 1, ...SACK, 1, 1, ...TS(12)], true],
    ['eleven NOPs first', [...new Array<number>(11).fill(1), ...TS(13)], true],
    ['thirty NOPs first: the walk goes as far as the kernel does', [...new Array<number>(30).fill(1), ...TS(20)], true],
    ['a NOP in the last byte after a timestamp cut off', [...new Array<number>(31).fill(1), ...TS(21)].slice(0, 40), false],
    ['window scale, then the timestamp at an odd offset', [...WS, ...TS(14)], true],
    ['end of options before it', [0, 1, ...TS(15)], false],
    ['an option of length 1 before it', [5, 1, 1, 1, ...TS(16)], false],
    ['an option running past the header before it', [5, 40, 1, 1, ...TS(17)], false],
    ['a timestamp of length 9', [8, 9, ...u32(18), 0, 0, 0], false],
    ['a timestamp cut off by the header length', [1, 1, 1, 1, ...TS(19)].slice(0, 12), false],
  ];
  for (const [name, opts, read] of cases) {
    const r = rig(tt);
    const padded = Buffer.alloc(Math.ceil(opts.length / 4) * 4);
    Buffer.from(opts).copy(padded);
    r.run(up({ opts: padded }), LAN);
    const st = r.stats();
    tt.equal(st.timestamps ?? 0, read ? 1 : 0, `${name}: ${read ? 'read' : 'not read'}`);
  }
});

t.test('flows sit in the set a seeded hash of their tuple picks; a flow whose set is full is counted, not merged', async (tt) => {
  const r = rig(tt);
  const fd = r.chain.maps.ss_ep_flows;
  const table = new FlowTable(native, fd);
  const seed = native.mapLookup(r.chain.maps.ss_ep_seed, Buffer.alloc(4));
  tt.ok(seed && seed.readBigUInt64LE(0) !== 0n, 'the service chose a seed');
  r.run(up({ tsval: 300 }), LAN);
  const flows = table.dump();
  tt.equal(flows.length, 1);
  tt.equal(flows[0].key.length, L.FLOW_KEY_SIZE);
  const f = L.decodeFlow(flows[0].value);
  tt.match(L.decodeTuple(f.tuple), { src: C, dst: S, sport: 40000, dport: 5201, proto: 'tcp' });
  const slot = flows[0].key.readUInt32LE(0);
  const base = slot - (slot % L.FLOW_WAYS);
  tt.equal(slot, base, 'the first flow of a set takes its first slot');
  // Close it with a RST: its slot is free again, all zeros.
  r.run(up({ tsval: 301, flags: TCP.RST | TCP.ACK }), LAN);
  tt.equal(table.dump().length, 0, 'RST freed the slot');
  tt.ok(native.mapLookup(fd, flows[0].key)!.subarray(0, L.TUPLE_SIZE).equals(Buffer.alloc(L.TUPLE_SIZE)), 'no old tuple left in it');
  // Other connections in every slot of the set: what a full set looks like to the FPM.
  const others: Buffer[] = [];
  for (let i = 0; i < L.FLOW_WAYS; i++) {
    const o = Buffer.from(flows[0].value);
    o.writeUInt16BE(41000 + i, L.FLOW_TUPLE_OFFSET + 32);
    const k = Buffer.alloc(4);
    k.writeUInt32LE(base + i);
    native.mapUpdate(fd, k, o);
    others.push(o);
  }
  r.run(up({ tsval: 302 }), LAN);
  tt.equal(r.stats().flow_collision, 1, 'counted');
  tt.equal(r.stats().flows_opened, 1, 'not opened again');
  tt.equal(table.dump().length, L.FLOW_WAYS, 'the set holds what it held');
  for (let i = 0; i < L.FLOW_WAYS; i++) {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(base + i);
    tt.ok(native.mapLookup(fd, k)!.equals(others[i]), `slot ${i} untouched`);
  }
  tt.equal(r.stats().timestamps, 1, 'nothing timestamped for the unmonitored flow');
  // One slot freed by the controller: the next message opens the flow there.
  const k5 = Buffer.alloc(4);
  k5.writeUInt32LE(base + 5);
  tt.ok(table.free(k5, others[5].subarray(0, L.TUPLE_SIZE)));
  r.run(up({ tsval: 303 }), LAN);
  tt.equal(r.stats().flows_opened, 2);
  tt.match(L.decodeTuple(L.decodeFlow(native.mapLookup(fd, k5)!).tuple), { src: C, sport: 40000 }, 'in the freed slot');
  tt.equal(r.stats().timestamps, 2);
});

t.test('a flow whose tuple another slot of the set is still being made for gives way, and says so', async (tt) => {
  const r = rig(tt);
  const fd = r.chain.maps.ss_ep_flows;
  const table = new FlowTable(native, fd);
  r.run(up({ tsval: 300 }), LAN);
  const [first] = table.dump();
  const slot = first.key.readUInt32LE(0);
  r.run(up({ tsval: 301, flags: TCP.RST | TCP.ACK }), LAN); // frees it
  // Another CPU mid-claim for the same tuple: last tuple word written, addresses not yet.
  const making = Buffer.alloc(first.value.length);
  first.value.copy(making, L.FLOW_TUPLE_OFFSET + 32, L.FLOW_TUPLE_OFFSET + 32, L.FLOW_TUPLE_OFFSET + L.TUPLE_SIZE);
  const other = Buffer.alloc(4);
  other.writeUInt32LE(slot + L.FLOW_WAYS - 1);
  native.mapUpdate(fd, other, making);
  r.run(up({ tsval: 302 }), LAN);
  tt.equal(r.stats().flow_claim_lost, 1, 'the packet gave way and was counted');
  tt.equal(r.stats().flows_opened, 1, 'no second slot for the flow');
  native.mapUpdate(fd, other, Buffer.alloc(first.value.length));
  r.run(up({ tsval: 303 }), LAN);
  tt.equal(r.stats().flows_opened, 2, 'once that slot is free, the next packet opens the flow');
  tt.equal(r.stats().flow_claim_lost, 1);
});

t.test('retransmissions and reordered segments with old TSvals are never timestamped', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 300 }), LAN);
  await sleep(15);
  r.run(up({ tsval: 300 }), LAN); // retransmission keeping its TSval
  r.run(up({ tsval: 299, seq: 900 }), LAN); // reordered: older TSval arrives late
  r.run(down({ tsval: 901, tsecr: 299 }), WAN); // echo of the late one: nothing stored
  tt.equal(r.stats().timestamps, 1, 'only TSval 300 was timestamped');
  r.run(down({ tsval: 902, tsecr: 300 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'one sample, for TSval 300');
  tt.ok(r.samples[0].rtt_us >= 14000, 'measured from the original transmission');
  tt.equal(r.stats().not_newer, 2);
});

t.test('only the first reply matches; duplicate ACKs and DUP echo replies do not', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 400 }), LAN);
  r.run(down({ tsval: 950, tsecr: 400 }), WAN);
  r.run(down({ tsval: 950, tsecr: 400 }), WAN);
  r.run(down({ tsval: 951, tsecr: 400 }), WAN);
  r.run(echoFrame(C, S, false, 77, 1), LAN);
  r.run(echoFrame(S, C, true, 77, 1), WAN);
  r.run(echoFrame(S, C, true, 77, 1), WAN);
  await r.settle();
  tt.equal(r.samples.length, 2, 'one TCP and one ICMP sample');
  tt.same(r.samples.map((s) => s.proto), ['tcp', 'icmp']);
  tt.match(r.samples[1], { src: C, dst: S, sport: 77, dport: 77, device: 'wan0' });
});

t.test('pure ACKs are never timestamped, so ACK-of-ACK echoes give nothing', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 10 }), LAN); // opens the flow
  r.run(down({ tsval: 600, tsecr: 10 }), WAN); // pure ACK: matches, not timestamped
  r.run(up({ tsval: 11, tsecr: 600, payload: 0 }), LAN); // pure ACK echoing 600: nothing to match
  r.run(down({ tsval: 601, tsecr: 600 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'only the data segment was measured');
  tt.equal(r.samples[0].src, C);
  tt.equal(r.stats().pure_ack, 3);
});

t.test('SYNs are skipped unless include_syn; RST and FIN pairs close the flow', async (tt) => {
  tt.test('default', async (t2) => {
    const r = rig(t2);
    r.run(up({ flags: TCP.SYN, tsval: 1, tsecr: 0, payload: 0 }), LAN);
    r.run(down({ flags: TCP.SYN | TCP.ACK, tsval: 50, tsecr: 1 }), WAN);
    r.run(up({ flags: TCP.RST, tsval: 2, tsecr: 50, payload: 0 }), LAN);
    await r.settle();
    t2.equal(r.samples.length, 0, 'no handshake sample');
    t2.same(r.flows.map((f) => `${f.event}:${f.reason}`), ['open:syn', 'close:rst']);
  });
  tt.test('include_syn', async (t2) => {
    const r = rig(t2, { cfg_include_syn: true });
    r.run(up({ flags: TCP.SYN, tsval: 1, tsecr: 0, payload: 0 }), LAN);
    r.run(down({ flags: TCP.SYN | TCP.ACK, tsval: 50, tsecr: 1 }), WAN);
    r.run(up({ flags: TCP.ACK | TCP.FIN, tsval: 2, tsecr: 50, payload: 0 }), LAN);
    r.run(down({ flags: TCP.ACK | TCP.FIN, tsval: 51, tsecr: 2 }), WAN);
    await r.settle();
    t2.same(r.samples.map((s) => `${s.src}>${s.dst}`), [`${C}>${S}`, `${S}>${C}`, `${C}>${S}`], 'SYN, SYN-ACK and FIN timed');
    t2.same(r.flows.map((f) => `${f.event}:${f.reason}`), ['open:syn', 'close:fin']);
    t2.equal(r.samples[1].device, 'lan0', 'the server-side handshake RTT belongs to the LAN side');
  });
});

t.test('IPv6: TCP and ICMPv6', async (tt) => {
  const r = rig(tt);
  r.run(tcpFrame(C6, S6, { sport: 41000, dport: 443, flags: TCP.ACK, tsval: 5, payload: 10 }), LAN);
  r.run(tcpFrame(S6, C6, { sport: 443, dport: 41000, flags: TCP.ACK, tsval: 9, tsecr: 5 }), WAN);
  r.run(echoFrame(C6, S6, false, 9, 3), LAN);
  r.run(echoFrame(S6, C6, true, 9, 3), WAN);
  await r.settle();
  tt.same(r.samples.map((s) => s.proto), ['tcp', 'icmpv6']);
  tt.match(r.samples[0], { src: C6, dst: S6, sport: 41000, dport: 443 });
});

t.test('the rate limit keeps one timestamp per flow direction per interval', async (tt) => {
  const r = rig(tt, { cfg_rate_limit_ms: 100 });
  r.run(up({ tsval: 1000 }), LAN);
  r.run(up({ tsval: 1001 }), LAN);
  r.run(up({ tsval: 1002 }), LAN);
  r.run(down({ tsval: 5, tsecr: 1001 }), WAN);
  tt.equal(r.stats().rate_limited, 1, '1001 read the flow entry and found the window');
  tt.equal(r.stats().quiet, 1, '1002 found the direction quiet and read nothing');
  tt.equal(r.stats().packets, 4, 'every frame counts as a packet, the quiet one too');
  const f = L.decodeFlow(new FlowTable(native, r.chain.maps.ss_ep_flows).dump()[0].value);
  tt.equal(f.dir[0].lastId, 1000, 'packets inside the window leave the flow entry alone');
  tt.ok(f.dir[0].flags & L.DIR_ID_STALE, 'but mark its last TSval as old');
  await sleep(110);
  // 1002 went by unread, so 1003 may be the middle of a TSval run: it only resyncs.
  r.run(up({ tsval: 1003 }), LAN);
  r.run(up({ tsval: 1003, seq: 1100 }), LAN);
  r.run(up({ tsval: 1004 }), LAN);
  r.run(down({ tsval: 6, tsecr: 1003 }), WAN);
  r.run(down({ tsval: 7, tsecr: 1004 }), WAN);
  await r.settle();
  const st = r.stats();
  tt.equal(st.id_resync, 1, 'TSval 1003 resynced');
  tt.equal(st.not_newer, 1, 'its second segment is not newer');
  tt.equal(st.timestamps, 2, 'TSvals 1000 and 1004');
  tt.same(r.samples.map((s) => s.src), [C], 'one sample, for 1004: rate-limited and resync TSvals have none');
});

// ss_ep_quiet: inside its rate-limit window, with nothing outstanding the other way, a
// direction's packets are only counted. It must never cost a sample it would have given.
// The same through l2-bridge's fold, where the quiet lane (bpf/fpm/epping_xdp.h) counts a quiet
// direction's plain frames right after parse's plain lane, before the monitor proper runs.
for (const fold of [false, true]) {
  const via = fold ? ' (l2-bridge fold)' : '';
  t.test(`a quiet direction wakes when the other way stores a timestamp, so the reply still matches${via}`, async (tt) => {
    const r = rig(tt, { cfg_rate_limit_ms: 1000 }, undefined, fold);
    r.run(up({ tsval: 1000 }), LAN); // timestamped: up's window starts
    r.run(down({ tsval: 5, tsecr: 1000 }), WAN); // pure ACK: sample 1
    r.run(up({ tsval: 1001, tsecr: 5 }), LAN); // in the window, nothing outstanding: up goes quiet
    r.run(up({ tsval: 1002, tsecr: 5 }), LAN);
    r.run(up({ tsval: 1003, tsecr: 5 }), LAN);
    tt.equal(r.stats().quiet, 2, '1002 and 1003 only counted');
    const ways = (): number =>
      native.mapDump(r.chain.maps.ss_ep_quiet).reduce((n, e) => n + Array.from({ length: L.QUIET_WAYS }, (_, i) => e.value.readBigUInt64LE(8 * i)).filter((w) => w !== 0n).length, 0);
    tt.equal(ways(), 1, 'one quiet direction');
    await sleep(5);
    r.run(down({ tsval: 6, tsecr: 1003, payload: 100 }), WAN); // data the other way: timestamped
    tt.equal(ways(), 0, 'which wakes up');
    r.run(up({ tsval: 1004, tsecr: 6 }), LAN); // its reply, inside up's window
    await r.settle();
    tt.same(r.samples.map((x) => x.device), ['wan0', 'lan0'], 'the LAN-side sample is there');
    tt.ok(r.samples[1].rtt_us >= 4000, `LAN-side RTT ${r.samples[1].rtt_us} µs`);
    const st = r.stats();
    tt.equal(st.quiet, 2, 'the reply was read');
    tt.equal(st.rate_limited, 2, '1001 and 1004');
    tt.equal(ways(), 1, 'and up is quiet again: nothing outstanding once it matched');
  });

  t.test(`a direction never goes quiet while the reverse has a message outstanding${via}`, async (tt) => {
    const r = rig(tt, { cfg_rate_limit_ms: 1000 }, undefined, fold);
    r.run(up({ tsval: 10 }), LAN);
    r.run(down({ tsval: 70, tsecr: 10, payload: 100 }), WAN); // sample, and down timestamped
    r.run(up({ tsval: 11, tsecr: 1 }), LAN); // in up's window, but down's 70 is outstanding
    r.run(up({ tsval: 12, tsecr: 1 }), LAN);
    tt.equal(r.stats().quiet, 0, 'every up packet reads the entry: each could be the reply');
    r.run(up({ tsval: 13, tsecr: 70 }), LAN);
    await r.settle();
    tt.equal(r.samples.length, 2, 'and the reply matched');
  });

  t.test(`closing a flow ends its quiet time: a new connection on the tuple is timed at once${via}`, async (tt) => {
    const r = rig(tt, { cfg_rate_limit_ms: 1000 }, undefined, fold);
    r.run(up({ tsval: 1000 }), LAN);
    r.run(up({ tsval: 1001 }), LAN); // up goes quiet
    r.run(up({ tsval: 1002 }), LAN);
    r.run(down({ flags: TCP.RST, tsval: 8, tsecr: 1002 }), WAN);
    r.run(up({ tsval: 5000 }), LAN); // same tuple, new connection
    r.run(down({ tsval: 9, tsecr: 5000 }), WAN);
    await r.settle();
    const st = r.stats();
    tt.equal(st.quiet, 1);
    tt.equal(st.flows_opened, 2, 'the new connection opened its flow');
    tt.equal(st.timestamps, 2, 'TSvals 1000 and 5000');
    tt.equal(r.samples.length, 1, '5000 answered');
  });

  t.test(`without a rate limit nothing is ever quiet${via}`, async (tt) => {
    const r = rig(tt, { cfg_rate_limit_ms: 0 }, undefined, fold);
    for (let i = 0; i < 5; i++) r.run(up({ tsval: 100 + i }), LAN);
    tt.equal(r.stats().quiet, 0);
    tt.equal(r.stats().timestamps, 5);
  });
}

t.test('echo requests never run, so the first one after a rate-limit window is timestamped', async (tt) => {
  const r = rig(tt, { cfg_rate_limit_ms: 50 });
  r.run(echoFrame(C, S, false, 9, 1), LAN);
  r.run(echoFrame(C, S, false, 9, 2), LAN); // limited
  await sleep(60);
  r.run(echoFrame(C, S, false, 9, 3), LAN);
  r.run(echoFrame(S, C, true, 9, 3), WAN);
  await r.settle();
  const st = r.stats();
  tt.equal(st.rate_limited, 1);
  tt.equal(st.id_resync, 0);
  tt.equal(st.timestamps, 2, 'sequences 1 and 3');
  tt.equal(r.samples.length, 1, 'sequence 3 answered');
});

t.test('rtt_rate: the rate limit follows the flow RTT once there is one', async (tt) => {
  // 0.5 x smoothed RTT; no fixed limit once the flow has an RTT (cfg_rate_limit_ms is a fallback).
  const r = rig(tt, { cfg_rate_limit_ms: 1000, cfg_rtt_rate_milli: 500, cfg_rtt_basis: 1, cfg_icmp: false });
  r.run(up({ tsval: 1 }), LAN);
  await sleep(20);
  r.run(down({ tsval: 100, tsecr: 1 }), WAN); // RTT >= 20 ms -> limit >= 10 ms
  for (let i = 0; i < 50 && r.samples.length === 0; i++) await r.settle();
  tt.equal(r.samples.length, 1, 'the RTT sample');
  // On a loaded machine the sleep, and so the RTT, may be longer: wait by the limit measured.
  const limitMs = Math.ceil((r.samples[0]?.rtt_us ?? 20000) / 2000);
  r.run(up({ tsval: 2 }), LAN); // the last timestamp was more than an RTT ago: allowed
  r.run(up({ tsval: 3 }), LAN); // right after: limited
  await sleep(limitMs + 10); // past the limit, and a coarse-clock tick or two
  r.run(up({ tsval: 4 }), LAN); // allowed, but 3 went by unread: resync
  r.run(up({ tsval: 5 }), LAN); // timestamped
  r.run(echoFrame(C, S, false, 5, 1), LAN); // ICMP off: ignored
  await r.settle();
  const st = r.stats();
  tt.equal(st.timestamps, 3, 'TSvals 1, 2 and 5');
  tt.equal(st.rate_limited, 1, 'TSval 3');
  tt.equal(st.id_resync, 1, 'TSval 4');
  tt.equal(r.samples.length, 1);
});

t.test('the local filter skips traffic of the box itself', async (tt) => {
  const r = rig(tt);
  r.svc.setLocalAddresses([S]);
  r.run(up({ tsval: 10 }), LAN);
  r.run(down({ tsval: 20, tsecr: 10 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 0);
  tt.equal(r.stats().local_skipped, 2);
  tt.equal(r.stats().timestamps, 0);
});

t.test('an address that becomes the box\'s own drops its flows, so the local filter applies at once', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 10 }), LAN);
  tt.equal(r.stats().timestamps, 1, 'a forwarded flow is monitored');
  r.svc.setLocalAddresses([S]); // the flow's state said "not local"; it must not outlive that
  r.run(down({ tsval: 20, tsecr: 10 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 0, 'the reply to the box is not a sample');
  tt.equal(r.stats().local_skipped, 1);
  r.svc.setLocalAddresses([]);
  r.run(up({ tsval: 11 }), LAN);
  r.run(down({ tsval: 21, tsecr: 11 }), WAN);
  await r.settle();
  tt.equal(r.samples.length, 1, 'no longer local: monitored again');
});

t.test('a full timestamp map is not hammered: inserts back off, the rate limit counts attempts', async (tt) => {
  const r = rig(tt, { cfg_rate_limit_ms: 0, cfg_ts_full_backoff_ms: 60_000 }, { ss_ep_ts: 2 });
  const flow = (sport: number, tsval: number): Buffer => up({ sport, tsval });
  const run = (f: Buffer, ifindex: number): void => r.run(f, ifindex);
  run(flow(40001, 1), LAN);
  run(flow(40002, 1), LAN);
  run(flow(40003, 1), LAN); // the map is full: refused, and the backoff starts
  let st = r.stats();
  tt.equal(st.timestamps, 2);
  tt.equal(st.ts_map_full, 1);
  // A reply frees an entry; within the backoff nothing is inserted all the same.
  run(tcpFrame(S, C, { sport: 5201, dport: 40001, flags: TCP.ACK, payload: 0, tsval: 9, tsecr: 1 }), WAN);
  run(flow(40004, 1), LAN);
  st = r.stats();
  tt.equal(st.samples, 1);
  tt.equal(st.timestamps, 2, 'not stored during the backoff');
  tt.equal(st.ts_map_full, 2);
});

t.test('histograms aggregate per replying prefix and side, and reset when read', async (tt) => {
  const r = rig(tt);
  // Gaps over four octaves, so the buckets BPF picks are checked across its log2 (2 ms at
  // least: a 1 ms timer may fire early).
  const gaps = [2, 3, 5, 9, 17];
  for (let i = 0; i < 5; i++) {
    r.run(echoFrame(C, S, false, 1, i), LAN);
    await sleep(gaps[i]);
    r.run(echoFrame(S, C, true, 1, i), WAN);
  }
  r.run(echoFrame(S, C, false, 2, 1), WAN);
  r.run(echoFrame(C, S, true, 2, 1), LAN);
  const rep = r.svc.collectAggregates();
  const byKey = Object.fromEntries(rep.prefixes.map((p) => [`${p.prefix}@${p.side}`, p]));
  tt.same(Object.keys(byKey).sort(), ['198.18.1.0/24@lan', '198.18.2.0/24@wan']);
  const w = byKey['198.18.2.0/24@wan'];
  tt.equal(w.count, 5);
  tt.ok(w.min_us >= 1000 && w.min_us <= w.p50_us && w.p50_us <= w.p95_us && w.p95_us <= w.max_us, JSON.stringify(w));
  tt.equal(w.histogram.reduce((a, b) => a + b.count, 0), 5, 'buckets hold every sample');
  // Each sample in the bucket its exact RTT belongs to (layout.bucketOf is the reference).
  await r.settle();
  const rtts = r.samples.filter((x) => x.device === 'wan0').map((x) => Math.round(x.rtt_us * 1000));
  tt.equal(rtts.length, 5);
  const want = new Map<number, number>();
  for (const ns of rtts) want.set(L.bucketOf(ns), (want.get(L.bucketOf(ns)) ?? 0) + 1);
  tt.ok(want.size >= 3, `the samples span several buckets: ${[...want.keys()]}`);
  const got = new Map<number, number>();
  for (const b of w.histogram) if (b.count) got.set(L.bucketOf(Math.round(b.ge_us * 1000)), b.count);
  tt.same([...got.entries()].sort(), [...want.entries()].sort(), 'BPF put every sample in its bucket');
  tt.equal(r.svc.collectAggregates().prefixes.length, 0, 'read resets');
});

t.test('cleanup removes timestamps that never got a reply and fixes outstanding', async (tt) => {
  const r = rig(tt);
  r.run(up({ tsval: 70 }), LAN);
  r.run(up({ tsval: 71 }), LAN);
  const res = r.svc.runCleanup();
  tt.equal(res?.timestampsRemoved, 0, 'fresh timestamps stay');
  // Age them by running cleanup "later": a policy with no minimum age.
  const { cleanup } = await import('../../controller/epping/cleanup');
  const ops = (fd: number) => ({
    dump: () => native.mapDump(fd),
    lookup: (k: Buffer) => native.mapLookup(fd, k),
    update: (k: Buffer, v: Buffer, f: number) => native.mapUpdate(fd, k, v, f),
    delete: (k: Buffer) => native.mapDelete(fd, k),
  });
  const later = process.hrtime.bigint() + 20_000_000_000n;
  const flowTable = new FlowTable(native, r.chain.maps.ss_ep_flows);
  const res2 = cleanup(flowTable, ops(r.chain.maps.ss_ep_ts), later, {
    flowTimeoutNs: 300_000_000_000n,
    maxTsAgeNs: 10_000_000_000n,
    minTsAgeNs: 1_000_000_000n,
    rttFactor: 8n,
  });
  tt.equal(res2.timestampsRemoved, 2);
  tt.equal(res2.outstandingFixed, 1);
  tt.equal(native.mapDump(r.chain.maps.ss_ep_ts).length, 0);
  const flows = flowTable.dump();
  tt.equal(flows.length, 1);
  const { decodeFlow } = await import('../../controller/epping/layout');
  const f = decodeFlow(flows[0].value);
  tt.same([f.dir[0].outstanding, f.dir[1].outstanding], [0, 0]);
  const res3 = cleanup(flowTable, ops(r.chain.maps.ss_ep_ts), later + 400_000_000_000n, {
    flowTimeoutNs: 300_000_000_000n,
    maxTsAgeNs: 10_000_000_000n,
    minTsAgeNs: 1_000_000_000n,
    rttFactor: 8n,
  });
  tt.equal(res3.flowsRemoved, 1, 'idle flow removed');
  tt.match(res3.closed[0].flow, { src: C, dst: S });
});
