// The most recent samples, bounded, with the filters GET /v1/rtt offers.
import { cidrContains, parseAddr, parseCidr, type Cidr } from './addr';
import type { EppingProto } from './layout';
import type { RttSample } from './sample';

export interface SampleFilter {
  src?: string; // address or CIDR
  dst?: string; // address or CIDR
  host?: string; // address or CIDR matching either end
  proto?: EppingProto;
  device?: string; // the device the reply came in on
  side?: string;
  limit?: number; // newest N, returned oldest first
}

interface CompiledFilter {
  src: Cidr | null;
  dst: Cidr | null;
  host: Cidr | null;
  proto?: EppingProto;
  device?: string;
  side?: string;
}

export class FilterError extends Error {
  readonly code = 'EINVAL';
  readonly statusCode = 400;
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

function cidrOrThrow(what: string, s: string | undefined): Cidr | null {
  if (s === undefined || s === '') return null;
  try {
    return parseCidr(s);
  } catch (e) {
    throw new FilterError(`${what}: ${(e as Error).message}`);
  }
}

export function compileFilter(f: SampleFilter): CompiledFilter {
  return {
    src: cidrOrThrow('src', f.src),
    dst: cidrOrThrow('dst', f.dst),
    host: cidrOrThrow('host', f.host),
    proto: f.proto,
    device: f.device,
    side: f.side,
  };
}

function addrIn(c: Cidr, text: string): boolean {
  return cidrContains(c, parseAddr(text).bytes);
}

export function matches(s: RttSample, f: CompiledFilter): boolean {
  if (f.proto && s.proto !== f.proto) return false;
  if (f.device && s.device !== f.device) return false;
  if (f.side && s.side !== f.side) return false;
  if (f.src && !addrIn(f.src, s.src)) return false;
  if (f.dst && !addrIn(f.dst, s.dst)) return false;
  if (f.host && !addrIn(f.host, s.src) && !addrIn(f.host, s.dst)) return false;
  return true;
}

// A ring of the last `capacity` samples.
export class SampleStore {
  private buf: RttSample[] = [];
  private next = 0;

  constructor(readonly capacity = 10000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sample store capacity ${capacity}`);
  }

  add(s: RttSample): void {
    if (this.buf.length < this.capacity) this.buf.push(s);
    else this.buf[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.buf.length;
  }

  // Oldest first.
  all(): RttSample[] {
    if (this.buf.length < this.capacity) return [...this.buf];
    return [...this.buf.slice(this.next), ...this.buf.slice(0, this.next)];
  }

  query(filter: SampleFilter = {}): RttSample[] {
    const f = compileFilter(filter);
    const limit = filter.limit ?? 100;
    const out: RttSample[] = [];
    const all = this.all();
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      if (matches(all[i], f)) out.push(all[i]);
    }
    return out.reverse();
  }

  clear(): void {
    this.buf = [];
    this.next = 0;
  }
}
