// Periodic cleanup of the BPF flow table: timestamps whose reply never came (lost packets,
// flows that ended) and flows idle longer than flow_timeout_s. BPF only deletes on a match,
// a FIN pair or a RST; everything else ages out here.
import { slotTuple, type FlowOps } from './flow-table';
import {
  canonical, decodeFlow, decodeTsKey, decodeTsVal, outstandingOffset, decodeTuple, type FlowState, type Tuple,
} from './layout';

export interface CleanupPolicy {
  flowTimeoutNs: bigint;
  // A timestamp is stale after min(maxTsAgeNs, max(minTsAgeNs, rttFactor × the flow's min RTT)).
  maxTsAgeNs: bigint;
  minTsAgeNs: bigint;
  rttFactor: bigint;
}

export function defaultPolicy(flowTimeoutS: number): CleanupPolicy {
  return {
    flowTimeoutNs: BigInt(flowTimeoutS) * 1_000_000_000n,
    maxTsAgeNs: 10_000_000_000n,
    minTsAgeNs: 1_000_000_000n,
    rttFactor: 8n,
  };
}

export function tsLifetimeNs(p: CleanupPolicy, minRttNs: bigint): bigint {
  if (minRttNs === 0n) return p.maxTsAgeNs;
  const byRtt = minRttNs * p.rttFactor;
  const l = byRtt > p.minTsAgeNs ? byRtt : p.minTsAgeNs;
  return l < p.maxTsAgeNs ? l : p.maxTsAgeNs;
}

export function lastActivityNs(f: FlowState): bigint {
  let t = f.openedNs;
  for (const d of f.dir) if (d.lastSeenNs > t) t = d.lastSeenNs;
  return t;
}

// What the cleanup needs of ss_ep_ts (a fixture in unit tests).
export interface MapOps {
  dump(): Array<{ key: Buffer; value: Buffer }>;
  delete(key: Buffer): boolean; // false when BPF matched (deleted) it first
}

export interface CleanupResult {
  flowsRemoved: number;
  timestampsRemoved: number;
  outstandingFixed: number;
  closed: Array<{ flow: Tuple; ifindex: number; lastNs: bigint }>; // idle flows: 'close' events with reason timeout
}

export function cleanup(flows: FlowOps, ts: MapOps, nowNs: bigint, p: CleanupPolicy): CleanupResult {
  const res: CleanupResult = { flowsRemoved: 0, timestampsRemoved: 0, outstandingFixed: 0, closed: [] };
  // Live flows by canonical tuple (hex), with the slot they sit in.
  const flowState = new Map<string, { key: Buffer; f: FlowState }>();
  for (const { key, value } of flows.dump()) {
    const f = decodeFlow(value);
    const last = lastActivityNs(f);
    if (nowNs > last && nowNs - last > p.flowTimeoutNs) {
      if (flows.free(key, f.tuple)) {
        res.flowsRemoved++;
        let tuple: Tuple | null = null;
        try {
          tuple = decodeTuple(f.tuple);
        } catch {
          tuple = null;
        }
        const ifindex = f.dir[0].lastSeenNs >= f.dir[1].lastSeenNs ? f.dir[0].ifindex : f.dir[1].ifindex;
        if (tuple) res.closed.push({ flow: tuple, ifindex, lastNs: last });
      }
      continue;
    }
    // A tuple in two slots: an entry made before the seed was written; the live one is the newer.
    const id = f.tuple.toString('hex');
    const seen = flowState.get(id);
    if (!seen || lastActivityNs(seen.f) < last) flowState.set(id, { key, f });
  }

  // Stale timestamps, counted per flow direction so `outstanding` can be brought back down.
  const removedPerDir = new Map<string, number>();
  for (const { key, value } of ts.dump()) {
    const k = decodeTsKey(key);
    const v = decodeTsVal(value);
    const c = canonical(k.flow);
    const flow = flowState.get(c.key.toString('hex'));
    const age = nowNs > v.tsNs ? nowNs - v.tsNs : 0n;
    const stale = !flow || age > tsLifetimeNs(p, flow.f.dir[c.dir].minRttNs);
    if (!stale) continue;
    if (!ts.delete(key)) continue; // matched by BPF meanwhile
    res.timestampsRemoved++;
    if (flow) {
      const id = `${c.key.toString('hex')}/${c.dir}`;
      removedPerDir.set(id, (removedPerDir.get(id) ?? 0) + 1);
    }
  }

  // Read-modify-write of one field: BPF may update the same entry concurrently, so take
  // the freshest copy, check the slot still holds the flow, and only ever lower the
  // counter by what was removed.
  for (const [id, n] of removedPerDir) {
    const [tuple, d] = id.split('/');
    const dir = d === '1' ? 1 : 0;
    const flow = flowState.get(tuple);
    if (!flow) continue;
    const cur = flows.lookup(flow.key);
    if (!cur || !slotTuple(cur).equals(flow.f.tuple)) continue; // the flow closed meanwhile
    const off = outstandingOffset(dir);
    const have = cur.readUInt32LE(off);
    const want = have > n ? have - n : 0;
    if (want === have) continue;
    cur.writeUInt32LE(want, off);
    flows.update(flow.key, cur);
    res.outstandingFixed++;
  }
  return res;
}
