// The source check l3-router makes with rp_filter off, and the address set it uses.
//
// fib_validate_source with rp_filter 0 only asks whether the source is one of the box's
// addresses, unless custom IPv4 rules or user-added local routes exist: then it looks the
// source up and refuses local and broadcast answers, and so does the FPM (a second
// bpf_fib_lookup). ss_local_v4 holds every address and, to err on the kernel's side, the
// kernel's /32 local and broadcast routes of the local table; ss_local_v4_bf spares most
// packets the lookup.
import type { KernelModel } from '../model/types';
import type { NativeAddon } from '../native/types';
import { formatV4, parseV4 } from '../epping/addr';
import { u32le, u64le } from '../util/bytes';

export const SRC_CHECK_LOCAL = 1;
export const SRC_CHECK_FIB = 2;

const RT_TABLE_LOCAL = 255;
const RTPROT_KERNEL = 2;

export interface SourceCheck {
  mode: typeof SRC_CHECK_LOCAL | typeof SRC_CHECK_FIB;
  why: string | null; // what forces the full lookup
  addresses: Set<string>; // dotted quads for ss_local_v4
}

export function sourceCheck(model: Pick<KernelModel, 'addresses' | 'routes' | 'rules'>): SourceCheck {
  const addresses = new Set<string>();
  let why: string | null = null;
  for (const a of model.addresses.values()) if (a.family === 4) addresses.add(a.address);
  for (const r of model.routes.values()) {
    if (r.family !== 4 || (r.type !== 'local' && r.type !== 'broadcast')) continue;
    // Only routes added from user space set fib_has_custom_local_routes; the kernel's own
    // (127.0.0.0/8, an address's prefix on lo) leave the check at the address lookup.
    if (r.protocol !== RTPROT_KERNEL) why ??= `user-added ${r.type} route ${r.dst}/${r.dstLen} (table ${r.table})`;
    else if (r.dstLen === 32 && r.table === RT_TABLE_LOCAL) addresses.add(r.dst);
  }
  for (const rule of model.rules.values()) {
    if (rule.family === 4 && !rule.isDefault) {
      why ??= `ip rule priority ${rule.priority}`;
      break;
    }
  }
  return { mode: why ? SRC_CHECK_FIB : SRC_CHECK_LOCAL, why, addresses };
}

function v4Key(addr: string): Buffer {
  const b = parseV4(addr); // network order, as the FPM reads iph->saddr
  if (!b) throw new Error(`bad IPv4 address ${addr}`);
  return b;
}

// ss_local_v4_bf (bpf/include/ss_maps.h): a 65536-bit filter in 1024 words; the bit of an
// address is ss_local_v4_bit() of the same four bytes the FPM loads from the header.
export const LOCAL_V4_BF_WORDS = 1024;

export function localV4Bit(key: Buffer): number {
  return Math.imul(key.readUInt32LE(0), 0x9e3779b1) >>> 16;
}

// Keeps ss_local_v4 equal to a set of addresses, writing only differences, and its filter a
// superset of it. Additions go in before anything else changes and removals last, so the
// map never misses a local address; an address's filter bit is set before it enters the
// map and cleared after the last address on that bit left it.
export class LocalAddressSync {
  private current = new Set<string>();
  private readonly onBit = new Map<number, number>(); // bit -> addresses on it
  private readonly words = new BigUint64Array(LOCAL_V4_BF_WORDS);

  constructor(
    private readonly native: NativeAddon,
    private readonly fd: number,
    private readonly filterFd: number,
  ) {
    for (const { key } of native.mapDump(fd)) {
      this.current.add(formatV4(key));
      this.countBit(localV4Bit(key), 1);
    }
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    this.words.forEach((w, i) => {
      keys.push(u32le(i));
      values.push(u64le(w));
    });
    native.mapUpdateBatch(filterFd, keys, values);
  }

  add(want: Set<string>): number {
    let n = 0;
    for (const a of want) {
      if (this.current.has(a)) continue;
      const key = v4Key(a);
      const bit = localV4Bit(key);
      if (this.countBit(bit, 1)) this.writeWord(bit);
      this.native.mapUpdate(this.fd, key, Buffer.from([1]));
      this.current.add(a);
      n++;
    }
    return n;
  }

  removeExcept(want: Set<string>): number {
    let n = 0;
    for (const a of this.current) {
      if (want.has(a)) continue;
      const key = v4Key(a);
      this.native.mapDelete(this.fd, key);
      this.current.delete(a);
      const bit = localV4Bit(key);
      if (this.countBit(bit, -1)) this.writeWord(bit);
      n++;
    }
    return n;
  }

  // Counts an address on or off a bit; true when the bit itself changed.
  private countBit(bit: number, delta: 1 | -1): boolean {
    const n = (this.onBit.get(bit) ?? 0) + delta;
    if (n > 0) this.onBit.set(bit, n);
    else this.onBit.delete(bit);
    const mask = 1n << BigInt(bit & 63);
    const w = bit >> 6;
    if (n === 1 && delta === 1) this.words[w] |= mask;
    else if (n === 0) this.words[w] &= ~mask;
    else return false;
    return true;
  }

  private writeWord(bit: number): void {
    const w = bit >> 6;
    this.native.mapUpdate(this.filterFd, u32le(w), u64le(this.words[w]));
  }
}
