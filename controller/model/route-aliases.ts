// IPv4 keeps every route added for one (table, dst, src, tos, metric) with `ip route append`
// or `prepend`: an alias group, in order, of which a lookup takes the first whose next hop
// is alive. The model keys the first `K` (routeKey) and the others `K|alias2`, `K|alias3`…
// in the kernel's order, so a dump (which lists a group in that order) and the events give
// the same keys. A delete names the alias it removed; a replace takes the first one's place
// and an append or a prepend says which end it joined (nlmsg flags). IPv6 merges such
// routes into one multipath route instead: its routes are kept by their key alone.
import type { NextHop, Route } from './types';

// Where a route message's route goes: an insert's flags say which end of its group it
// joined, or that it took the first one's place; a message without NLM_F_CREATE (a dump's
// entries, in order, or a notice about a route already held) is 'listed'.
export type RoutePlace = 'replace' | 'append' | 'prepend' | 'listed';

const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const NLM_F_APPEND = 0x800;
const MARK = '|alias';

// Seen on 6.18: add 0x600, append 0xc00, prepend 0x400, replace and change 0x100; the
// kernel's notices of a route whose nexthop changed are NLM_F_REPLACE too.
export function routePlace(nlFlags: number): RoutePlace {
  if (nlFlags & NLM_F_REPLACE) return 'replace';
  if (!(nlFlags & NLM_F_CREATE)) return 'listed';
  return nlFlags & NLM_F_APPEND ? 'append' : 'prepend';
}

function aliasBase(key: string): string {
  const i = key.indexOf(MARK);
  return i < 0 ? key : key.slice(0, i);
}

// The key of the group member at `pos` (1 = the first).
function aliasKey(base: string, pos: number): string {
  return pos === 1 ? base : `${base}${MARK}${pos}`;
}

// The group under `base`, first first.
function aliasGroup(routes: Map<string, Route>, base: string): Route[] {
  const out: Route[] = [];
  for (let r = routes.get(base); r; r = routes.get(aliasKey(base, out.length + 1))) out.push(r);
  return out;
}

function sameHops(a: readonly NextHop[], b: readonly NextHop[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((h, i) => h.ifindex === b[i].ifindex && h.gateway === b[i].gateway && h.weight === b[i].weight && h.flags === b[i].flags);
}

// Same alias: the fields that tell the members of a group apart.
function sameAlias(a: Route, b: Route): boolean {
  return a.type === b.type && a.protocol === b.protocol && a.scope === b.scope && a.prefsrc === b.prefsrc &&
    a.nhId === b.nhId && (a.mtu ?? 0) === (b.mtu ?? 0) && sameHops(a.nexthops, b.nexthops);
}

// Writes the group back in `next`'s order, dropping the positions it no longer fills.
function writeGroup(routes: Map<string, Route>, base: string, had: number, next: readonly Route[]): void {
  for (let p = next.length + 1; p <= had; p++) routes.delete(aliasKey(base, p));
  next.forEach((r, i) => {
    const k = aliasKey(base, i + 1);
    routes.set(k, r.key === k ? r : { ...r, key: k });
  });
}

// Applies an RTM_NEWROUTE or a dump entry. False when nothing changed: a replace or a
// listing of a route held as it is (the kernel never holds one alias twice, so an insert
// is always new; the model may see two as one when they differ only in what it does not
// keep, such as other metrics).
export function placeRoute(routes: Map<string, Route>, route: Route, place: RoutePlace): boolean {
  if (route.family !== 4) {
    const prev = routes.get(route.key);
    if (prev && sameAlias(prev, route)) return false;
    routes.set(route.key, route);
    return true;
  }
  const base = aliasBase(route.key);
  const group = aliasGroup(routes, base);
  if ((place === 'replace' || place === 'listed') && group.some((r) => sameAlias(r, route))) return false;
  const next = place === 'prepend' ? [route, ...group] : place === 'replace' ? [route, ...group.slice(1)] : [...group, route];
  writeGroup(routes, base, group.length, next);
  return true;
}

// Applies an IPv4 RTM_DELROUTE: removes the alias it describes (the first one when none
// matches, as the kernel's delete without details does).
export function removeRoute(routes: Map<string, Route>, route: Route): void {
  const base = aliasBase(route.key);
  const group = aliasGroup(routes, base);
  if (!group.length) return;
  group.splice(Math.max(0, group.findIndex((r) => sameAlias(r, route))), 1);
  writeGroup(routes, base, group.length + 1, group);
}

// Removes routes by key (the kernel flushing them silently), closing the gaps they leave.
export function removeRouteKeys(routes: Map<string, Route>, keys: Iterable<string>): void {
  const byBase = new Map<string, Set<string>>();
  for (const k of keys) {
    const base = aliasBase(k);
    let s = byBase.get(base);
    if (!s) byBase.set(base, (s = new Set()));
    s.add(k);
  }
  for (const [base, gone] of byBase) {
    const group = aliasGroup(routes, base);
    writeGroup(routes, base, group.length, group.filter((r) => !gone.has(r.key)));
  }
}
