// The plain lanes (ss_parse_plain_ipv4/ipv6, bpf/include/ss_parse_frame.h) against the
// general parser, frame by frame, through bpf/test/parse_lanes.bpf.c: wherever a lane takes a
// frame it must produce exactly the context ss_parse_frame does, under every parse knob.
// l3-router routes the frames a lane takes without ever running the general parser on them.
import t from 'tap';
import { native, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, type BpfObject } from '../../controller/native';
import { loadTestObject } from '../native/helpers';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, arpRequest, eth, ext6, frag6, icmpEcho, ipv4, ipv6, udp, vlanTag } from './bpf-frames';
import { fuzzer } from './prng';

const SEED = Number(process.env.SS_FUZZ_SEED ?? 0x1a4e5);
const ROUNDS = Number(process.env.SS_LANES_FRAMES ?? 20000);

const { int, pick } = fuzzer(SEED);

const R = '02:00:00:00:00:01';
const H = '02:00:00:00:00:02';
const TCP = 6;
const ICMP = 1;
const ICMPV6 = 58;

function tcp(): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(40000, 0);
  h.writeUInt16BE(443, 2);
  h[12] = 0x50;
  return h;
}

// Frames around the lanes' edges: plain ones, and ones that differ in one field a lane reads.
function template(): Buffer {
  const dst = int(4) ? R : pick(['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:05', '33:33:00:00:00:01', '03:00:00:00:00:01']);
  switch (int(9)) {
    case 0:
    case 1:
      return eth(dst, H, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2', proto: pick([17, 17, TCP, ICMP, 47]) }, pick([udp(1000, 2000), tcp(), icmpEcho(8, 3, 4), Buffer.alloc(int(30))])));
    case 2:
      return eth(dst, H, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2', options: Buffer.from([1, 1, 1, 0]) }, udp(1, 2)));
    case 3:
      return eth(dst, H, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2', fragOff: pick([0x2000, 0x0001, 0x2005, 0x0000, 0x8000]), totLenDelta: pick([0, 0, -1, 1, -30, 200]) }, udp(5, 6)));
    case 4:
    case 5:
      return eth(dst, H, ETH_P_IPV6, ipv6({ src: '2001:2::2', dst: '2001:2:0:1::2', nextHeader: pick([17, TCP, ICMPV6, 59]), payloadLenDelta: pick([0, 0, 0, -1, 1, 100]) }, pick([udp(1000, 2000), tcp(), icmpEcho(128, 3, 4), Buffer.alloc(1 + int(10))])));
    case 6: {
      const nh = pick([0, 43, 60, 44]);
      const inner = udp(7, 8);
      return eth(dst, H, ETH_P_IPV6, ipv6({ src: '2001:2::2', dst: '2001:2:0:1::2', nextHeader: nh }, nh === 44 ? frag6(17, 0, false, inner) : ext6(17, inner)));
    }
    case 7:
      return eth(dst, H, pick([0x8100, 0x88a8]), vlanTag(5, pick([ETH_P_IP, ETH_P_IPV6]), ipv4({ src: '198.18.0.2', dst: '198.18.1.2' }, udp(1, 2))));
    default:
      return pick([eth(dst, H, ETH_P_ARP, arpRequest(H, '198.18.0.2', '198.18.0.1')), eth(dst, H, 0x88b5, Buffer.alloc(46))]);
  }
}

// Byte flips where the lanes look (Ethernet type, first IP bytes, lengths, next header),
// and truncation anywhere, including inside the headers.
function mutate(f: Buffer): Buffer {
  const out = Buffer.from(f);
  const n = int(3);
  for (let i = 0; i < n; i++) {
    const at = pick([0, 12, 13, 14, 15, 16, 17, 20, 21, 18, 19, 20, 34, 35, int(out.length)]);
    if (at < out.length) out[at] = pick([int(256), out[at] ^ (1 << int(8)), 0x45, 0x46, 0x60, 0]);
  }
  return int(4) === 0 ? out.subarray(0, int(out.length + 1)) : out;
}

function show(obj: BpfObject): string {
  const v = native.mapLookup(obj.map('lanes_seen').fd, Buffer.alloc(4));
  return v ? `general ${v.subarray(0, 24).toString('hex')} plain ${v.subarray(24, 48).toString('hex')} rc ${v.readUInt32LE(48)} lane ${v.readUInt32LE(52)}` : 'no record';
}

const KNOBS = [
  { parse_cfg_ipv4: 1, parse_cfg_ipv6: 1, parse_cfg_l4: 0, parse_cfg_vlan: 0 },
  { parse_cfg_ipv4: 1, parse_cfg_ipv6: 1, parse_cfg_l4: 1, parse_cfg_vlan: 0 },
  { parse_cfg_ipv4: 1, parse_cfg_ipv6: 1, parse_cfg_l4: 1, parse_cfg_vlan: 1 },
  { parse_cfg_ipv4: 1, parse_cfg_ipv6: 0, parse_cfg_l4: 1, parse_cfg_vlan: 0 },
  { parse_cfg_ipv4: 0, parse_cfg_ipv6: 1, parse_cfg_l4: 0, parse_cfg_vlan: 1 },
];

const frames = Array.from({ length: ROUNDS }, () => (int(2) === 0 ? template() : mutate(template())));

for (const knobs of KNOBS) {
  t.test(`lanes agree with the general parser: ${JSON.stringify(knobs)}`, async (tt) => {
    const obj = loadTestObject('parse_lanes', { rodata: { ss_self_parse: 1, ...knobs } });
    tt.teardown(() => obj.close());
    const fd = obj.program('parse_lanes').fd;
    const seen = { taken: 0, left: 0 };
    let failures = 0;
    for (const data of frames) {
      if (data.length < 14) continue; // test runs need an Ethernet header
      const { retval } = native.testRun(fd, { data });
      if (retval === XDP_PASS) seen.taken++;
      else if (retval === XDP_TX) seen.left++;
      else if (failures++ < 5) {
        const what = retval === XDP_DROP ? 'contexts differ' : retval === XDP_ABORTED ? 'lane took a frame the parser refuses' : `verdict ${retval}`;
        tt.fail(`${what}: frame ${data.toString('hex')}: ${show(obj)}`);
      }
    }
    tt.equal(failures, 0, `no disagreement over ${frames.length} frames`);
    // Both outcomes occur, or the comparison above proved nothing.
    tt.ok(seen.taken > frames.length / 20, `a lane took ${seen.taken} frames`);
    tt.ok(seen.left > frames.length / 20, `the general parser alone had ${seen.left}`);
  });
}

t.test('the lanes leave what they must to the general parser', async (tt) => {
  const obj = loadTestObject('parse_lanes', { rodata: { ss_self_parse: 1, parse_cfg_ipv4: 1, parse_cfg_ipv6: 1, parse_cfg_l4: 1, parse_cfg_vlan: 1 } });
  tt.teardown(() => obj.close());
  const fd = obj.program('parse_lanes').fd;
  const verdict = (data: Buffer) => native.testRun(fd, { data }).retval;
  const v4 = (o: Partial<Parameters<typeof ipv4>[0]> = {}, dst = R) => eth(dst, H, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2', ...o }, udp(1, 2)));
  const v6 = (nextHeader: number) => eth(R, H, ETH_P_IPV6, ipv6({ src: '2001:2::2', dst: '2001:2:0:1::2', nextHeader }, nextHeader === 44 ? frag6(17, 0, false, udp(1, 2)) : nextHeader === 17 ? udp(1, 2) : ext6(17, udp(1, 2))));
  tt.equal(verdict(v4()), XDP_PASS, 'plain IPv4: the lane');
  tt.equal(verdict(v6(17)), XDP_PASS, 'plain IPv6: the lane');
  tt.equal(verdict(v4({ options: Buffer.from([1, 1, 1, 0]) })), XDP_TX, 'IPv4 options');
  tt.equal(verdict(v4({ fragOff: 0x2000 })), XDP_TX, 'first fragment');
  tt.equal(verdict(v4({ fragOff: 0x0010 })), XDP_TX, 'later fragment');
  tt.equal(verdict(v4({ totLenDelta: 1 })), XDP_TX, 'tot_len past the frame');
  tt.equal(verdict(v4({}, 'ff:ff:ff:ff:ff:ff')), XDP_TX, 'broadcast');
  for (const nh of [0, 43, 44, 60]) tt.equal(verdict(v6(nh)), XDP_TX, `IPv6 extension header ${nh}`);
  tt.equal(verdict(eth(R, H, 0x8100, vlanTag(5, ETH_P_IP, ipv4({ src: '198.18.0.2', dst: '198.18.1.2' }, udp(1, 2))))), XDP_TX, 'tagged');
});
