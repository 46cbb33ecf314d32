// TCP segments with the timestamp option, on top of the shared frame builders.
import { ETH_P_IP, ETH_P_IPV6, eth, icmpEcho, ipv4, ipv6 } from '../unit/bpf-frames';

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface TcpSpec {
  sport: number;
  dport: number;
  flags: number;
  tsval?: number; // omitted: no timestamp option
  tsecr?: number;
  payload?: number; // bytes of data
  seq?: number;
  tsFirst?: boolean; // timestamp option, then NOP NOP (default: NOP NOP, then timestamp, as Linux sends)
  opts?: Buffer; // these option bytes instead (a multiple of 4)
}

export function tcp(s: TcpSpec): Buffer {
  const opts = s.opts ?? (s.tsval === undefined ? Buffer.alloc(0) : Buffer.alloc(12));
  if (s.tsval !== undefined && !s.opts) {
    const at = s.tsFirst ? 0 : 2;
    opts.fill(1); // NOPs
    opts[at] = 8;
    opts[at + 1] = 10;
    opts.writeUInt32BE(s.tsval >>> 0, at + 2);
    opts.writeUInt32BE((s.tsecr ?? 0) >>> 0, at + 6);
  }
  const h = Buffer.alloc(20);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE((s.seq ?? 1000) >>> 0, 4);
  h.writeUInt32BE(1, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = s.flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, opts, Buffer.alloc(s.payload ?? 0, 0x61)]);
}

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';

export function tcpFrame(src: string, dst: string, s: TcpSpec): Buffer {
  const seg = tcp(s);
  if (src.includes(':')) return eth(MAC_B, MAC_A, ETH_P_IPV6, ipv6({ src, dst, nextHeader: 6 }, seg));
  const f = eth(MAC_B, MAC_A, ETH_P_IP, ipv4({ src, dst, proto: 6 }, seg));
  // Short frames are padded on the wire; the padding must not count as payload.
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
}

export function echoFrame(src: string, dst: string, reply: boolean, id: number, seq: number): Buffer {
  if (src.includes(':')) return eth(MAC_B, MAC_A, ETH_P_IPV6, ipv6({ src, dst, nextHeader: 58 }, icmpEcho(reply ? 129 : 128, id, seq)));
  return eth(MAC_B, MAC_A, ETH_P_IP, ipv4({ src, dst, proto: 1 }, icmpEcho(reply ? 0 : 8, id, seq)));
}
