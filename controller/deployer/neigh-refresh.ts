// l3-router marks the next hops it forwards to (ss_nh_used, bpf/include/ss_maps.h). The
// kernel never transmits through those neighbour entries, so it would neither verify a
// STALE one nor see it used. Each refresh turns the marks into RTM_NEWNEIGH with NTF_USE,
// which does what a transmit does (neigh_event_send): a STALE entry goes to DELAY and is
// probed, a dead next hop ends FAILED (and the FIB lookup then hands its packets to the
// kernel), and the entry counts as used for garbage collection.

export const NH_USE_SIZE = 24; // struct ss_nh_use

const RTM_NEWNEIGH = 28;
const NLM_F_REQUEST = 0x1;
const NLM_F_REPLACE = 0x100;
const NUD_PERMANENT = 0x80; // ignored with NTF_USE; what `ip neigh change ... use` sends
const NTF_USE = 0x01;
const NDA_DST = 1;
const AF_INET = 2;
const AF_INET6 = 10;

export interface NextHopUse {
  family: 4 | 6;
  ifindex: number;
  addr: Buffer; // 4 or 16 bytes, network order
}

// The marks of a per-CPU dump of ss_nh_used (values as the addon returns them: each CPU's
// copy rounded up to 8 bytes), one per next hop, and the slots to clear.
export function collectNextHops(dump: Array<{ key: Buffer; value: Buffer }>, ncpu: number): { used: NextHopUse[]; slots: number[] } {
  const stride = Math.ceil(NH_USE_SIZE / 8) * 8;
  const seen = new Map<string, NextHopUse>();
  const slots: number[] = [];
  for (const { key, value } of dump) {
    let marked = false;
    for (let c = 0; c < ncpu; c++) {
      const o = c * stride;
      if (o + NH_USE_SIZE > value.length || value[o + 21] !== 1) continue;
      marked = true;
      const fam = value[o + 20];
      if (fam !== AF_INET && fam !== AF_INET6) continue;
      const family = fam === AF_INET ? 4 : 6;
      const addr = Buffer.from(value.subarray(o, o + (family === 4 ? 4 : 16)));
      const ifindex = value.readUInt32LE(o + 16);
      seen.set(`${family}|${ifindex}|${addr.toString('hex')}`, { family, ifindex, addr });
    }
    if (marked) slots.push(key.readUInt32LE(0));
  }
  return { used: [...seen.values()], slots };
}

export function neighUseMessage(n: NextHopUse, seq: number): Buffer {
  const dst = Buffer.alloc(4 + n.addr.length);
  dst.writeUInt16LE(4 + n.addr.length, 0);
  dst.writeUInt16LE(NDA_DST, 2);
  n.addr.copy(dst, 4);
  const nd = Buffer.alloc(12);
  nd.writeUInt8(n.family === 4 ? AF_INET : AF_INET6, 0);
  nd.writeInt32LE(n.ifindex, 4);
  nd.writeUInt16LE(NUD_PERMANENT, 8);
  nd.writeUInt8(NTF_USE, 10);
  const body = Buffer.concat([nd, dst]);
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(16 + body.length, 0);
  hdr.writeUInt16LE(RTM_NEWNEIGH, 4);
  hdr.writeUInt16LE(NLM_F_REQUEST | NLM_F_REPLACE, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  return Buffer.concat([hdr, body]);
}
