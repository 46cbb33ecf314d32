// Shared steps for the transparency tests: deliver UDP and count, read fast/slow counters.
import type { Lab } from '../lab';
import { udpSend, udpSink } from '../lab';
import type { DaemonHandle } from './daemon';
import type { DeviceStats } from '../../controller/daemon/view';
import type { Graph } from '../../controller/graph/types';

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Sends `count` datagrams and returns how many the sink in dstNs received.
export async function deliver(lab: Lab, srcNs: string, dstNs: string, dst: string, port: number, count = 200, pps = 2000): Promise<number> {
  const sink = udpSink(lab, dstNs, port, dst.includes(':') ? '::' : '0.0.0.0');
  await sink.ready;
  await udpSend(srcNs, dst, port, { count, size: 64, pps });
  await sleep(150);
  return (await sink.stop()).packets;
}

export async function stats(d: DaemonHandle): Promise<Map<string, DeviceStats>> {
  const s = await d.get<{ devices: DeviceStats[] }>('/v1/stats');
  return new Map(s.devices.map((x) => [x.ifname, x]));
}

export interface Delta {
  fast: number;
  slow: number;
  reasons: Record<string, number>;
}

// Fast/slow packets on the given devices while fn runs.
export async function measure(d: DaemonHandle, devices: string[], fn: () => Promise<unknown>): Promise<Delta> {
  const a = await stats(d);
  await fn();
  await sleep(100);
  const b = await stats(d);
  const out: Delta = { fast: 0, slow: 0, reasons: {} };
  for (const dev of devices) {
    const x = a.get(dev);
    const y = b.get(dev);
    if (!y) continue;
    out.fast += y.fastpath_packets - (x?.fastpath_packets ?? 0);
    out.slow += y.slowpath_packets - (x?.slowpath_packets ?? 0);
    for (const [r, n] of Object.entries(y.pass_reasons)) {
      const dn = n - (x?.pass_reasons[r] ?? 0);
      if (dn) out.reasons[r] = (out.reasons[r] ?? 0) + dn;
    }
  }
  return out;
}

export async function graph(d: DaemonHandle): Promise<Graph> {
  return d.get<Graph>('/v1/graph');
}

export async function waitGraph(d: DaemonHandle, what: string, pred: (g: Graph) => boolean, timeoutMs = 10000): Promise<Graph> {
  return waitFor(what, async () => {
    const g = await graph(d);
    return pred(g) ? g : undefined;
  }, timeoutMs);
}

export function service(g: Graph, id: string): Graph['services'][number] | undefined {
  return g.services.find((s) => s.id === id);
}

export function nodeAttr(g: Graph, id: string, key: string): unknown {
  return g.nodes.find((n) => n.id === id)?.attrs[key];
}
