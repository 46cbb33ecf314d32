// Differences between two graph versions, by node and service id.
import { sameValue } from '../model/store';
import type { Graph, GraphDiff } from './types';

function index(g: Graph | null): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (!g) return m;
  for (const n of g.nodes) m.set(n.id, n);
  for (const s of g.services) m.set(s.id, s);
  return m;
}

// Edge changes are reported as a change of the edge's source node or service.
export function diffGraphs(prev: Graph | null, next: Graph, causes: string[]): GraphDiff {
  const a = index(prev);
  const b = index(next);
  const added: string[] = [];
  const removed: string[] = [];
  const changed = new Set<string>();
  for (const [id, v] of b) {
    const o = a.get(id);
    if (o === undefined) added.push(id);
    else if (!sameValue(o, v)) changed.add(id);
  }
  for (const id of a.keys()) if (!b.has(id)) removed.push(id);
  const edgeKey = (e: { from: string; to: string; kind: string }): string => `${e.from}\0${e.to}\0${e.kind}`;
  const ea = new Set((prev?.edges ?? []).map(edgeKey));
  const eb = new Set(next.edges.map(edgeKey));
  for (const k of eb) if (!ea.has(k)) { const from = k.split('\0')[0]; if (a.has(from) && b.has(from)) changed.add(from); }
  for (const k of ea) if (!eb.has(k)) { const from = k.split('\0')[0]; if (a.has(from) && b.has(from)) changed.add(from); }
  return { version: next.version, added: added.sort(), removed: removed.sort(), changed: [...changed].sort(), causes };
}

export function isEmptyDiff(d: GraphDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0;
}
