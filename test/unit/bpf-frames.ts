// Frame builders for driving the BPF data path through BPF_PROG_TEST_RUN. Every builder
// produces a well-formed frame by default; tests then break one field at a time.

export function mac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC ${s}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ip4(s: string): Buffer {
  const o = s.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${s}`);
  return Buffer.from(o);
}

export function ip6(s: string): Buffer {
  const halves = s.split('::');
  const parse = (x: string): number[] => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) throw new Error(`bad IPv6 ${s}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

// One's-complement sum folded to 16 bits (not inverted).
export function sum16(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function ipv4HeaderChecksum(hdr: Buffer): number {
  const copy = Buffer.from(hdr);
  copy.writeUInt16BE(0, 10);
  return ~sum16(copy) & 0xffff;
}

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;

export function eth(dst: string, src: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  mac(dst).copy(h, 0);
  mac(src).copy(h, 6);
  h.writeUInt16BE(proto, 12);
  return Buffer.concat([h, payload]);
}

export function vlanTag(vid: number, proto: number, payload: Buffer): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt16BE(vid & 0xfff, 0);
  t.writeUInt16BE(proto, 2);
  return Buffer.concat([t, payload]);
}

export function udp(sport: number, dport: number, payload: Buffer = Buffer.alloc(18)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]); // checksum 0: not checked on the forwarding path
}

export function icmpEcho(type: number, id: number, seq: number, payload: Buffer = Buffer.alloc(16)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(seq, 6);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto?: number; // default UDP
  ttl?: number;
  tos?: number;
  fragOff?: number; // raw frag_off field (flags + offset), default DF
  options?: Buffer; // multiple of 4 bytes
  totLenDelta?: number; // added to the correct tot_len
  badChecksum?: boolean;
}

export function ipv4(o: Ipv4Opts, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = 0x40 | ((20 + opts.length) / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(h.length + payload.length + (o.totLenDelta ?? 0), 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE(o.fragOff ?? 0x4000, 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto ?? 17;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(ipv4HeaderChecksum(h) ^ (o.badChecksum ? 0x0101 : 0), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  nextHeader?: number; // of the first header after the fixed one; default UDP
  hopLimit?: number;
  payloadLenDelta?: number;
}

export function ipv6(o: Ipv6Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000 | 0x12345, 0);
  h.writeUInt16BE(payload.length + (o.payloadLenDelta ?? 0), 4);
  h[6] = o.nextHeader ?? 17;
  h[7] = o.hopLimit ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

// A generic 8-byte IPv6 extension header (hop-by-hop, routing, destination options).
export function ext6(next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h[1] = 0;
  return Buffer.concat([h, payload]);
}

export function frag6(next: number, offset8: number, more: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE((offset8 << 3) | (more ? 1 : 0), 2);
  h.writeUInt32BE(0xabcd, 4);
  return Buffer.concat([h, payload]);
}

export function arpRequest(srcMac: string, srcIp: string, dstIp: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(ETH_P_IP, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(1, 6);
  mac(srcMac).copy(b, 8);
  ip4(srcIp).copy(b, 14);
  ip4(dstIp).copy(b, 24);
  return b;
}
