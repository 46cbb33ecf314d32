// Next hops of routes that name a nexthop object (`ip route add … nhid N`). With
// net.ipv4.nexthop_compat_mode=0 such a route lists no next hops of its own, and a change to
// the object announces no route change: both are read from the objects instead.
import type { NextHop, NexthopObject } from '../model/types';

// null: the object is unknown (an event not yet seen); callers assume the worst.
export type NexthopResolver = (id: number) => readonly NextHop[] | null;

export function nexthopResolver(objects: Map<string, NexthopObject>): NexthopResolver {
  const cache = new Map<number, readonly NextHop[] | null>();
  const single = (n: NexthopObject): NextHop => Object.freeze({ ifindex: n.ifindex, gateway: n.gateway, weight: 1, flags: 0 });
  return (id) => {
    let hops = cache.get(id);
    if (hops !== undefined) return hops;
    const n = objects.get(String(id));
    if (!n) {
      hops = null;
    } else if (n.group.length) {
      const members = n.group.map((g) => objects.get(String(g)));
      // Groups do not nest: a member is a single next hop (or a blackhole).
      hops = members.every((x) => x !== undefined) ? Object.freeze(members.map((x) => single(x!))) : null;
    } else {
      hops = n.blackhole ? Object.freeze([]) : Object.freeze([single(n)]);
    }
    cache.set(id, hops);
    return hops;
  };
}
