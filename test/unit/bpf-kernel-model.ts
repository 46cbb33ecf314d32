// A small model of what the kernel does with a frame in the DataPathLab namespace: bridge it
// (br0, p1/p2), route it (br0, r1), or anything else. It answers "forward, and this is the
// frame that leaves" only when it is sure; every doubt is null (the kernel's business). The
// fuzzer checks that the fast path never redirects a frame the model would not forward, and
// that what it sends equals what the model expects.
import { MAC } from './bpf-datapath-lab';
import { ip4, ip6, mac, sum16 } from './bpf-frames';

export interface ModelIfx {
  br0: number;
  p1: number;
  p2: number;
  r1: number;
}

export type Forward = { kind: 'l2' | 'l3'; out: Buffer };

const hex = (b: Buffer) => b.toString('hex');
const M = Object.fromEntries(Object.entries(MAC).map(([k, v]) => [k, hex(mac(v))])) as Record<keyof typeof MAC, string>;

function v4(s: string): number {
  return ip4(s).readUInt32BE(0);
}

function inNet4(a: number, net: string, len: number): boolean {
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((a & mask) >>> 0) === ((v4(net) & mask) >>> 0);
}

interface Route4 {
  dev: 'br0' | 'r1';
  nh: number;
  mtu: number;
}

export class KernelModel {
  // The bridge's FDB: MAC (hex) -> port name.
  private readonly fdb = new Map<string, 'p1' | 'p2'>([
    [M.h1, 'p1'],
    [M.h3, 'p1'],
    [M.h2, 'p2'],
  ]);
  private readonly neigh4 = new Map<string, string>([
    ['br0/' + v4('198.18.0.2'), M.h2],
    ['br0/' + v4('198.18.0.3'), M.h1],
    ['r1/' + v4('198.18.1.2'), M.n1],
  ]);
  private readonly neigh6 = new Map<string, string>([
    ['br0/' + hex(ip6('2001:2::2')), M.h2],
    ['br0/' + hex(ip6('2001:2::3')), M.h1],
    ['r1/' + hex(ip6('2001:2:0:1::2')), M.n1],
  ]);

  constructor(private readonly ifx: ModelIfx) {}

  private portName(ifindex: number): 'p1' | 'p2' | null {
    return ifindex === this.ifx.p1 ? 'p1' : ifindex === this.ifx.p2 ? 'p2' : null;
  }

  forward(ingress: number, f: Buffer): Forward | null {
    if (f.length < 14) return null;
    const dst = hex(f.subarray(0, 6));
    const src = hex(f.subarray(6, 12));
    const port = this.portName(ingress);
    if (port) {
      if (f[0] & 1) return null; // flooded by the kernel
      if (this.fdb.get(src) !== port) return null; // learning first (or a moved/invalid source)
      if (dst === M.br0) return this.route(f, 'br0');
      const out = this.fdb.get(dst);
      if (!out || out === port) return null;
      if (f.length - 14 > 1500) return null;
      return { kind: 'l2', out: Buffer.from(f) };
    }
    if (ingress === this.ifx.r1) return dst === M.r1 ? this.route(f, 'r1') : null;
    return null;
  }

  private route(f: Buffer, inDev: 'br0' | 'r1'): Forward | null {
    const proto = f.readUInt16BE(12);
    if (proto === 0x0800) return this.route4(f, inDev);
    if (proto === 0x86dd) return this.route6(f, inDev);
    return null;
  }

  private martian4(a: number): boolean {
    const top = a >>> 24;
    return top === 0 || top === 127 || top >= 224;
  }

  // Local, broadcast and network addresses of connected subnets: never forwarded here.
  private special4(a: number): boolean {
    for (const net of ['198.18.0.0', '198.18.1.0']) {
      if (inNet4(a, net, 24)) {
        const host = a & 0xff;
        if (host === 0 || host === 1 || host === 255) return true;
      }
    }
    return false;
  }

  private lookup4(a: number): Route4 | null {
    if (this.special4(a)) return null;
    if (inNet4(a, '198.18.0.0', 24)) return { dev: 'br0', nh: a, mtu: 1500 };
    if (inNet4(a, '198.18.1.0', 24)) return { dev: 'r1', nh: a, mtu: 1500 };
    if (inNet4(a, '198.18.2.0', 24)) return { dev: 'r1', nh: v4('198.18.1.2'), mtu: 1500 };
    if (inNet4(a, '198.18.3.0', 24)) return { dev: 'r1', nh: v4('198.18.1.3'), mtu: 1500 };
    if (inNet4(a, '198.18.4.0', 24)) return { dev: 'r1', nh: v4('198.18.1.2'), mtu: 600 };
    return null; // blackhole, unreachable, prohibit or no route
  }

  private route4(f: Buffer, inDev: 'br0' | 'r1'): Forward | null {
    const l3 = 14;
    if (f.length < l3 + 20) return null;
    if (f[l3] !== 0x45) return null; // version 4 without options (options: not sure)
    const tot = f.readUInt16BE(l3 + 2);
    if (tot < 20 || tot > f.length - l3) return null;
    if (sum16(f.subarray(l3, l3 + 20)) !== 0xffff) return null;
    if (f.readUInt16BE(l3 + 6) & 0x3fff) return null; // MF or offset
    if (f[l3 + 8] <= 1) return null;
    const s = f.readUInt32BE(l3 + 12);
    const d = f.readUInt32BE(l3 + 16);
    if (this.martian4(s) || this.martian4(d)) return null;
    if (f[l3 + 9] === 1 && tot > 20 && [3, 4, 5, 11, 12].includes(f[l3 + 20])) return null; // ICMP error: multipath hashes the quoted flow
    const r = this.lookup4(d);
    if (!r || r.dev === inDev || tot > r.mtu) return null;
    const nhMac = this.neigh4.get(`${r.dev}/${r.nh}`);
    if (!nhMac) return null;
    // Reverse path: br0 strict, r1 loose (as the lab's ss_devs and sysctls say).
    const back = this.lookup4(s);
    if (!back) return null;
    if (inDev === 'br0' && back.dev !== 'br0') return null;
    let smac = M.r1;
    if (r.dev === 'br0') {
      if (!this.fdb.get(nhMac)) return null;
      smac = M.br0;
    }
    const out = Buffer.from(f.subarray(0, l3 + tot));
    Buffer.from(nhMac, 'hex').copy(out, 0);
    Buffer.from(smac, 'hex').copy(out, 6);
    // ip_decrease_ttl, on the checksum as stored in memory (little-endian host)
    let check = out.readUInt16LE(l3 + 10) + 0x0001;
    check = (check + (check >= 0xffff ? 1 : 0)) & 0xffff;
    out.writeUInt16LE(check, l3 + 10);
    out[l3 + 8] -= 1;
    return { kind: 'l3', out };
  }

  private martian6(a: Buffer): boolean {
    if (a[0] === 0xff) return true;
    if (a[0] === 0xfe && (a[1] & 0xc0) === 0x80) return true;
    const zero12 = a.subarray(0, 15).every((x) => x === 0);
    return zero12 && (a[15] === 0 || a[15] === 1);
  }

  private lookup6(a: Buffer): { dev: 'br0' | 'r1'; nh: string } | null {
    const h = hex(a);
    const prefix = hex(a.subarray(0, 8));
    const iid = hex(a.subarray(8));
    const local = new Set([hex(ip6('2001:2::1')), hex(ip6('2001:2:0:1::1'))]);
    if (local.has(h)) return null;
    // Connected prefixes; their subnet-router anycast address is the router's own.
    if (prefix === hex(ip6('2001:2::').subarray(0, 8))) return iid === '0000000000000000' ? null : { dev: 'br0', nh: h };
    if (prefix === hex(ip6('2001:2:0:1::').subarray(0, 8))) return iid === '0000000000000000' ? null : { dev: 'r1', nh: h };
    if (prefix === hex(ip6('2001:2:0:2::').subarray(0, 8))) return { dev: 'r1', nh: hex(ip6('2001:2:0:1::2')) };
    return null;
  }

  private route6(f: Buffer, inDev: 'br0' | 'r1'): Forward | null {
    const l3 = 14;
    if (f.length < l3 + 40) return null;
    if (f[l3] >> 4 !== 6) return null;
    const len = 40 + f.readUInt16BE(l3 + 4);
    if (len > f.length - l3) return null;
    if ([0, 43, 44, 60].includes(f[l3 + 6])) return null; // extension headers: not sure
    if (f[l3 + 7] <= 1) return null;
    const s = f.subarray(l3 + 8, l3 + 24);
    const d = f.subarray(l3 + 24, l3 + 40);
    if (this.martian6(s) || this.martian6(d)) return null;
    if (f[l3 + 6] === 58 && len > 40 && f[l3 + 40] < 128) return null; // ICMPv6 error: multipath hashes the quoted flow
    if (f[l3 + 6] === 58 && len > 40 && f[l3 + 40] >= 133 && f[l3 + 40] <= 137) return null; // NDP: a proxy answers it
    const r = this.lookup6(d);
    if (!r || r.dev === inDev) return null;
    const nhMac = this.neigh6.get(`${r.dev}/${r.nh}`);
    if (!nhMac) return null;
    let smac = M.r1;
    if (r.dev === 'br0') {
      if (!this.fdb.get(nhMac)) return null;
      smac = M.br0;
    }
    const out = Buffer.from(f.subarray(0, l3 + len));
    Buffer.from(nhMac, 'hex').copy(out, 0);
    Buffer.from(smac, 'hex').copy(out, 6);
    out[l3 + 7] -= 1;
    return { kind: 'l3', out };
  }
}
