// Tens of thousands of random, truncated and mutated frames through parse + l2-bridge +
// l3-router (and parse + l3-router on the routed port), compared with a model of what the
// kernel would do. The fast path may always leave a frame to the kernel; it must never
// redirect one the model would not forward, and what it sends must be what the kernel sends.
import t from 'tap';
import { DataPathLab, FOLDED, MAC, type ChainName } from './bpf-datapath-lab';
import { KernelModel } from './bpf-kernel-model';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, arpRequest, eth, ext6, frag6, icmpEcho, ipv4, ipv4HeaderChecksum, ipv6, udp, vlanTag } from './bpf-frames';
import { fuzzer } from './prng';

const XDP_PASS = 2;
const XDP_REDIRECT = 4;
const SEED = Number(process.env.SS_FUZZ_SEED ?? 0x5eed5);
const ROUNDS = Number(process.env.SS_FUZZ_FRAMES ?? 60000);

const { int, pick } = fuzzer(SEED);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

const lab = new DataPathLab(t);
const X = lab.ifx;
const model = new KernelModel(X);

type Origin = 'p1' | 'p2' | 'r1';
interface Template {
  from: Origin;
  frame: Buffer;
}

const payloads = () => [udp(40000, 5201), udp(53, 53, bytes(int(64))), icmpEcho(8, 7, 1), Buffer.alloc(0), bytes(int(40))];
const v4Dsts = ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.9', '198.18.0.255', '198.18.1.1', '198.18.1.2', '198.18.1.255', '198.18.2.5', '198.18.2.0', '198.18.3.5', '198.18.4.5', '198.18.9.1', '198.18.10.1', '198.18.11.1', '198.19.1.1', '127.0.0.1', '224.0.0.5', '255.255.255.255', '0.1.2.3'];
const v4Srcs = ['198.18.0.3', '198.18.0.77', '198.18.2.7', '198.18.3.3', '198.18.0.1', '198.18.0.255', '198.19.5.5', '10.0.0.1', '0.0.0.0', '127.0.0.1'];
const v6Dsts = ['2001:2::1', '2001:2::2', '2001:2::3', '2001:2::9', '2001:2::', '2001:2:0:1::1', '2001:2:0:1::2', '2001:2:0:2::5', '2001:2:0:3::5', '2001:2:0:9::1', '2001:2:0:77::1', 'fe80::1', 'ff02::1', '::1', '::'];
const v6Srcs = ['2001:2::3', '2001:2:0:2::7', '2001:2::1', 'fe80::2', '::', 'ff05::2', '2001:2:0:77::7'];
const macs = [MAC.h1, MAC.h2, MAC.h3, MAC.n1, MAC.br0, MAC.r1, MAC.stranger, 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', '00:00:00:00:00:00'];

// Well-formed frames a host behind each port could send, most of them forwardable.
function template(): Template {
  const from = pick(['p1', 'p1', 'p2', 'r1'] as const);
  const host = from === 'p1' ? pick([MAC.h1, MAC.h3]) : from === 'p2' ? MAC.h2 : MAC.n1;
  const router = from === 'r1' ? MAC.r1 : MAC.br0;
  const kind = int(6);
  if (kind === 0) {
    // bridged between hosts
    const dst = pick([MAC.h1, MAC.h2, MAC.h3]);
    const proto = pick([ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, 0x88b5]);
    const body =
      proto === ETH_P_IP ? ipv4({ src: '198.18.0.3', dst: '198.18.0.2' }, pick(payloads()))
      : proto === ETH_P_IPV6 ? ipv6({ src: '2001:2::3', dst: '2001:2::2' }, pick(payloads()))
      : proto === ETH_P_ARP ? arpRequest(host, '198.18.0.3', '198.18.0.2')
      : bytes(46);
    return { from, frame: eth(dst, host, proto, body) };
  }
  if (kind <= 3) {
    const src = from === 'r1' ? pick(['198.18.2.7', ...v4Srcs]) : pick(['198.18.0.3', '198.18.0.77', ...v4Srcs]);
    const f = eth(router, host, ETH_P_IP, ipv4({ src, dst: pick(v4Dsts), ttl: pick([64, 64, 2, 1, int(256)]), tos: pick([0, 0x10]) }, pick(payloads())));
    f.writeUInt16BE(int(0x10000), 18); // IP id: spreads checksums over the incremental-update edge cases
    fixIpv4Checksum(f);
    return { from, frame: f };
  }
  const src = from === 'r1' ? pick(['2001:2:0:2::7', ...v6Srcs]) : pick(['2001:2::3', ...v6Srcs]);
  const next = pick([17, 17, 58, 6, 59, 0, 44, 60, 43]);
  const inner = pick(payloads());
  const body = next === 0 || next === 60 || next === 43 ? ext6(17, inner) : next === 44 ? frag6(17, pick([0, 0, 3]), pick([true, false]), inner) : inner;
  return { from, frame: eth(router, host, ETH_P_IPV6, ipv6({ src, dst: pick(v6Dsts), nextHeader: next, hopLimit: pick([64, 64, 2, 1]) }, body)) };
}

function fixIpv4Checksum(f: Buffer): void {
  if (f.length >= 34 && f.readUInt16BE(12) === ETH_P_IP && (f[14] >> 4) === 4) {
    const ihl = (f[14] & 0xf) * 4;
    if (ihl >= 20 && 14 + ihl <= f.length) f.writeUInt16BE(ipv4HeaderChecksum(f.subarray(14, 14 + ihl)), 24);
  }
}

// One mutation of a well-formed frame: the kinds of damage parsers trip over.
function mutate(src: Buffer): Buffer {
  let f = Buffer.from(src);
  const op = int(10);
  switch (op) {
    case 0: // flip a few bytes, mostly in the headers
      for (let i = 0, n = 1 + int(4); i < n; i++) f[int(Math.min(f.length, int(2) ? 80 : f.length))] ^= 1 << int(8);
      break;
    case 1: // truncate
      f = f.subarray(0, 14 + int(Math.max(1, f.length - 13)));
      break;
    case 2: // trailing garbage or padding
      f = Buffer.concat([f, int(2) ? Buffer.alloc(1 + int(60)) : bytes(1 + int(300))]);
      break;
    case 3: // ethertype
      f.writeUInt16BE(pick([ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, 0x8100, 0x88a8, 0x0001, 0x05dc, int(0x10000)]), 12);
      break;
    case 4: // MACs
      Buffer.from(pick(macs).replace(/:/g, ''), 'hex').copy(f, int(2) ? 0 : 6);
      break;
    case 5: // IPv4 ihl / version byte
      if (f.length > 14) f[14] = int(2) ? (0x40 | int(16)) : int(256);
      break;
    case 6: // IPv4 tot_len or IPv6 payload_len
      if (f.length > 19) {
        const at = f.readUInt16BE(12) === ETH_P_IPV6 ? 18 : 16;
        const real = f.length - 14 - (at === 18 ? 40 : 0);
        f.writeUInt16BE(pick([0, 1, 19, 20, 39, 40, real - 1, real, real + 1, 0xffff, int(0x10000)]) & 0xffff, at);
      }
      break;
    case 7: // TTL / hop limit and fragment fields
      if (f.length > 22) {
        if (f.readUInt16BE(12) === ETH_P_IPV6) f[21] = pick([0, 1, 2, 255]);
        else {
          f[22] = pick([0, 1, 2, 255]);
          f.writeUInt16BE(pick([0, 0x4000, 0x2000, 0x0001, 0x1fff, 0x8000, int(0x10000)]), 20);
        }
      }
      break;
    case 8: // IPv6 next header
      if (f.length > 20) f[20] = pick([0, 43, 44, 60, 17, 6, 58, 59, 51, int(256)]);
      break;
    default: // a VLAN tag in front of everything
      f = Buffer.concat([f.subarray(0, 12), Buffer.from([0x81, 0x00]), vlanTag(int(4096), f.readUInt16BE(12), f.subarray(14))]);
  }
  if (int(10) < 7) fixIpv4Checksum(f); // most of the time get past the checksum to deeper checks
  return f;
}

// Frames with no template behind them at all.
function noise(): Buffer {
  if (int(2)) return bytes(14 + int(200));
  const proto = pick([ETH_P_IP, ETH_P_IPV6, 0x8100, ETH_P_ARP, int(0x10000)]);
  const f = eth(pick(macs), pick(macs), proto, bytes(int(120)));
  if (proto === ETH_P_IP && f.length > 14) f[14] = 0x45;
  if (proto === ETH_P_IPV6 && f.length > 14) f[14] = 0x60;
  fixIpv4Checksum(f);
  return f;
}

// Half of the frames run the chains as the deployer loads them (parse folded into l3-router).
const chainOf = (from: Origin): ChainName => {
  const plain: ChainName = from === 'r1' ? 'router' : 'gw';
  return int(2) === 0 ? plain : FOLDED[plain]!;
};
const ifOf = (from: Origin): number => X[from];

t.test(`random, truncated and mutated frames (seed ${SEED}, ${ROUNDS} frames)`, async (tt) => {
  lab.fillMaps();
  const cases: Array<{ chain: ChainName; ingress: number; frame: Buffer; template: boolean }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = int(10);
    if (r === 0) {
      const tp = template();
      cases.push({ chain: chainOf(tp.from), ingress: ifOf(tp.from), frame: tp.frame, template: true });
    } else if (r <= 7) {
      const tp = template();
      let f = mutate(tp.frame);
      if (int(4) === 0) f = mutate(f);
      cases.push({ chain: chainOf(tp.from), ingress: ifOf(tp.from), frame: f, template: false });
    } else {
      // noise, sometimes on the wrong chain for its port (r1 on the gateway chain) or the pure bridge
      const from = pick(['p1', 'p2', 'r1'] as const);
      const chain: ChainName = from === 'r1' ? pick(['router', 'gw', 'routerFold', 'gwFold'] as const) : pick(['gw', 'gwFold', 'bridge'] as const);
      cases.push({ chain, ingress: ifOf(from), frame: noise(), template: false });
    }
  }

  const perChain = new Map<ChainName, number>();
  for (const c of cases) perChain.set(c.chain, (perChain.get(c.chain) ?? 0) + 1);
  const before = new Map([...perChain.keys()].map((ch) => [ch, lab.counters(ch)]));

  let redirects = 0;
  let wrongRedirect = 0;
  let wrongOutput = 0;
  let badVerdict = 0;
  let missedForward = 0;
  let templateMismatch = 0;
  const examples: string[] = [];
  const start = Date.now();
  let runMs = 0;
  const missed: Array<{ chain: ChainName; ingress: number; frame: Buffer }> = [];
  const groups = new Map<ChainName, typeof cases>();
  for (const c of cases) {
    const g = groups.get(c.chain);
    if (g) g.push(c);
    else groups.set(c.chain, [c]);
  }
  for (const [chain, list] of groups) {
    const t0 = Date.now();
    const results = lab.runMany(chain, list.map((c) => ({ ingress: c.ingress, frame: c.frame })));
    runMs += Date.now() - t0;
    list.forEach((c, i) => {
      const res = results[i];
      const expect = model.forward(c.ingress, c.frame);
      const note = (what: string) => {
        if (examples.length < 8) examples.push(`${what}: chain ${chain} in ${c.ingress} retval ${res.retval} frame ${c.frame.toString('hex')}`);
      };
      if (res.retval !== XDP_PASS && res.retval !== XDP_REDIRECT) {
        badVerdict++;
        note('verdict other than PASS/REDIRECT');
      }
      if (res.retval === XDP_REDIRECT) {
        redirects++;
        if (!expect) {
          wrongRedirect++;
          note('redirected, the kernel would not forward');
        } else if (!res.dataOut.equals(expect.out)) {
          wrongOutput++;
          note(`sent ${res.dataOut.toString('hex')} instead of ${expect.out.toString('hex')}`);
        }
      } else if (expect) {
        missedForward++;
        if (missed.length < 300) missed.push({ chain, ingress: c.ingress, frame: c.frame });
      }
      // A template is within the fast path's competence when the chain covers its path.
      if (c.template && chain !== 'bridge' && (res.retval === XDP_REDIRECT) !== (expect !== null)) {
        templateMismatch++;
        note(`template: model ${expect ? expect.kind : 'pass'}`);
      }
    });
  }
  const elapsed = Date.now() - start;

  tt.equal(badVerdict, 0, 'only PASS and REDIRECT verdicts');
  tt.equal(wrongRedirect, 0, 'never redirects what the kernel would not forward');
  tt.equal(wrongOutput, 0, 'redirected frames are byte-exact what the kernel would send');
  tt.equal(templateMismatch, 0, 'well-formed frames: fast path and model agree exactly');
  tt.ok(redirects > ROUNDS / 50, `the fast path did forward (${redirects} redirects)`);
  for (const [ch, n] of perChain) {
    const after = lab.counters(ch);
    const total = after.reduce((s, v, i) => s + v - before.get(ch)![i], 0);
    tt.equal(total, n, `chain ${ch}: every frame counted exactly once`);
  }
  if (examples.length) tt.comment(examples.join('\n'));
  // Why forwardable frames were left to the kernel (conservative, but worth watching).
  const why = new Map<string, number>();
  for (const m of missed) {
    const b = lab.counters(m.chain);
    lab.run(m.chain, m.ingress, m.frame);
    const a = lab.counters(m.chain);
    const id = a.findIndex((v, i) => v !== b[i]);
    const name = lab.counterName(id);
    why.set(name, (why.get(name) ?? 0) + 1);
  }
  tt.comment(`left to the kernel though forwardable (first ${missed.length}): ${[...why].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  tt.comment(`${ROUNDS} frames in ${elapsed} ms (${runMs} ms in the kernel); ${redirects} redirected; ${missedForward} left to the kernel that it would forward`);
});
