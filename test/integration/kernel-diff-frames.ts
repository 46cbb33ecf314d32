// The frames the kernel-differential test sends through the router: ordinary ones, and the
// odd ones the kernel drops, delivers locally or forwards with care. Each carries a tag
// (IPv4 ID, IPv6 flow label) so its forwarded copies can be found in a capture.
import { eth, ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ext6, frag6, icmpEcho, ipv4, ipv4HeaderChecksum, ipv6, udp, vlanTag, type Ipv4Opts, type Ipv6Opts } from '../unit/bpf-frames';
import type { LabSubnet } from '../lab';

// One way through the router: who sends, to whom, and the router's side of it.
export interface DiffPath {
  srcMac: string;
  routerMac: string; // the MAC routed frames are addressed to
  src4: string;
  src6: string;
  dst4: string; // the far host
  dst6: string;
  routerOut4: string; // the router's own address on the far side
  routerOut6: string;
  inSubnet: LabSubnet; // the sender's subnet
  outSubnet: LabSubnet; // the far host's
  mtuRouted4: string; // an address behind a route with MTU 1000 (not locked) towards the far host
}

export interface DiffFrame {
  name: string;
  frame: Buffer;
  key: string | null; // how its forwarded copies look in a capture (null: never recognisable)
}

const IPPROTO_TCP = 6;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

// The key of a frame as captured: family, addresses and tag for IPv4/IPv6, the whole frame
// for anything else (bridging never changes a frame).
export function frameKey(f: Buffer): string | null {
  if (f.length < 14) return null;
  const proto = f.readUInt16BE(12);
  if (proto === ETH_P_IP && f.length >= 34) {
    return `4/${f.subarray(26, 30).toString('hex')}/${f.subarray(30, 34).toString('hex')}/${f.readUInt16BE(18)}`;
  }
  if (proto === ETH_P_IPV6 && f.length >= 54) {
    return `6/${f.subarray(22, 38).toString('hex')}/${f.subarray(38, 54).toString('hex')}/${f.readUInt32BE(14) & 0xfffff}`;
  }
  return `raw/${f.toString('hex')}`;
}

function tcpSyn(sport: number, dport: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(1, 4);
  h[12] = 5 << 4;
  h[13] = 0x02;
  h.writeUInt16BE(64240, 14);
  return h;
}

function icmp6(type: number, body = Buffer.alloc(20)): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  return Buffer.concat([h, body]);
}

// An IPv4 packet carrying `tag` as its ID, the header checksum recomputed (or broken, as asked).
function tagged4(o: Ipv4Opts, payload: Buffer, tag: number): Buffer {
  const ip = ipv4(o, payload);
  ip.writeUInt16BE(tag, 4);
  const sum = ipv4HeaderChecksum(ip.subarray(0, (ip[0] & 0xf) * 4));
  ip.writeUInt16BE(o.badChecksum ? sum ^ 0x0101 : sum, 10);
  return ip;
}

// An IPv6 packet carrying `tag` as its flow label.
function tagged6(o: Ipv6Opts, payload: Buffer, tag: number, tclass = 0): Buffer {
  const ip = ipv6(o, payload);
  ip.writeUInt32BE((0x60000000 | (tclass << 20) | tag) >>> 0, 0);
  return ip;
}

// Frames to route along `p`.
export function routedFrames(p: DiffPath): DiffFrame[] {
  const out: DiffFrame[] = [];
  let tag = 0x100;
  const toRouter = { dst: p.routerMac, src: p.srcMac };

  const add4 = (name: string, o: Partial<Ipv4Opts>, payload: Buffer = udp(40000, 9300), l2: { dst?: string; trailer?: number; vlan?: boolean } = {}): void => {
    const ip = tagged4({ src: p.src4, dst: p.dst4, ...o }, payload, tag++);
    const body = Buffer.concat([ip, Buffer.alloc(l2.trailer ?? 0, 0xee)]);
    const frame = l2.vlan ? eth(l2.dst ?? toRouter.dst, toRouter.src, ETH_P_8021Q, vlanTag(7, ETH_P_IP, body)) : eth(l2.dst ?? toRouter.dst, toRouter.src, ETH_P_IP, body);
    out.push({ name: `v4 ${name}`, frame, key: l2.vlan ? null : frameKey(frame) });
  };
  const add6 = (name: string, o: Partial<Ipv6Opts>, payload: Buffer = udp(40000, 9300), l2: { dst?: string; trailer?: number; tclass?: number } = {}): void => {
    const ip = tagged6({ src: p.src6, dst: p.dst6, ...o }, payload, tag++, l2.tclass);
    const frame = eth(l2.dst ?? toRouter.dst, toRouter.src, ETH_P_IPV6, Buffer.concat([ip, Buffer.alloc(l2.trailer ?? 0, 0xee)]));
    out.push({ name: `v6 ${name}`, frame, key: frameKey(frame) });
  };

  // IPv4: what the kernel forwards.
  add4('udp', {});
  add4('icmp echo', { proto: IPPROTO_ICMP }, icmpEcho(8, 77, 1));
  add4('tcp syn', { proto: IPPROTO_TCP }, tcpSyn(40001, 9301));
  add4('unknown protocol', { proto: 253 }, Buffer.alloc(24, 1));
  add4('ttl 2', { ttl: 2 });
  add4('ecn and dscp', { tos: 0xb9 });
  add4('tos 0x10', { tos: 0x10 });
  add4('tos 0x10 with ECN bits', { tos: 0x13 });
  add4('udp from port 40123', {}, udp(40123, 9400));
  add4('no DF', { fragOff: 0 });
  add4('ethernet trailer after the IP packet', {}, udp(40000, 9300), { trailer: 12 });
  add4('large', {}, udp(40000, 9300, Buffer.alloc(1400, 7)));
  add4('source is the far host (rp_filter decides)', { src: p.dst4 });
  add4('source in an unrouted lab prefix', { src: '198.19.200.1' });
  add4('to a route with MTU 1000, 1200 bytes, DF', { dst: p.mtuRouted4 }, udp(40000, 9300, Buffer.alloc(1172, 3)));
  add4('to a route with MTU 1000, 1200 bytes, no DF', { dst: p.mtuRouted4, fragOff: 0 }, udp(40000, 9300, Buffer.alloc(1172, 3)));
  add4('to a route with MTU 1000, 1000 bytes', { dst: p.mtuRouted4 }, udp(40000, 9300, Buffer.alloc(972, 3)));
  // IPv4: what the kernel drops, answers or keeps.
  add4('ttl 1', { ttl: 1 });
  add4('ttl 0', { ttl: 0 });
  add4('options', { options: Buffer.from([1, 1, 1, 0]) });
  add4('bad header checksum', { badChecksum: true });
  add4('first fragment', { fragOff: 0x2000 });
  add4('later fragment', { fragOff: 0x0001 });
  add4('tot_len beyond the frame', { totLenDelta: 40 });
  add4('source 0.0.0.1', { src: '0.0.0.1' });
  add4('source 127.0.0.1', { src: '127.0.0.1' });
  add4('source multicast', { src: '224.0.0.9' });
  add4('source class E', { src: '240.0.0.1' });
  add4('source limited broadcast', { src: '255.255.255.255' });
  add4("source is the router's own address", { src: p.routerOut4 });
  add4('source is the ingress subnet broadcast', { src: p.inSubnet.host4(255) });
  add4('destination is the router', { dst: p.routerOut4 });
  add4('destination is the far subnet broadcast', { dst: p.outSubnet.host4(255) });
  add4('destination is the far network address', { dst: p.outSubnet.host4(0) });
  add4('destination limited broadcast', { dst: '255.255.255.255' });
  add4('destination loopback', { dst: '127.0.0.1' });
  add4('destination multicast', { dst: '239.1.2.3' }, udp(40000, 9300), { dst: '01:00:5e:01:02:03' });
  add4('destination without a route', { dst: '198.19.201.1' });
  add4('unicast IP in an Ethernet broadcast', {}, udp(40000, 9300), { dst: 'ff:ff:ff:ff:ff:ff' });
  add4('frame for another host', {}, udp(40000, 9300), { dst: '02:00:00:00:00:99' });
  add4('VLAN tagged', {}, udp(40000, 9300), { vlan: true });

  // IPv6: what the kernel forwards.
  add6('udp', {});
  add6('icmpv6 echo', { nextHeader: IPPROTO_ICMPV6 }, icmpEcho(128, 77, 1));
  add6('tcp syn', { nextHeader: IPPROTO_TCP }, tcpSyn(40001, 9301));
  add6('hop limit 2', { hopLimit: 2 });
  add6('traffic class', {}, udp(40000, 9300), { tclass: 0xb9 });
  add6('traffic class 0x10', {}, udp(40000, 9300), { tclass: 0x10 });
  add6('udp from port 40123', {}, udp(40123, 9400));
  add6('ethernet trailer', {}, udp(40000, 9300), { trailer: 12 });
  add6('large', {}, udp(40000, 9300, Buffer.alloc(1400, 7)));
  add6('source is the far host', { src: p.dst6 });
  add6("source is the router's own address", { src: p.routerOut6 });
  add6('source unspecified', { src: '::' });
  add6('neighbour solicitation to the far host', { nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, icmp6(135));
  add6('neighbour advertisement to the far host', { nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, icmp6(136));
  add6('router solicitation to the far host', { nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, icmp6(133));
  add6('redirect to the far host', { nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, icmp6(137, Buffer.alloc(36)));
  // IPv6: what the kernel drops, answers or keeps.
  add6('hop limit 1', { hopLimit: 1 });
  add6('hop limit 0', { hopLimit: 0 });
  add6('source v4-mapped', { src: `::ffff:${p.src4}` });
  add6('source loopback', { src: '::1' });
  add6('source link-local', { src: 'fe80::2' });
  add6('source multicast', { src: 'ff02::1' });
  add6('hop-by-hop header', { nextHeader: 0 }, ext6(17, udp(40000, 9300)));
  add6('destination options header', { nextHeader: 60 }, ext6(17, udp(40000, 9300)));
  add6('fragment header', { nextHeader: 44 }, frag6(17, 0, true, udp(40000, 9300)));
  add6('payload length beyond the frame', { payloadLenDelta: 40 });
  add6('destination is the router', { dst: p.routerOut6 });
  add6('destination is the subnet-router anycast address', { dst: p.outSubnet.host6(0) });
  add6('destination link-local', { dst: 'fe80::2' });
  add6('destination loopback', { dst: '::1' });
  add6('destination v4-mapped', { dst: `::ffff:${p.dst4}` });
  add6('destination multicast', { dst: 'ff0e::9' }, udp(40000, 9300), { dst: '33:33:00:00:00:09' });
  add6('destination without a route', { dst: '2001:2:0:ff::1' });
  add6('frame for another host', {}, udp(40000, 9300), { dst: '02:00:00:00:00:99' });
  return out;
}

// One way across a bridge, from a host on one port to a host on another.
export interface BridgePath {
  srcMac: string;
  dstMac: string;
  sameSideMac: string; // a host the bridge knows behind the sender's own port
  bridgeMac: string;
  src4: string;
  dst4: string;
  src6: string;
  dst6: string;
}

// Frames to bridge along `p`: what the bridge forwards, floods, keeps or drops, and what
// br_netfilter (when loaded) checks on the way.
export function bridgedFrames(p: BridgePath): DiffFrame[] {
  const out: DiffFrame[] = [];
  let tag = 0x800;
  const add = (name: string, frame: Buffer): void => {
    out.push({ name: `l2 ${name}`, frame, key: frameKey(frame) });
  };
  const ip4 = (o: Partial<Ipv4Opts> = {}, payload: Buffer = udp(40000, 9300)): Buffer => tagged4({ src: p.src4, dst: p.dst4, ...o }, payload, tag++);
  const ip6 = (o: Partial<Ipv6Opts> = {}, payload: Buffer = udp(40000, 9300)): Buffer => tagged6({ src: p.src6, dst: p.dst6, ...o }, payload, tag++);
  const other = (type: number): Buffer => {
    const b = Buffer.alloc(46, 0x5a);
    b.writeUInt16BE(tag++, 0);
    return eth(p.dstMac, p.srcMac, type, b);
  };
  add('IPv4 UDP', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4()));
  add('IPv4 TCP', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({ proto: IPPROTO_TCP }, tcpSyn(40001, 9301))));
  add('IPv6 UDP', eth(p.dstMac, p.srcMac, ETH_P_IPV6, ip6()));
  add('IPv6 ICMPv6 echo', eth(p.dstMac, p.srcMac, ETH_P_IPV6, ip6({ nextHeader: IPPROTO_ICMPV6 }, icmpEcho(128, 5, 1))));
  add('unknown EtherType', other(0x88b5));
  add('IPv4 TTL 0 (not the bridge\'s business)', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({ ttl: 0 })));
  add('IPv4 with options', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({ options: Buffer.from([1, 1, 1, 0]) })));
  add('IPv4 bad header checksum', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({ badChecksum: true })));
  add('IPv4 tot_len beyond the frame', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({ totLenDelta: 40 })));
  add('IPv4 with an Ethernet trailer', eth(p.dstMac, p.srcMac, ETH_P_IP, Buffer.concat([ip4(), Buffer.alloc(10, 0xee)])));
  add('IPv6 with an Ethernet trailer', eth(p.dstMac, p.srcMac, ETH_P_IPV6, Buffer.concat([ip6(), Buffer.alloc(10, 0xee)])));
  add('IPv6 payload length beyond the frame', eth(p.dstMac, p.srcMac, ETH_P_IPV6, ip6({ payloadLenDelta: 40 })));
  add('IPv6 hop-by-hop header', eth(p.dstMac, p.srcMac, ETH_P_IPV6, ip6({ nextHeader: 0 }, ext6(17, udp(40000, 9300)))));
  add('IPv4 truncated header', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4().subarray(0, 12)));
  add('VLAN tagged', eth(p.dstMac, p.srcMac, ETH_P_8021Q, vlanTag(7, ETH_P_IP, ip4())));
  add('largest frame the port takes', eth(p.dstMac, p.srcMac, ETH_P_IP, ip4({}, udp(40000, 9300, Buffer.alloc(1472, 1)))));
  add('unknown destination (flooded)', eth('02:00:00:00:00:77', p.srcMac, ETH_P_IP, ip4()));
  add('broadcast', eth('ff:ff:ff:ff:ff:ff', p.srcMac, ETH_P_IP, ip4()));
  add('IPv4 multicast', eth('01:00:5e:01:02:03', p.srcMac, ETH_P_IP, ip4({ dst: '239.1.2.3' })));
  add('STP group address', eth('01:80:c2:00:00:00', p.srcMac, 0x0026, Buffer.alloc(38, 0x42)));
  add('LLDP group address', eth('01:80:c2:00:00:0e', p.srcMac, 0x88cc, Buffer.alloc(46, 0x43)));
  add('zero source MAC', eth(p.dstMac, '00:00:00:00:00:00', ETH_P_IP, ip4()));
  add('multicast source MAC', eth(p.dstMac, '01:00:5e:00:00:09', ETH_P_IP, ip4()));
  add('to the bridge itself', eth(p.bridgeMac, p.srcMac, 0x88b5, Buffer.alloc(46, 0x44)));
  add('to a host behind the same port', eth(p.sameSideMac, p.srcMac, ETH_P_IP, ip4()));
  add('from a host not learned yet', eth(p.dstMac, '02:00:00:00:0a:99', ETH_P_IP, ip4()));
  return out;
}

// Frames to destinations behind a multipath route: plain ones, which the kernel hashes by
// their own addresses, and ICMP errors, which it hashes by the packet they quote.
export function multipathFrames(p: DiffPath, dst4: string[], dst6: string[]): DiffFrame[] {
  const out: DiffFrame[] = [];
  let tag = 0xc00;
  const v4 = (name: string, dst: string, proto: number, payload: Buffer): void => {
    const frame = eth(p.routerMac, p.srcMac, ETH_P_IP, tagged4({ src: p.src4, dst, proto }, payload, tag++));
    out.push({ name: `ecmp v4 ${name} to ${dst}`, frame, key: frameKey(frame) });
  };
  const v6 = (name: string, dst: string, next: number, payload: Buffer): void => {
    const frame = eth(p.routerMac, p.srcMac, ETH_P_IPV6, tagged6({ src: p.src6, dst, nextHeader: next }, payload, tag++));
    out.push({ name: `ecmp v6 ${name} to ${dst}`, frame, key: frameKey(frame) });
  };
  dst4.forEach((d, i) => {
    v4('udp', d, 17, udp(41000 + i, 9300));
    // What the sender (a router on that side) reports about a packet from d to another host
    // behind it: the kernel hashes the quoted pair, not the outer one.
    const quoted = ipv4({ src: d, dst: p.inSubnet.host4(100 + i) }, udp(9300, 41000 + i)).subarray(0, 28);
    const type = i % 2 ? 11 : 3;
    v4(type === 3 ? 'destination unreachable' : 'time exceeded', d, IPPROTO_ICMP, Buffer.concat([Buffer.from([type, type === 3 ? 4 : 0, 0, 0, 0, 0, 0x05, 0xdc]), quoted]));
  });
  dst6.forEach((d, i) => {
    v6('udp', d, 17, udp(41000 + i, 9300));
    const quoted = ipv6({ src: d, dst: p.inSubnet.host6(100 + i) }, udp(9300, 41000 + i)).subarray(0, 48);
    const type = i % 2 ? 3 : 2;
    v6(type === 2 ? 'packet too big' : 'time exceeded', d, IPPROTO_ICMPV6, Buffer.concat([Buffer.from([type, 0, 0, 0, 0, 0, 0x05, 0x00]), quoted]));
  });
  return out;
}
