// Address formatting for model keys and reasons. Hot on large dumps, so no regexes.

// Strings kept in the model for long (keys, addresses) are flattened: V8 represents
// `a + b` and template literals as a rope (ConsString) that holds on to every piece, which
// cost several times the text itself for 100k routes. Reading a character of a rope
// flattens it in place, and the next GC drops the emptied rope for its flat content.
// (The sink keeps the optimizer from eliding the read.)
let sink = 0;
export function flatStr(s: string): string {
  sink ^= s.charCodeAt(0);
  return s;
}

export function flatSink(): number {
  return sink; // for tests: the flattening reads are real
}

const HEX = '0123456789abcdef';
const HEX2: string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4] + HEX[i & 15]);

export function macAt(b: Buffer, off: number): string {
  return flatStr(`${HEX2[b[off]]}:${HEX2[b[off + 1]]}:${HEX2[b[off + 2]]}:${HEX2[b[off + 3]]}:${HEX2[b[off + 4]]}:${HEX2[b[off + 5]]}`);
}

export function macString(b: Buffer | undefined): string {
  if (!b || b.length !== 6) return '';
  return macAt(b, 0);
}

export function ip4At(b: Buffer, off: number): string {
  return flatStr(`${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`);
}

// An IPv4 address held as a number (network order value, a.b.c.d = a << 24 | ...).
export function ip4FromNumber(v: number): string {
  return flatStr(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
}

export function ip6At(b: Buffer, off: number): string {
  const w = (i: number): number => (b[off + 2 * i] << 8) | b[off + 2 * i + 1];
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w(j) === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses keep the dotted tail as ip(8) prints them.
  if (best === 0 && bestLen === 5 && w(5) === 0xffff) return flatStr(`::ffff:${ip4At(b, off + 12)}`);
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += w(i).toString(16) + (i < 7 ? ':' : '');
  }
  return flatStr(s);
}

export function ipString(b: Buffer | undefined): string {
  if (!b) return '';
  if (b.length === 4) return ip4At(b, 0);
  if (b.length === 16) return ip6At(b, 0);
  return '';
}

// Shell-style glob (* and ?) for interface names in the configuration.
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
