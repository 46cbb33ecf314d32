// Test frames for the benchmarks: Ethernet + IPv4/IPv6 + UDP or TCP (with the timestamp
// option), padded to an exact frame length, every checksum valid.
import { macBytes } from '../test/lab/frames';

export interface FlowSpec {
  srcMac: string;
  dstMac: string;
  src: string; // IPv4 dotted quad or IPv6
  dst: string;
  sport: number;
  dport: number;
  proto: 'udp' | 'tcp';
  length: number; // frame length without FCS, as XDP sees it
  ttl?: number;
}

export const TCP_TS_OPT_OFF = 20 + 2; // TSval inside a TCP header with NOP NOP TS options

function ip4Bytes(ip: string): Buffer {
  const o = ip.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${ip}`);
  return Buffer.from(o);
}

export function ip6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${ip}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function sum16(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function isV6(addr: string): boolean {
  return addr.includes(':');
}

export function headerLength(spec: Pick<FlowSpec, 'src' | 'proto'>): number {
  return 14 + (isV6(spec.src) ? 40 : 20) + (spec.proto === 'tcp' ? 32 : 8);
}

// Offset of the TSval field in a TCP frame built by buildFrame.
export function tsvalOffset(spec: Pick<FlowSpec, 'src'>): number {
  return 14 + (isV6(spec.src) ? 40 : 20) + TCP_TS_OPT_OFF + 2;
}

export function buildFrame(s: FlowSpec): Buffer {
  const v6 = isV6(s.src);
  const l3len = v6 ? 40 : 20;
  const l4hdr = s.proto === 'tcp' ? 32 : 8;
  const payloadLen = s.length - 14 - l3len - l4hdr;
  if (payloadLen < 0) throw new RangeError(`a ${s.proto}/${v6 ? 'IPv6' : 'IPv4'} frame needs at least ${14 + l3len + l4hdr} bytes, not ${s.length}`);
  const payload = Buffer.alloc(payloadLen, 0x5a);
  const protoNum = s.proto === 'tcp' ? 6 : 17;
  const l4 = Buffer.alloc(l4hdr);
  l4.writeUInt16BE(s.sport, 0);
  l4.writeUInt16BE(s.dport, 2);
  if (s.proto === 'udp') {
    l4.writeUInt16BE(8 + payloadLen, 4);
  } else {
    l4.writeUInt32BE(1000, 4); // seq
    l4.writeUInt32BE(1, 8); // ack
    l4[12] = (32 / 4) << 4;
    l4[13] = 0x18; // PSH|ACK
    l4.writeUInt16BE(64240, 14);
    l4[20] = 1; // NOP
    l4[21] = 1; // NOP
    l4[22] = 8; // timestamp
    l4[23] = 10;
    l4.writeUInt32BE(1, 24); // TSval (the injector stamps fresh ones)
    l4.writeUInt32BE(0, 28); // TSecr
  }
  const srcB = v6 ? ip6Bytes(s.src) : ip4Bytes(s.src);
  const dstB = v6 ? ip6Bytes(s.dst) : ip4Bytes(s.dst);
  const l4len = l4hdr + payloadLen;
  const pseudo = Buffer.concat([srcB, dstB, Buffer.from([0, protoNum, (l4len >> 8) & 0xff, l4len & 0xff])]);
  let c = fold(sum16(Buffer.concat([l4, payload]), sum16(pseudo)));
  if (s.proto === 'udp' && c === 0) c = 0xffff;
  l4.writeUInt16BE(c, s.proto === 'udp' ? 6 : 16);
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(l4len, 4);
    ip[6] = protoNum;
    ip[7] = s.ttl ?? 64;
    srcB.copy(ip, 8);
    dstB.copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4len, 2);
    ip.writeUInt16BE(0x4000, 6);
    ip[8] = s.ttl ?? 64;
    ip[9] = protoNum;
    srcB.copy(ip, 12);
    dstB.copy(ip, 16);
    ip.writeUInt16BE(fold(sum16(ip)), 10);
  }
  const eth = Buffer.concat([macBytes(s.dstMac), macBytes(s.srcMac), Buffer.from(v6 ? [0x86, 0xdd] : [0x08, 0x00])]);
  return Buffer.concat([eth, ip, l4, payload]);
}

// The k-th of many distinct flows derived from a base flow.
export interface FlowVariation {
  srcMac?: (k: number) => string;
  src?: (k: number) => string;
  sport?: (k: number) => number;
}

export function flowSet(base: FlowSpec, count: number, vary: FlowVariation): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let k = 0; k < count; k++) {
    out.push({
      ...base,
      srcMac: vary.srcMac ? vary.srcMac(k) : base.srcMac,
      src: vary.src ? vary.src(k) : base.src,
      sport: vary.sport ? vary.sport(k) : base.sport,
    });
  }
  return out;
}

// Locally administered MAC number k (k < 2^16), distinct per tag.
export function benchMac(tag: number, k: number): string {
  const b = [0x02, 0xbe, tag & 0xff, 0x00, (k >> 8) & 0xff, k & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
