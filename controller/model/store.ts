// Applies decoded operations to a KernelModel. Each apply returns a cause string when the
// model really changed (and null for a repeat of what we already know), so bursts that
// change nothing produce no graph work.
import type { Op } from './decode';
import { TC_H_INGRESS } from './decode';
import { placeRoute, removeRoute, removeRouteKeys } from './route-aliases';
import { routeKeysUsing, routeKeysVia } from './routes';
import { TABLES, type KernelModel, type Link, type Route, type TableName } from './types';

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  for (const k of ak) if (!sameValue(ao[k], bo[k])) return false;
  return true;
}

function ifname(m: KernelModel, ifindex: number): string {
  return m.links.get(ifindex)?.name ?? `if${ifindex}`;
}

function routeLabel(r: Route): string {
  const dst = r.dst ? `${r.dst}/${r.dstLen}` : r.family === 4 ? '0.0.0.0/0' : '::/0';
  return r.table === 254 ? dst : `${dst} table ${r.table}`;
}

// Removes what the kernel removes silently with a device: IPv4 routes through it (no
// RTM_DELROUTE is sent for those), qdiscs and filters (destroyed without notification),
// and anything else still keyed by it.
function cascadeLink(m: KernelModel, ifindex: number): void {
  for (const [k, e] of m.fdb) if (e.ifindex === ifindex || e.master === ifindex) m.fdb.delete(k);
  for (const [k, a] of m.addresses) if (a.ifindex === ifindex) m.addresses.delete(k);
  for (const [k, n] of m.neighbours) if (n.ifindex === ifindex) m.neighbours.delete(k);
  for (const [k, q] of m.qdiscs) if (q.ifindex === ifindex) m.qdiscs.delete(k);
  for (const [k, f] of m.filters) if (f.ifindex === ifindex) m.filters.delete(k);
  const gone: string[] = [];
  for (const k of routeKeysVia(m.routes, ifindex)) {
    const r = m.routes.get(k)!;
    const rest = r.nexthops.filter((h) => h.ifindex !== ifindex);
    if (rest.length === 0) gone.push(k);
    else m.routes.set(k, { ...r, nexthops: Object.freeze(rest) });
  }
  removeRouteKeys(m.routes, gone);
  dropNexthopsVia(m, ifindex);
}

// The kernel removes the nexthop objects through a device that goes down, loses its
// carrier or disappears (nexthop_flush_dev), without a notification.
function dropNexthopsVia(m: KernelModel, ifindex: number): boolean {
  const ids = new Set<number>();
  for (const n of m.nexthops.values()) if (n.ifindex === ifindex) ids.add(n.id);
  return ids.size > 0 && removeNexthops(m, ids);
}

// Removes nexthop objects as the kernel does: a group loses them as members (and goes
// when left empty), and the routes using any removed object go too; IPv4 ones without
// an RTM_DELROUTE, IPv6 ones too unless nexthop_compat_mode is on.
function removeNexthops(m: KernelModel, ids: Set<number>): boolean {
  let changed = false;
  for (const id of ids) changed = m.nexthops.delete(String(id)) || changed;
  for (const n of [...m.nexthops.values()]) {
    if (!n.group.some((g) => ids.has(g))) continue;
    const rest = n.group.filter((g) => !ids.has(g));
    if (rest.length) {
      m.nexthops.set(n.key, { ...n, group: Object.freeze(rest) });
    } else {
      m.nexthops.delete(n.key);
      ids.add(n.id);
    }
    changed = true;
  }
  const gone = routeKeysUsing(m.routes, ids);
  removeRouteKeys(m.routes, gone);
  return changed || gone.length > 0;
}

function isIngressParent(parent: number): boolean {
  return (parent & 0xffff0000) === (TC_H_INGRESS & 0xffff0000) && (parent & 0xffff) !== 0xfff3;
}

// Dump loading: entries are new by construction, so no comparison and no cause strings.
export function loadOp(m: KernelModel, op: Op): void {
  if (op.op === 'set' && op.table !== 'qdiscs') (m[op.table] as Map<string, unknown>).set(op.value.key, op.value);
  else if (op.op === 'route') placeRoute(m.routes, op.route, 'listed');
  else if (op.op === 'link' && !m.links.has(op.link.ifindex)) m.links.set(op.link.ifindex, op.link);
  else applyOp(m, op, 'dump');
}

export function applyOp(m: KernelModel, op: Op, msgName: string): string | null {
  switch (op.op) {
    case 'link': {
      const next: Link = op.link;
      const prev = m.links.get(next.ifindex);
      // Keep a port state learnt from AF_BRIDGE if this message carries no slave data.
      if (prev && prev.port && !next.port && next.master !== 0 && next.master === prev.master) next.port = prev.port;
      if (prev && sameValue(prev, next)) return null;
      m.links.set(next.ifindex, next);
      if (prev && ((prev.adminUp && !next.adminUp) || (prev.lowerUp && !next.lowerUp))) dropNexthopsVia(m, next.ifindex);
      return `${msgName} ${next.name}`;
    }
    case 'dellink': {
      if (!m.links.has(op.ifindex)) return null;
      const name = ifname(m, op.ifindex);
      m.links.delete(op.ifindex);
      cascadeLink(m, op.ifindex);
      return `${msgName} ${name}`;
    }
    case 'port': {
      const prev = m.links.get(op.ifindex);
      if (!prev) return null;
      if (op.port === null) {
        if (!prev.port) return null;
        m.links.set(op.ifindex, { ...prev, port: null });
        return `${msgName} ${prev.name} (left bridge)`;
      }
      const next = { ...prev, port: op.port, master: op.master || prev.master };
      if (sameValue(prev, next)) return null;
      m.links.set(op.ifindex, next);
      return `${msgName} ${prev.name} (port ${op.port.state})`;
    }
    case 'set': {
      const table = m[op.table] as Map<string, unknown>;
      const prev = table.get(op.value.key);
      if (prev !== undefined && sameValue(prev, op.value)) return null;
      if (op.table === 'qdiscs') {
        const q = op.value;
        // One root and one ingress qdisc per device: a graft replaces the old one (the old
        // default qdisc's deletion is not always notified), and the old root's children go too.
        for (const [k, o] of m.qdiscs) {
          if (o.ifindex !== q.ifindex || k === q.key) continue;
          if (q.root && !o.ingress && (o.root || (o.parent & 0xffff0000) !== (q.handle & 0xffff0000))) m.qdiscs.delete(k);
          else if (q.ingress && o.ingress) m.qdiscs.delete(k);
        }
      }
      table.set(op.value.key, op.value);
      return `${msgName} ${describe(m, op.table, op.value)}`;
    }
    case 'del': {
      const table = m[op.table] as Map<string, unknown>;
      const prev = table.get(op.key);
      if (prev === undefined) return null;
      table.delete(op.key);
      return `${msgName} ${describe(m, op.table, prev)}`;
    }
    case 'delnexthop': {
      if (!m.nexthops.has(String(op.id))) return null;
      removeNexthops(m, new Set([op.id]));
      return `${msgName} ${op.id}`;
    }
    case 'delroute': {
      const r = op.route;
      const prev = m.routes.get(r.key);
      if (!prev) return null;
      // IPv6 notifies the removal of one nexthop of a multipath route on its own.
      if (r.family === 6 && prev.nexthops.length > 1 && r.nexthops.length === 1) {
        const h = r.nexthops[0];
        const rest = prev.nexthops.filter((x) => !(x.ifindex === h.ifindex && x.gateway === h.gateway));
        if (rest.length > 0 && rest.length < prev.nexthops.length) {
          m.routes.set(r.key, { ...prev, nexthops: Object.freeze(rest) });
          return `${msgName} ${routeLabel(r)}`;
        }
      }
      if (r.family === 4) removeRoute(m.routes, r);
      else m.routes.delete(r.key);
      return `${msgName} ${routeLabel(r)}`;
    }
    case 'route':
      return placeRoute(m.routes, op.route, op.place) ? `${msgName} ${routeLabel(op.route)}` : null;
    case 'delqdisc': {
      const q = op.qdisc;
      let changed = m.qdiscs.delete(q.key);
      for (const [k, o] of m.qdiscs) {
        if (o.ifindex !== q.ifindex) continue;
        if (q.ingress ? o.ingress : !o.ingress && (q.root || (o.parent & 0xffff0000) === (q.handle & 0xffff0000))) {
          m.qdiscs.delete(k);
          changed = true;
        }
      }
      if (q.ingress) {
        for (const [k, f] of m.filters) {
          if (f.ifindex === q.ifindex && isIngressParent(f.parent)) {
            m.filters.delete(k);
            changed = true;
          }
        }
      }
      return changed ? `${msgName} ${q.kind || 'qdisc'} on ${ifname(m, q.ifindex)}` : null;
    }
    case 'delfilter': {
      const f = op.filter;
      let changed = false;
      if (f.handle !== 0) {
        changed = m.filters.delete(f.key);
      } else {
        // Deleting without a handle removes the whole priority (or every filter under the parent).
        for (const [k, o] of m.filters) {
          if (o.ifindex === f.ifindex && o.parent === f.parent && (f.priority === 0 || o.priority === f.priority) &&
            (f.protocol === 0 || o.protocol === f.protocol)) {
            m.filters.delete(k);
            changed = true;
          }
        }
      }
      return changed ? `${msgName} filter on ${ifname(m, f.ifindex)}` : null;
    }
    case 'netconf':
      return null;
  }
}

function describe(m: KernelModel, table: TableName, v: unknown): string {
  const o = v as Record<string, unknown>;
  switch (table) {
    case 'fdb': return `fdb ${String(o.mac)} ${ifname(m, Number(o.ifindex))}${o.vlan ? ` vlan ${String(o.vlan)}` : ''}`;
    case 'addresses': return `${String(o.address)}/${String(o.prefixLen)} ${ifname(m, Number(o.ifindex))}`;
    case 'rules': return `rule ${String(o.priority)}`;
    case 'nexthops': return `nexthop ${String(o.id)}`;
    case 'neighbours': return `${String(o.dst)} ${ifname(m, Number(o.ifindex))}`;
    case 'qdiscs': return `${String(o.kind)} on ${ifname(m, Number(o.ifindex))}`;
    case 'filters': return `${String(o.kind)} filter on ${ifname(m, Number(o.ifindex))}`;
    default: return String(o.key ?? '');
  }
}

export interface TableDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

// Entry-by-entry comparison of two models' rtnetlink tables (sysctls and netfilter are
// compared as wholes). Used after a resync, and by tests to prove nothing drifted.
export function diffModels(a: KernelModel, b: KernelModel): Record<TableName | 'sysctls' | 'netfilter', TableDiff> {
  const out = {} as Record<TableName | 'sysctls' | 'netfilter', TableDiff>;
  for (const t of TABLES) {
    const d: TableDiff = { added: [], removed: [], changed: [] };
    const ta = a[t] as Map<string | number, unknown>;
    const tb = b[t] as Map<string | number, unknown>;
    for (const [k, v] of tb) {
      const o = ta.get(k);
      if (o === undefined) d.added.push(String(k));
      else if (!sameValue(o, v)) d.changed.push(String(k));
    }
    for (const k of ta.keys()) if (!tb.has(k)) d.removed.push(String(k));
    out[t] = d;
  }
  const sa = { ...a.sysctls, devices: [...a.sysctls.devices].sort() };
  const sb = { ...b.sysctls, devices: [...b.sysctls.devices].sort() };
  out.sysctls = { added: [], removed: [], changed: sameValue(sa, sb) ? [] : ['sysctls'] };
  out.netfilter = { added: [], removed: [], changed: sameValue(a.netfilter, b.netfilter) ? [] : ['netfilter'] };
  return out;
}

export function countDiff(d: Record<string, TableDiff>): number {
  let n = 0;
  for (const v of Object.values(d)) n += v.added.length + v.removed.length + v.changed.length;
  return n;
}
