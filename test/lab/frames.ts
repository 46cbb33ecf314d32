// Hand-built frames for BPF_PROG_TEST_RUN and live-frame generation.

import { macBytes } from '../../controller/util/bytes';

export { macBytes };

function ip4Bytes(ip: string): Buffer {
  const o = ip.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${ip}`);
  return Buffer.from(o);
}

function csum16(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Udp4FrameSpec {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  sport?: number;
  dport: number;
  payload?: number | Buffer; // bytes (zero-filled) or content; default 18 (a 60-byte frame)
  ttl?: number;
}

// Ethernet + IPv4 + UDP with a valid IPv4 header checksum and a valid UDP checksum.
export function udp4Frame(s: Udp4FrameSpec): Buffer {
  const payload = Buffer.isBuffer(s.payload) ? s.payload : Buffer.alloc(s.payload ?? 18);
  const eth = Buffer.concat([macBytes(s.dstMac), macBytes(s.srcMac), Buffer.from([0x08, 0x00])]);
  const udpLen = 8 + payload.length;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLen, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = s.ttl ?? 64;
  ip[9] = 17;
  ip4Bytes(s.src).copy(ip, 12);
  ip4Bytes(s.dst).copy(ip, 16);
  ip.writeUInt16BE(csum16(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(s.sport ?? 40000, 0);
  udp.writeUInt16BE(s.dport, 2);
  udp.writeUInt16BE(udpLen, 4);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17]), Buffer.from([udpLen >> 8, udpLen & 0xff])]);
  let c = csum16(Buffer.concat([pseudo, udp, payload]));
  if (c === 0) c = 0xffff;
  udp.writeUInt16BE(c, 6);
  return Buffer.concat([eth, ip, udp, payload]);
}
