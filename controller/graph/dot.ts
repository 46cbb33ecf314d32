// Graphviz rendering of the graph, for `slipstream graph --dot` and GET /v1/graph?format=dot.
import type { Graph } from './types';

function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const SHAPES: Record<string, string> = {
  device: 'box', bridge: 'box3d', port: 'component', fdb: 'cylinder', addresses: 'note', routes: 'cylinder',
  neighbours: 'cylinder', qdisc: 'trapezium', netfilter: 'octagon', xfrm: 'octagon', sysctl: 'note', capabilities: 'note',
};

export function graphToDot(g: Graph): string {
  const out: string[] = [`digraph slipstream {`, `  label=${q(`slipstream graph v${g.version}`)};`, '  rankdir=LR;', '  node [fontsize=10];'];
  for (const n of g.nodes) {
    out.push(`  ${q(n.id)} [label=${q(n.id)}, shape=${SHAPES[n.kind] ?? 'ellipse'}];`);
  }
  for (const s of g.services) {
    const color = s.verdict === 'accelerated' ? 'darkgreen' : 'firebrick';
    const esc = (x: string): string => x.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const label = [s.id, s.verdict, ...s.reasons.slice(0, 6)].map(esc).join('\\n');
    out.push(`  ${q(s.id)} [label="${label}", shape=doubleoctagon, color=${color}, fontcolor=${color}];`);
    for (const d of s.devices) out.push(`  ${q(s.id)} -> ${q(`device:${d}`)} [style=bold, color=${color}, label="ingress"];`);
  }
  for (const e of g.edges) {
    const style = e.kind === 'member-of' ? 'solid' : e.kind === 'egress-via' ? 'dashed' : 'dotted';
    out.push(`  ${q(e.from)} -> ${q(e.to)} [style=${style}, label=${q(e.kind)}];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
