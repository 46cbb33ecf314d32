import { macBytes } from './layout';

const RTM_NEWNEIGH = 28;
const NLM_F_REQUEST = 0x1;
const AF_BRIDGE = 7;
const NUD_REACHABLE = 0x02;
const NTF_USE = 0x01;
const NTF_MASTER = 0x04;
const NDA_LLADDR = 2;
const NDA_VLAN = 5;

// The bridge never sees frames the fast path forwards, so it would age their FDB entries
// out and start flooding. RTM_NEWNEIGH with NTF_USE|NTF_MASTER refreshes an entry the way
// a received frame would (learning on that port, without making it static).
export function fdbUseMessage(portIfindex: number, mac: string, vlan: number, seq: number): Buffer {
  const attrs: Buffer[] = [];
  const ll = Buffer.alloc(12);
  ll.writeUInt16LE(4 + 6, 0);
  ll.writeUInt16LE(NDA_LLADDR, 2);
  macBytes(mac).copy(ll, 4);
  attrs.push(ll);
  if (vlan) {
    const v = Buffer.alloc(8);
    v.writeUInt16LE(4 + 2, 0);
    v.writeUInt16LE(NDA_VLAN, 2);
    v.writeUInt16LE(vlan, 4);
    attrs.push(v);
  }
  const nd = Buffer.alloc(12);
  nd.writeUInt8(AF_BRIDGE, 0);
  nd.writeInt32LE(portIfindex, 4);
  nd.writeUInt16LE(NUD_REACHABLE, 8);
  nd.writeUInt8(NTF_USE | NTF_MASTER, 10);
  const body = Buffer.concat([nd, ...attrs]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(RTM_NEWNEIGH, 4);
  hdr.writeUInt16LE(NLM_F_REQUEST, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([hdr, body]);
}
