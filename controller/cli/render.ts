import type { StatusView, PipelineView, DeviceStats } from '../daemon/view';
import type { Graph } from '../graph/types';
import { table, keyValues, count, bytes, duration } from './table';

const dash = (s: string | null | undefined): string => (s === null || s === undefined || s === '' ? '-' : s);
const list = (a: string[]): string => (a.length ? a.join(', ') : '-');

export function renderStatus(s: StatusView): string {
  const caps = s.capabilities;
  let out = keyValues([
    ['version', s.version],
    ['netns', dash(s.netns)],
    ['uptime', duration(s.uptime_s)],
    ['generation', String(s.generation)],
    ['managed devices', list(s.managed_devices)],
    ['kernel', `${caps.kernel} (BTF ${caps.btf ? 'yes' : 'no'}, bpffs ${caps.bpffs ? 'yes' : 'no'})`],
    ['missing capabilities', list(caps.missing)],
    ['last error', s.last_error ? `${s.last_error.time} ${s.last_error.message}` : '-'],
  ]);
  if (s.last_error?.detail) out += s.last_error.detail.replace(/^/gm, '    ') + '\n';
  const devs = Object.entries(caps.devices).sort(([a], [b]) => a.localeCompare(b));
  if (devs.length > 0) {
    out += '\n' + table(['DEVICE', 'DRIVER', 'NATIVE XDP'], devs.map(([n, d]) => [n, dash(d.driver), d.xdp_native ? 'yes' : 'no']));
  }
  return out;
}

export function renderPipelines(ps: PipelineView[]): string {
  if (ps.length === 0) return 'no pipelines\n';
  const knobs = (p: PipelineView): string =>
    Object.entries(p.knobs)
      .flatMap(([fpm, kv]) => Object.entries(kv).map(([k, v]) => `${fpm}.${k}=${String(v)}`))
      .join(' ') || '-';
  return table(
    ['DEVICE', 'IFINDEX', 'MODE', 'GEN', 'MODULES', 'KNOBS'],
    ps.map((p) => [p.ifname, String(p.ifindex), p.mode, p.generation ? String(p.generation) : '-', p.programs.length ? p.programs.join(' > ') : p.fpms.join(' > ') || '-', knobs(p)]),
    [false, true, false, true, false, false],
  );
}

export function renderStats(ds: DeviceStats[]): string {
  if (ds.length === 0) return 'no devices\n';
  let out = table(
    ['DEVICE', 'FAST PKTS', 'FAST BYTES', 'SLOW PKTS', 'SLOW BYTES', 'FAST %'],
    ds.map((d) => {
      const total = d.fastpath_packets + d.slowpath_packets;
      return [
        d.ifname,
        count(d.fastpath_packets),
        bytes(d.fastpath_bytes),
        count(d.slowpath_packets),
        bytes(d.slowpath_bytes),
        total > 0 ? ((100 * d.fastpath_packets) / total).toFixed(1) : '-',
      ];
    }),
    [false, true, true, true, true, true],
  );
  const reasons = ds.flatMap((d) =>
    Object.entries(d.pass_reasons)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => [d.ifname, r, count(n)]),
  );
  if (reasons.length > 0) out += '\nslow-path reasons\n' + table(['DEVICE', 'REASON', 'PACKETS'], reasons, [false, false, true]);
  return out;
}

export function renderGraph(g: Graph): string {
  let out = `graph version ${g.version}\n\n`;
  out += table(['SERVICE', 'VERDICT', 'DEVICES', 'NOTES'], g.services.map((s) => [s.id, s.verdict, list(s.devices), s.reasons.join('; ') || '-']));
  out += '\n' + table(['NODE', 'KIND', 'NAME'], g.nodes.map((n) => [n.id, n.kind, n.name]));
  if (g.edges.length > 0) out += '\n' + table(['FROM', 'EDGE', 'TO'], g.edges.map((e) => [e.from, e.kind, e.to]));
  return out;
}
