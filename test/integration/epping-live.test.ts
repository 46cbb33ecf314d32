// The latency monitor on real traffic through a router namespace: parse -> epping attached
// in native XDP mode on both router ports. ePPing's RTTs are compared with what ping
// reports, with a tshark capture of an iperf3 flow (TSval/TSecr matched the same way,
// by hand, from tshark's fields), and under real queueing delay from an HTB bottleneck.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native, XDP_FLAGS_DRV_MODE, type BpfObject, type TcAttachment } from '../../controller/native';
import { EppingEgress, EppingService, type RttSample } from '../../controller/epping';
import { DEFAULT_EPPING_CONFIG } from '../../controller/epping/knobs';
import { silentLogger } from '../../controller/util/log';
import { Lab, routerLab, iperf3Server, iperf3Client, run } from '../lab';
import { loadEppingChain, repoRoot, type EppingChain } from './epping-chain';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

const lab = new Lab({ t });
const topo = routerLab(lab);
const R = topo.router;
const A = topo.hostA;
const B = topo.hostB;
const samples: RttSample[] = [];
// GRO on the router's ports would hand the stack (and so tcpdump's tap) merged segments
// later than XDP saw them. The ports run XDP, so redirected frames do not need GRO.
for (const p of ['pa', 'pb']) lab.exec(R, ['ethtool', '-K', p, 'gro', 'off']);

let chain: EppingChain | null = null;
let links: number[] = [];
let tcAtt: TcAttachment | null = null;
let egressObj: EppingEgress | null = null;
const svc = new EppingService({ log: silentLogger(), config: DEFAULT_EPPING_CONFIG, native, timers: false });
svc.setDevices([
  { ifindex: topo.portA.ifindex, ifname: 'pa' },
  { ifindex: topo.portB.ifindex, ifname: 'pb' },
]);
svc.setSides({ pa: 'lan', pb: 'wan' });
svc.on('sample', (s) => samples.push(s));

function detach(): void {
  if (egressObj) native.inNetns(R, () => egressObj?.close());
  egressObj = null;
  tcAtt = null;
  for (const l of links) native.closeFd(l); // the links are not pinned: closing detaches
  links = [];
  svc.detach();
  chain?.close();
  chain = null;
}

function attach(knobs: Record<string, number | boolean>, egress = false): EppingChain {
  detach();
  const c = loadEppingChain({ knobs });
  chain = c;
  links = [topo.portA.ifindex, topo.portB.ifindex].map((ifx) => native.inNetns(R, () => native.xdpLinkCreate(c.parseFd, ifx, XDP_FLAGS_DRV_MODE)));
  if (egress) {
    // The registry the deployer would pass: every epping map already exists (the FPM's).
    const registry = {
      prepare: (obj: BpfObject) => {
        for (const m of obj.maps()) if (c.maps[m.name] !== undefined) obj.reuseMap(m.name, c.maps[m.name]);
        return [];
      },
      register: () => undefined,
    };
    const eg = EppingEgress.load(native, path.join(repoRoot, 'build', 'bpf'), registry, knobs, {});
    egressObj = eg;
    tcAtt = native.inNetns(R, () => eg.attach(topo.portB.ifindex));
  }
  svc.attachMaps(c.maps);
  // The router's own addresses: the local filter skips them (ARP/ND and pings to the router).
  svc.setLocalAddresses([topo.portA.ip4, topo.portA.ip6, topo.portB.ip4, topo.portB.ip6]);
  return c;
}
t.teardown(() => {
  detach();
  svc.close();
});

interface PingLine {
  seq: number;
  ms: number;
}
async function pingTimes(ns: string, dst: string, count: number, interval: number): Promise<PingLine[]> {
  const out = await lab.execAsync(ns, ['ping', dst.includes(':') ? '-6' : '-4', '-n', '-c', String(count), '-i', String(interval), '-W', '2', dst], {
    timeoutMs: (count * interval + 10) * 1000,
  });
  return [...out.matchAll(/icmp_seq=(\d+) .*time=([\d.]+) ms/g)].map((m) => ({ seq: Number(m[1]), ms: Number(m[2]) }));
}

// ePPing samples of one ping run, paired with ping's own RTT by sequence number.
function pair(pings: PingLine[], eps: RttSample[]): Array<{ ping: number; ep: number }> {
  const bySeq = new Map(eps.map((s) => [s.id, s.rtt_us]));
  return pings.filter((p) => bySeq.has(p.seq)).map((p) => ({ ping: p.ms * 1000, ep: bySeq.get(p.seq) as number }));
}

// tcpdump in the router namespace, read back with tshark. ifname 'any' with direction 'in'
// sees packets where XDP does: as they come in, the request on pa and the reply on pb.
interface Capture {
  stop(fields: string[]): Promise<string[][]>;
}
async function capture(tt: Test, ifname: string, filter: string[], direction?: 'in' | 'out'): Promise<Capture> {
  const file = path.join(os.tmpdir(), `epping-${lab.prefix}-${ifname}-${Date.now()}.pcap`);
  tt.teardown(() => fs.rmSync(file, { force: true }));
  const argv = ['tcpdump', '-i', ifname, '-n', '-s', '128', '--immediate-mode', '-w', file];
  if (direction) argv.push('-Q', direction);
  const dump = lab.spawn(R, [...argv, ...filter]);
  let err = '';
  dump.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 60 && !/listening on/.test(err); i++) await sleep(50);
  if (!/listening on/.test(err)) throw new Error(`tcpdump did not start: ${err}`);
  return {
    async stop(fields) {
      await sleep(100);
      const exited = new Promise((r) => dump.once('exit', r));
      lab.kill(dump, 'SIGINT');
      await exited;
      const m = /(\d+) packets dropped by kernel/.exec(err);
      if (m && Number(m[1]) > 0) tt.comment(`tcpdump dropped ${m[1]} packets`);
      const txt = run(['tshark', '-r', file, '-T', 'fields', '-E', 'separator=,', ...fields.flatMap((f) => ['-e', f])]);
      return txt.split('\n').filter((l) => l !== '').map((l) => l.split(','));
    },
  };
}

// tshark's frame.time_epoch in microseconds, without float rounding.
function epochUs(s: string): number {
  const [sec, frac = ''] = s.split('.');
  return Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6)) + Number(`0.${frac.slice(6) || '0'}`);
}

// Echo request (leaving) -> first echo reply (arriving) per sequence number, from a capture.
function echoRtts(rows: string[][], requestType: number, replyType: number): Map<number, number> {
  const req = new Map<number, number>();
  const out = new Map<number, number>();
  for (const [time, type, seq] of rows) {
    const tu = epochUs(time);
    const n = Number(seq);
    if (Number(type) === requestType && !req.has(n)) req.set(n, tu);
    if (Number(type) === replyType && req.has(n) && !out.has(n)) out.set(n, tu - (req.get(n) as number));
  }
  return out;
}

t.test('ICMP: ePPing agrees with ping through the router (IPv4 and IPv6)', async (tt) => {
  const c = attach({ cfg_rate_limit_ms: 0 });
  await sleep(100);
  for (const [dst, proto] of [
    [B.ip4, 'icmp'],
    [B.ip6, 'icmpv6'],
  ] as const) {
    const v6 = proto === 'icmpv6';
    // Host A's own leg (its stack, the veth, the router's port) measured by ping to the router.
    const lanLeg = median((await pingTimes(A.ns, v6 ? topo.portA.ip6 : topo.portA.ip4, 30, 0.02)).map((p) => p.ms * 1000));
    const cap = await capture(tt, 'any', [v6 ? 'icmp6' : 'icmp'], 'in');
    samples.length = 0;
    const pings = await pingTimes(A.ns, dst, 50, 0.05);
    const rows = await cap.stop(['frame.time_epoch', v6 ? 'icmpv6.type' : 'icmp.type', v6 ? 'icmpv6.echo.sequence_number' : 'icmp.seq']);
    const wire = echoRtts(rows, v6 ? 128 : 8, v6 ? 129 : 0);
    const eps = samples.filter((s) => s.proto === proto && s.src === (proto === 'icmp' ? A.ip4 : A.ip6) && s.dst === dst);
    tt.ok(pings.length >= 48, `${proto}: ping got ${pings.length}/50 replies`);
    tt.ok(eps.length >= pings.length - 1, `${proto}: ${eps.length} ePPing samples for ${pings.length} replies`);
    tt.ok(eps.every((s) => s.device === 'pb' && s.side === 'wan' && s.req_device === 'pa'), 'replies came in on the WAN side');
    const pairs = pair(pings, eps);
    const mp = median(pairs.map((p) => p.ping));
    const me = median(pairs.map((p) => p.ep));
    const gaps = pairs.map((p) => p.ping - p.ep);
    const wireDiffs = eps.filter((s) => wire.has(s.id)).map((s) => s.rtt_us - (wire.get(s.id) as number));
    tt.comment(
      `${proto}: ping median ${r1(mp)} µs = ePPing median ${r1(me)} µs + gap ${r1(median(gaps))} µs; ` +
        `ping to the router (LAN leg) ${r1(lanLeg)} µs; ePPing - capture (ingress taps) per echo: median ${r1(median(wireDiffs))} µs (n=${wireDiffs.length})`,
    );
    // ePPing times a sub-path of ping's (router -> host B -> router): never longer.
    tt.ok(gaps.filter((g) => g > 0).length >= 0.95 * gaps.length, `${proto}: ePPing < ping for >= 95% of echoes`);
    // What ping adds is host A's own leg, which ping to the router measures. That leg is
    // measured in a separate run, and tap runs two test files at once on two cores, so the
    // bound allows for scheduling jitter between the runs.
    tt.ok(Math.abs(mp - (me + lanLeg)) < 120, `${proto}: ping ${r1(mp)} µs = ePPing ${r1(me)} + LAN leg ${r1(lanLeg)} within 120 µs`);
    // Against the wire at the same points (request in on pa, reply in on pb). A loose check:
    // the tap keeps an skb timestamp set before XDP ran (the echo request's comes out 10-45 µs
    // early here), so it is no better a clock than ping. TCP below gets the tight comparison.
    tt.ok(wireDiffs.length >= 45, `${wireDiffs.length} echoes seen by both`);
    const wd = median(wireDiffs);
    // Measured here: -10 to -65 µs, depending on how busy the machine is when the capture stamps.
    tt.ok(Math.abs(wd) < 100, `${proto}: ePPing - capture median ${r1(wd)} µs within ±100 µs`);
  }
  const st = svc.stats();
  tt.equal(st.ringbuf_drops, 0, 'no ring buffer drops');
  tt.ok(st.local_skipped >= 0);
  tt.ok(c.maps.ss_ep_events > 0);
});

interface Pkt {
  t: number; // µs
  src: string;
  sport: number;
  dport: number;
  len: number;
  ack: boolean;
  tsval: number;
  tsecr: number;
}

// pping's rule applied to a capture: the first data segment carrying a TSval is the message,
// the first segment of the other direction echoing it (ACK set) is the reply.
function referenceRtts(pkts: Pkt[], client: string, server: string): Map<string, number> {
  const sent = new Map<string, number>();
  const out = new Map<string, number>();
  for (const p of pkts) {
    if (p.src === client && p.len > 0 && !sent.has(`${p.sport}:${p.tsval}`)) sent.set(`${p.sport}:${p.tsval}`, p.t);
    if (p.src === server && p.ack) {
      const k = `${p.dport}:${p.tsecr}`;
      const t0 = sent.get(k);
      if (t0 !== undefined && !out.has(k)) out.set(k, p.t - t0);
    }
  }
  return out;
}

t.test('TCP: ePPing agrees with RTTs matched from a tshark capture of the same iperf3 flow', async (tt) => {
  attach({ cfg_rate_limit_ms: 0 });
  const srv = iperf3Server(lab, B.ns, 5201);
  await srv.ready;
  const cap = await capture(tt, 'any', ['tcp', 'port', '5201'], 'in');
  samples.length = 0;
  await iperf3Client(A.ns, B.ip4, { port: 5201, seconds: 3, bitrate: '100M' });
  const fields = ['frame.time_epoch', 'ip.src', 'tcp.srcport', 'tcp.dstport', 'tcp.len', 'tcp.flags.ack', 'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr'];
  const rows = await cap.stop(fields);
  const pkts: Pkt[] = rows
    .filter((f) => f.length >= 8 && f[6] !== '')
    .map((f) => ({
      t: epochUs(f[0]),
      src: f[1],
      sport: Number(f[2]),
      dport: Number(f[3]),
      len: Number(f[4]),
      ack: f[5] === '1' || f[5] === 'True',
      tsval: Number(f[6]),
      tsecr: Number(f[7]),
    }));
  const ref = referenceRtts(pkts, A.ip4, B.ip4);
  const eps = samples.filter((s) => s.proto === 'tcp' && s.src === A.ip4 && s.dport === 5201);
  tt.ok(pkts.length > 1000, `${pkts.length} packets captured`);
  tt.ok(eps.length >= 200, `${eps.length} ePPing samples of the client's data`);
  const matched = eps.filter((s) => ref.has(`${s.sport}:${s.id}`));
  tt.ok(matched.length >= 0.95 * eps.length, `${matched.length}/${eps.length} samples have the same message in the capture`);
  const diffs = matched.map((s) => s.rtt_us - (ref.get(`${s.sport}:${s.id}`) as number));
  const me = median(matched.map((s) => s.rtt_us));
  const mr = median(matched.map((s) => ref.get(`${s.sport}:${s.id}`) as number));
  const md = median(diffs);
  tt.comment(`TCP: ePPing median ${r1(me)} µs, capture median ${r1(mr)} µs, median per-sample diff ${r1(md)} µs, median |diff| ${r1(median(diffs.map(Math.abs)))} µs (n=${matched.length})`);
  // Absolute bounds for quiet runs; on a busy machine RTTs (and the capture's lag) grow, so
  // the bound grows with them.
  const perSample = Math.max(20, 0.1 * mr);
  const medians = Math.max(30, 0.15 * mr);
  tt.ok(Math.abs(md) < perSample, `per-sample difference median ${r1(md)} µs within ±${r1(perSample)} µs`);
  tt.ok(Math.abs(me - mr) < medians, `medians ${r1(me)} and ${r1(mr)} µs within ${r1(medians)} µs`);
  tt.ok(eps.every((s) => s.device === 'pb' && s.side === 'wan'), 'server replies measured on the WAN side');
  const back = samples.filter((s) => s.proto === 'tcp' && s.src === B.ip4);
  tt.ok(back.every((s) => s.device === 'pa' && s.side === 'lan'), `${back.length} samples of the server's messages are LAN-side`);
});

t.test('queueing delay from an HTB bottleneck: ePPing tracks it and agrees with concurrent pings', async (tt) => {
  attach({ cfg_rate_limit_ms: 10 });
  lab.exec(R, ['tc', 'qdisc', 'add', 'dev', 'pb', 'root', 'handle', '1:', 'htb', 'default', '10']);
  lab.exec(R, ['tc', 'class', 'add', 'dev', 'pb', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20mbit']);
  // 200 kB of buffer: at most 80 ms of queue at 20 Mbit/s, whatever the packet sizes.
  lab.exec(R, ['tc', 'qdisc', 'add', 'dev', 'pb', 'parent', '1:10', 'handle', '10:', 'bfifo', 'limit', '200000']);
  tt.teardown(() => {
    try {
      lab.exec(R, ['tc', 'qdisc', 'del', 'dev', 'pb', 'root']);
    } catch {
      /* namespace already gone */
    }
  });
  const srv = iperf3Server(lab, B.ns, 5202);
  await srv.ready;
  samples.length = 0;
  const bulk = iperf3Client(A.ns, B.ip4, { port: 5202, seconds: 6 });
  await sleep(1500);
  const start = Date.now() * 1000;
  const pings = await pingTimes(A.ns, B.ip4, 35, 0.1);
  const end = Date.now() * 1000;
  await bulk;
  await sleep(100);
  const icmp = samples.filter((s) => s.proto === 'icmp' && s.src === A.ip4);
  const tcp = samples.filter((s) => s.proto === 'tcp' && s.src === A.ip4 && s.dport === 5202 && s.time_us >= start && s.time_us <= end);
  const pairs = pair(pings, icmp);
  tt.ok(pairs.length >= 30, `${pairs.length} pings paired with ePPing samples`);
  const mp = median(pairs.map((p) => p.ping));
  const me = median(pairs.map((p) => p.ep));
  const mt = median(tcp.map((s) => s.rtt_us));
  const gaps = pairs.map((p) => Math.abs(p.ping - p.ep));
  tt.comment(
    `loaded: ping median ${r1(mp / 1000)} ms, ePPing ICMP median ${r1(me / 1000)} ms, median |per-echo gap| ${r1(median(gaps))} µs, ` +
      `ePPing TCP median ${r1(mt / 1000)} ms (n=${tcp.length})`,
  );
  tt.ok(mp > 5_000, `queueing delay is real: ping median ${r1(mp / 1000)} ms (idle: well under 1 ms)`);
  tt.ok(median(gaps) < 300, `per-echo gap median ${r1(median(gaps))} µs < 300 µs`);
  tt.ok(Math.abs(mp - me) / mp < 0.03, 'ICMP medians within 3%');
  tt.ok(tcp.length >= 50, `${tcp.length} TCP samples during the ping run`);
  tt.ok(mt > 5_000 && Math.abs(mt - me) / me < 0.35, 'the bulk flow sees the same queue (TCP median within 35% of ICMP)');
  const agg = svc.collectAggregates();
  const wan = agg.prefixes.find((p) => p.prefix === '198.18.2.0/24' && p.side === 'wan');
  tt.ok(wan && wan.p50_us > 5_000 && wan.count >= tcp.length, `WAN-side /24 histogram shows the queue: ${JSON.stringify(wan && { count: wan.count, p50_us: wan.p50_us, p95_us: wan.p95_us })}`);
});

t.test('egress_tc: pings the box sends itself are timed by tc egress + XDP ingress', async (tt) => {
  attach({ cfg_rate_limit_ms: 0, cfg_egress_tc: true }, true);
  tt.ok(tcAtt, `tc egress program attached (${tcAtt?.kind})`);
  // The request is captured leaving pb (after tc egress), the reply coming in (after XDP).
  const cap = await capture(tt, 'pb', ['icmp']);
  samples.length = 0;
  const pings = await pingTimes(R, B.ip4, 20, 0.05);
  const wire = echoRtts(await cap.stop(['frame.time_epoch', 'icmp.type', 'icmp.seq']), 8, 0);
  const eps = samples.filter((s) => s.proto === 'icmp' && s.src === topo.portB.ip4);
  tt.ok(eps.length >= 18, `${eps.length} samples of the router's own pings`);
  tt.ok(eps.every((s) => s.req_device === 'local' && s.device === 'pb'), 'sent by the box, reply on pb');
  const pairs = pair(pings, eps);
  const diffs = eps.filter((s) => wire.has(s.id)).map((s) => s.rtt_us - (wire.get(s.id) as number));
  const md = median(diffs);
  tt.comment(
    `box's own pings: ping median ${r1(median(pairs.map((p) => p.ping)))} µs, ePPing median ${r1(median(pairs.map((p) => p.ep)))} µs, ` +
      `ePPing - capture median ${r1(md)} µs (n=${diffs.length})`,
  );
  tt.ok(pairs.every((p) => p.ep < p.ping), 'ePPing times a sub-path of ping');
  // XDP sees the reply before the stack's tap does (GRO batching on the veth), so ePPing may
  // only be shorter than the capture, by that batching delay at most.
  tt.ok(md > -80 && md < 10, `tc egress -> XDP ingress vs the capture on pb: ${r1(md)} µs within (-80, 10)`);
  // Forwarded traffic is still timed at ingress, not twice.
  samples.length = 0;
  await pingTimes(A.ns, B.ip4, 5, 0.05);
  await sleep(100);
  tt.equal(samples.filter((s) => s.src === A.ip4).length, 5, 'one sample per forwarded echo');
});
