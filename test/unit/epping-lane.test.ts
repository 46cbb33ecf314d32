// The quiet lane (ep_plain_quiet_find, bpf/fpm/epping_xdp.h) against the monitor's own path to
// the quiet check, frame by frame, through bpf/test/epping_lane.bpf.c. The lane hashes a
// plain frame's header words without building the tuple ep_frame builds; when they disagree,
// nothing goes wrong that a counter shows (the monitor still finds the direction quiet), only
// the lane's saving is lost, so this test is what keeps them equal.
import t from 'tap';
import { native, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, type BpfObject } from '../../controller/native';
import { loadTestObject } from '../native/helpers';
import { ETH_P_IP, ETH_P_IPV6, eth, frag6, ext6, icmpEcho, ipv4, ipv6, udp, vlanTag } from './bpf-frames';
import { fuzzer } from './prng';

const SEED = Number(process.env.SS_FUZZ_SEED ?? 0x9e57);
const ROUNDS = Number(process.env.SS_LANES_FRAMES ?? 20000);

const { int, pick } = fuzzer(SEED);

const R = '02:00:00:00:00:01';
const H = '02:00:00:00:00:02';
const TCP = 6;
const ICMPV6 = 58;
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

// A TCP header with `doff` 32-bit words (its length, whatever doff says, is max(doff, 5) words).
function tcp(sport: number, dport: number, flags: number, doff = 8, payload = 0): Buffer {
  const words = Math.max(doff, 5);
  const h = Buffer.alloc(words * 4 + payload);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(int(2 ** 32), 4);
  h[12] = (doff & 15) << 4;
  h[13] = flags;
  if (words >= 8) h.writeUInt32BE(0x0101080a, 20); // NOP NOP timestamp
  return h;
}

const v4addr = () => `198.${18 + int(2)}.${int(256)}.${int(256)}`;
const v6addr = () => `2001:2:0:${int(65536).toString(16)}::${(1 + int(65535)).toString(16)}`;
const flagsOf = () => pick([ACK, ACK, ACK | PSH, ACK, SYN, SYN | ACK, FIN | ACK, RST, RST | ACK, 0, PSH]);
const doffOf = () => pick([8, 8, 8, 5, 5, 6, 15, 4, 0, 3]);

function segment(v6: boolean): Buffer {
  const l4 = tcp(1 + int(65535), 1 + int(65535), flagsOf(), doffOf(), pick([0, 0, 40, 1]));
  return v6
    ? eth(R, H, ETH_P_IPV6, ipv6({ src: v6addr(), dst: v6addr(), nextHeader: TCP }, l4))
    : eth(R, H, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: TCP }, l4));
}

// Mostly TCP segments a plain lane takes; around them, what only the general parser takes.
function template(): Buffer {
  switch (int(10)) {
    case 0:
      return eth(R, H, 0x8100, vlanTag(5, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: TCP }, tcp(1000, 443, ACK))));
    case 1:
      return eth(R, H, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: TCP, options: Buffer.from([1, 1, 1, 0]) }, tcp(1000, 443, ACK)));
    case 2:
      return eth(R, H, ETH_P_IPV6, ipv6({ src: v6addr(), dst: v6addr(), nextHeader: pick([0, 60, 44]) }, pick([ext6(TCP, tcp(1000, 443, ACK)), frag6(TCP, 0, false, tcp(1000, 443, ACK))])));
    case 3:
      return pick([
        eth(R, H, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: 17 }, udp(1000, 443))),
        eth(R, H, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: 1 }, icmpEcho(8, 3, 4))),
        eth(R, H, ETH_P_IPV6, ipv6({ src: v6addr(), dst: v6addr(), nextHeader: ICMPV6 }, icmpEcho(128, 3, 4))),
      ]);
    case 4:
      return eth(R, H, ETH_P_IP, ipv4({ src: v4addr(), dst: v4addr(), proto: TCP, fragOff: pick([0x2000, 0x0003]) }, tcp(1000, 443, ACK)));
    default:
      return segment(int(2) === 0);
  }
}

// Byte flips where either path looks (types, lengths, protocol, data offset, flags), and
// truncation anywhere, headers included.
function mutate(f: Buffer): Buffer {
  const out = Buffer.from(f);
  const n = 1 + int(2);
  for (let i = 0; i < n; i++) {
    const at = pick([12, 13, 14, 16, 17, 20, 23, 18, 19, 46, 47, 66, 67, 34, 35, int(out.length)]);
    if (at < out.length) out[at] = pick([int(256), out[at] ^ (1 << int(8)), 0x45, 0x60, TCP, 0x50, 0x80, ACK, SYN]);
  }
  return int(4) === 0 ? out.subarray(0, 14 + int(out.length - 13)) : out;
}

function show(obj: BpfObject): string {
  const v = native.mapLookup(obj.map('lane_seen').fd, Buffer.alloc(4));
  if (!v) return 'no record';
  return `lane set ${v.readUInt32LE(0)} tag ${v.readUInt32LE(4)} / monitor set ${v.readUInt32LE(8)} tag ${v.readUInt32LE(12)}; checks lane ${v.readUInt32LE(16)} monitor ${v.readUInt32LE(20)}; plain ${v.readUInt32LE(24)} rc ${v.readUInt32LE(28)}`;
}

const PARSE = { ss_self_parse: 1, parse_cfg_ipv4: 1, parse_cfg_ipv6: 1, parse_cfg_l4: 1, parse_cfg_vlan: 1 };
const frames = Array.from({ length: ROUNDS }, () => (int(3) === 0 ? mutate(template()) : template()));

const CASES: { name: string; rodata: Record<string, number>; checks: boolean }[] = [
  { name: 'default knobs (100 ms rate limit)', rodata: {}, checks: true },
  { name: 'RTT-relative rate only, 4096 flow sets', rodata: { cfg_rate_limit_ms: 0, cfg_rtt_rate_milli: 1000, cfg_flow_sets: 4096 }, checks: true },
  { name: 'no rate limit: no quiet check', rodata: { cfg_rate_limit_ms: 0 }, checks: false },
  { name: 'TCP not monitored', rodata: { cfg_tcp: 0 }, checks: false },
];

for (const c of CASES) {
  t.test(`quiet lane agrees with the monitor: ${c.name}`, async (tt) => {
    const obj = loadTestObject('epping_lane', { rodata: { ...PARSE, ...c.rodata } });
    tt.teardown(() => obj.close());
    const seed = Buffer.alloc(8);
    seed.writeUInt32LE(int(2 ** 32), 0);
    seed.writeUInt32LE(int(2 ** 32), 4);
    native.mapUpdate(obj.map('ss_ep_seed').fd, Buffer.alloc(4), seed);
    const fd = obj.program('epping_lane').fd;
    const seen = { checked: 0, neither: 0, notPlain: 0 };
    const tags = new Set<number>();
    let failures = 0;
    for (const data of frames) {
      const { retval } = native.testRun(fd, { data });
      if (retval === XDP_PASS) {
        const v = native.mapLookup(obj.map('lane_seen').fd, Buffer.alloc(4))!;
        if (v.readUInt32LE(16) === 0) seen.neither++;
        else {
          seen.checked++;
          if (tags.size < 1000) tags.add(v.readUInt32LE(4));
        }
      } else if (retval === XDP_TX) seen.notPlain++;
      else if (failures++ < 5) {
        const what = retval === XDP_DROP ? 'set or tag differ' : retval === XDP_ABORTED ? 'only one of them checks it' : `verdict ${retval}`;
        tt.fail(`${what}: frame ${data.toString('hex')}: ${show(obj)}`);
      }
    }
    tt.equal(failures, 0, `no disagreement over ${frames.length} frames`);
    tt.ok(seen.notPlain > frames.length / 20, `no plain lane takes ${seen.notPlain} frames`);
    tt.ok(seen.neither > frames.length / 20, `of the plain ones, neither checks ${seen.neither}`);
    if (c.checks) {
      tt.ok(seen.checked > frames.length / 10, `both check ${seen.checked}`);
      // A hash that ignored the addresses or ports would give few tags.
      tt.ok(tags.size > 900, `${tags.size} distinct tags among the first checked frames`);
    } else {
      tt.equal(seen.checked, 0, 'neither checks any frame');
    }
  });
}

t.test('the quiet lane takes plain segments and leaves opening and closing ones', async (tt) => {
  const obj = loadTestObject('epping_lane', { rodata: PARSE });
  tt.teardown(() => obj.close());
  const fd = obj.program('epping_lane').fd;
  const checks = (data: Buffer) => {
    const { retval } = native.testRun(fd, { data });
    tt.not(retval, XDP_DROP, 'agree');
    tt.not(retval, XDP_ABORTED, 'agree');
    const v = native.mapLookup(obj.map('lane_seen').fd, Buffer.alloc(4))!;
    return v.readUInt32LE(16) === 1;
  };
  const v4 = (flags: number, doff = 8) => eth(R, H, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2', proto: TCP }, tcp(40000, 443, flags, doff, 40)));
  const v6 = (flags: number) => eth(R, H, ETH_P_IPV6, ipv6({ src: '2001:2::2', dst: '2001:2:0:1::2', nextHeader: TCP }, tcp(40000, 443, flags, 8, 40)));
  tt.ok(checks(v4(ACK | PSH)), 'IPv4 data segment');
  tt.ok(checks(v4(ACK)), 'IPv4 pure ACK');
  tt.ok(checks(v4(ACK, 5)), 'IPv4 segment without options');
  tt.ok(checks(v6(ACK | PSH)), 'IPv6 data segment');
  for (const [f, what] of [[SYN, 'SYN'], [SYN | ACK, 'SYN-ACK'], [FIN | ACK, 'FIN'], [RST, 'RST']] as const) {
    tt.notOk(checks(v4(f)), `IPv4 ${what}`);
    tt.notOk(checks(v6(f)), `IPv6 ${what}`);
  }
  tt.notOk(checks(v4(ACK, 4)), 'data offset below 5');
  tt.notOk(checks(v4(ACK).subarray(0, 14 + 20 + 19)), 'TCP header cut short');
});
