// mulberry32: small, seedable, good enough to spread mutations; the frame tests replay a seed.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// The draws the frame tests make: an integer below n, and one element of a list.
export function fuzzer(seed: number): { int: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { int, pick };
}
