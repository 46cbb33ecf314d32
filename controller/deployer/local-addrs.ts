// The source check l3-router makes with rp_filter off, and the address set it uses.
//
// fib_validate_source with rp_filter 0 only asks whether the source is one of the box's
// addresses, unless custom IPv4 rules or user-added local routes exist: then it looks the
// source up and refuses local and broadcast answers, and so does the FPM (a second
// bpf_fib_lookup). ss_local_v4 holds every address and, to err on the kernel's side, the
// kernel's /32 local and broadcast routes of the local table.
import type { KernelModel } from '../model/types';
import type { NativeAddon } from '../native/types';
import { formatV4, parseV4 } from '../epping/addr';

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

// Keeps ss_local_v4 equal to a set of addresses, writing only differences. Additions go in
// before anything else changes and removals last, so the map never misses a local address.
export class LocalAddressSync {
  private current = new Set<string>();

  constructor(
    private readonly native: NativeAddon,
    private readonly fd: number,
  ) {
    for (const { key } of native.mapDump(fd)) this.current.add(formatV4(key));
  }

  add(want: Set<string>): number {
    let n = 0;
    for (const a of want) {
      if (this.current.has(a)) continue;
      this.native.mapUpdate(this.fd, v4Key(a), Buffer.from([1]));
      this.current.add(a);
      n++;
    }
    return n;
  }

  removeExcept(want: Set<string>): number {
    let n = 0;
    for (const a of this.current) {
      if (want.has(a)) continue;
      this.native.mapDelete(this.fd, v4Key(a));
      this.current.delete(a);
      n++;
    }
    return n;
  }
}
