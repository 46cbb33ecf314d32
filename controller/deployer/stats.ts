import type { NativeAddon } from '../native/types';
import type { CounterValue, DeviceStats, FpmStats } from '../daemon/view';
import type { FpmManifest } from '../assembler/manifest';
import { counterTable } from './counters';
import { sumCounter, u32Key } from './layout';

// Reads one device's row of ss_stats. Counters live in a shared map keyed by the device's
// slot, so they accumulate across generation swaps.
export function readDeviceCounters(native: NativeAddon, statsFd: number, devSlot: number): Map<string, CounterValue> {
  const table = counterTable();
  const out = new Map<string, CounterValue>();
  for (const def of table.defs) {
    const v = native.mapLookup(statsFd, u32Key(devSlot * table.stride + def.id));
    out.set(def.name, v ? sumCounter(v) : { packets: 0, bytes: 0 });
  }
  return out;
}

export function zeroDeviceCounters(native: NativeAddon, statsFd: number, devSlot: number): void {
  const table = counterTable();
  const ncpu = native.numPossibleCpus();
  const zero = Buffer.alloc(16 * ncpu);
  for (let id = 0; id < table.stride; id++) native.mapUpdate(statsFd, u32Key(devSlot * table.stride + id), zero);
}

export function deviceStats(
  ifname: string,
  ifindex: number,
  counters: Map<string, CounterValue>,
  fpms: string[],
  manifests: Map<string, FpmManifest>,
): DeviceStats {
  const table = counterTable();
  const s: DeviceStats = {
    ifname, ifindex,
    fastpath_packets: 0, fastpath_bytes: 0, slowpath_packets: 0, slowpath_bytes: 0,
    pass_reasons: {}, fpms: [],
  };
  for (const def of table.defs) {
    const c = counters.get(def.name) ?? { packets: 0, bytes: 0 };
    if (def.fastPath) {
      s.fastpath_packets += c.packets;
      s.fastpath_bytes += c.bytes;
    } else {
      s.slowpath_packets += c.packets;
      s.slowpath_bytes += c.bytes;
      if (c.packets) s.pass_reasons[def.name] = c.packets;
    }
  }
  const claimed = new Set<string>();
  for (const name of ['root', ...fpms]) {
    const own = name === 'root' ? ['heartbeat_stale', 'no_pipeline'] : manifests.get(name)?.counters ?? [];
    const f: FpmStats = { name, counters: {} };
    for (const c of own) {
      claimed.add(c);
      f.counters[c] = counters.get(c) ?? { packets: 0, bytes: 0 };
    }
    s.fpms.push(f);
  }
  return s;
}
