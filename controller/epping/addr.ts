// 16-byte addresses as the epping maps store them: IPv6 as is, IPv4 v4-mapped (::ffff:a.b.c.d).

export function isV4Mapped(b: Buffer, off = 0): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

export function formatV4(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

// RFC 5952 text: lower case, longest run (>= 2) of zero groups shortened to '::'.
export function formatV6(b: Buffer, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

// The text form of a 16-byte map address; `ipv` says how to read it.
export function formatAddr(b: Buffer, off: number, ipv: number): string {
  return ipv === 4 ? formatV4(b, off + 12) : formatV6(b, off);
}

export function parseV4(s: string): Buffer | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

export function parseV6(s: string): Buffer | null {
  let text = s;
  let tail4: Buffer | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.') && lastColon >= 0) {
    tail4 = parseV4(text.slice(lastColon + 1));
    if (!tail4) return null;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const group = (p: string): number[] | null => {
    if (p === '') return [];
    const out: number[] = [];
    for (const x of p.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) return null;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  const head = group(halves[0]);
  const tail = halves.length === 2 ? group(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const g = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const out = Buffer.alloc(16);
  g.forEach((x, i) => out.writeUInt16BE(x, i * 2));
  if (tail4) tail4.copy(out, 12);
  return out;
}

export interface ParsedAddr {
  bytes: Buffer; // 16 bytes, v4-mapped for IPv4
  ipv: 4 | 6;
}

// Throws on anything that is not a plain IPv4 or IPv6 address.
export function parseAddr(s: string): ParsedAddr {
  const v4 = s.includes(':') ? null : parseV4(s);
  if (v4) {
    const bytes = Buffer.alloc(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    v4.copy(bytes, 12);
    return { bytes, ipv: 4 };
  }
  const v6 = s.includes(':') ? parseV6(s) : null;
  if (!v6) throw new Error(`not an IP address: '${s}'`);
  return { bytes: v6, ipv: 6 };
}

export interface Cidr {
  bytes: Buffer; // masked, 16 bytes
  bits: number; // over the 128-bit form (IPv4 /24 is 120)
  ipv: 4 | 6;
}

// "198.18.0.0/15", "2001:2::/48" or a bare address (a host route).
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  const a = parseAddr(slash < 0 ? s : s.slice(0, slash));
  const max = a.ipv === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const t = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(t) || Number(t) > max) throw new Error(`bad prefix length in '${s}'`);
    len = Number(t);
  }
  const bits = a.ipv === 4 ? 96 + len : len;
  return { bytes: maskBytes(a.bytes, bits), bits, ipv: a.ipv };
}

export function maskBytes(b: Buffer, bits: number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] &= keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

export function cidrContains(c: Cidr, addr: Buffer): boolean {
  return maskBytes(addr, c.bits).equals(c.bytes);
}
