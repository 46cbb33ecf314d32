// The compact route table (controller/model/routes.ts) against a plain Map, and the
// decode paths that feed it: same answers, shared frozen values, nothing lost.
import t from 'tap';
import { decodeRouteAt, decodeNeighbour, loadRouteAt, RTM } from '../../controller/model/decode';
import { flatStr, ip4FromNumber, ipString, macString } from '../../controller/model/addr';
import { ROUTE_TYPES, RouteTable, routeKeysVia, scanRoutes } from '../../controller/model/routes';
import { diffModels, countDiff, sameValue } from '../../controller/model/store';
import { emptyModel, type NextHop, type Route } from '../../controller/model/types';
import { apply, gwRouteMessage, linkMessage, loadFixture } from '../fixtures/helpers';

function route(over: Partial<Route>): Route {
  const r: Route = {
    key: '', family: 4, table: 254, dst: '198.18.1.0', dstLen: 24, src: '', srcLen: 0, tos: 0, priority: 0,
    protocol: 4, scope: 0, type: 'unicast', prefsrc: null,
    nexthops: [{ ifindex: 3, gateway: '198.18.0.1', weight: 1, flags: 0 }], nhId: 0, ...over,
  };
  r.key = over.key ?? `${r.family}|${r.table}|${r.dst}/${r.dstLen}|${r.src}/${r.srcLen}|${r.tos}|${r.priority}`;
  return r;
}

const samples: Route[] = [
  route({}),
  route({ dst: '', dstLen: 0, priority: 100, prefsrc: '198.18.0.2' }), // default route
  route({ dst: '0.0.0.0', dstLen: 1 }),
  route({ dst: '255.255.255.255', dstLen: 32, table: 0xffffffff, priority: 0xffffffff, nhId: 0xfffffffe }),
  route({ dst: '010.0.0.1', dstLen: 32 }), // not canonical: kept as text, returned as given
  route({ dst: '198.18.2.0', dstLen: 24, src: '198.18.9.0', srcLen: 24, tos: 16 }),
  route({ family: 6, dst: '2001:2::', dstLen: 48, nexthops: [{ ifindex: 4, gateway: 'fe80::1', weight: 1, flags: 0 }] }),
  route({ dst: '198.18.3.0', type: 'blackhole', nexthops: [] }),
  route({ dst: '198.18.4.0', mtu: 1000 }),
  route({ family: 6, dst: '2001:2:0:4::', dstLen: 64, mtu: 1280, nexthops: [{ ifindex: 4, gateway: 'fe80::1', weight: 1, flags: 0 }] }),
  route({
    dst: '198.18.31.0', nexthops: [
      { ifindex: 3, gateway: '198.18.10.11', weight: 2, flags: 0 },
      { ifindex: 5, gateway: '198.18.20.2', weight: 1, flags: 1 },
    ],
  }),
  ...ROUTE_TYPES.map((type, i) => route({ dst: `198.18.100.${i}`, dstLen: 32, type, scope: 253, protocol: 2 })),
];

t.test('round trip: every field comes back as it was set', async (t) => {
  const rt = new RouteTable();
  for (const r of samples) rt.set(r.key, r);
  t.equal(rt.size, samples.length);
  for (const r of samples) {
    const got = rt.get(r.key);
    t.ok(got && sameValue(got, r), `${r.key} round trip`);
    t.same(got, r);
    t.ok(Object.isFrozen(got!.nexthops), 'nexthop lists come back frozen');
  }
  t.equal(rt.get('nope'), undefined);
  t.notOk(rt.has('nope'));
});

t.test('Map semantics: order, replace in place, delete, slot reuse, clear', async (t) => {
  const rt = new RouteTable();
  const plain = new Map<string, Route>();
  const both = (fn: (m: Map<string, Route>) => void): void => {
    fn(rt);
    fn(plain);
  };
  both((m) => { for (const r of samples) m.set(r.key, r); });
  const changed = route({ ...samples[2], priority: samples[2].priority, protocol: 9, key: samples[2].key });
  both((m) => m.set(changed.key, changed)); // replace keeps the place
  both((m) => m.delete(samples[0].key));
  t.equal(rt.delete('absent'), false);
  const fresh = route({ dst: '198.18.200.0' });
  both((m) => m.set(fresh.key, fresh)); // takes the freed slot, goes last in order
  both((m) => m.set(samples[0].key, samples[0])); // back again, now last
  t.same([...rt.keys()], [...plain.keys()], 'same key order');
  t.same([...rt.values()], [...plain.values()], 'same values');
  t.same([...rt.entries()], [...plain.entries()], 'same entries');
  t.same([...rt], [...plain], 'same iteration');
  const seen: string[] = [];
  rt.forEach((v, k, m) => {
    t.equal(v.key, k);
    t.equal(m, rt);
    seen.push(k);
  });
  t.same(seen, [...plain.keys()]);
  t.equal(rt.get(changed.key)?.protocol, 9);
  // Deleting while iterating (the Introspector's route re-dump does) is safe.
  for (const [k, r] of rt) if (r.dstLen === 32) rt.delete(k);
  t.notOk([...rt.values()].some((r) => r.dstLen === 32));
  t.equal(String(rt), '[object RouteTable]');
  rt.clear();
  t.equal(rt.size, 0);
  t.same([...rt], []);
  rt.set(fresh.key, fresh);
  t.same(rt.get(fresh.key), fresh, 'usable after clear');
});

t.test('a returned route is a copy: changing it changes nothing stored', async (t) => {
  const rt = new RouteTable();
  const r = samples[0];
  rt.set(r.key, r);
  const got = rt.get(r.key)!;
  got.priority = 77;
  t.equal(rt.get(r.key)!.priority, r.priority);
  t.throws(() => (got.nexthops as NextHop[]).push({ ifindex: 1, gateway: null, weight: 1, flags: 0 }), 'nexthop lists are frozen');
});

t.test('values that do not fit are refused, and nothing is stored', async (t) => {
  const rt = new RouteTable();
  for (const bad of [route({ dstLen: 300 }), route({ priority: -1 }), route({ table: 2 ** 32 }), route({ tos: 1.5 }),
    route({ type: 'bogus' as Route['type'] }), route({ family: 5 as 4 })]) {
    t.throws(() => rt.set(bad.key, bad), /out of range/);
  }
  t.equal(rt.size, 0);
});

t.test('scanRoutes and routeKeysVia agree with a plain Map', async (t) => {
  const rt = new RouteTable();
  const plain = new Map<string, Route>();
  for (const r of samples) {
    rt.set(r.key, r);
    plain.set(r.key, r);
  }
  const scan = (m: Map<string, Route>): unknown[] => {
    const out: unknown[] = [];
    scanRoutes(m, (table, family, dstLen, type, hops, mtu) => out.push([table, family, dstLen, type, hops.map((h) => h.ifindex), mtu]));
    return out;
  };
  t.same(scan(rt), scan(plain));
  t.ok(scan(rt).length === samples.length);
  for (const ifindex of [3, 4, 5, 9]) t.same(routeKeysVia(rt, ifindex), routeKeysVia(plain, ifindex), `via ${ifindex}`);
  t.equal(routeKeysVia(rt, 5).length, 1, 'the multipath route is found through its second hop');
});

// An RTM_NEWROUTE for 198.18.4.0/24 via 198.18.0.1 dev 3, optionally with RTA_METRICS.
function routeMessage(metrics: Array<[number, number]>): Buffer {
  const attr = (type: number, value: Buffer): Buffer => {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(4 + value.length, 0);
    h.writeUInt16LE(type, 2);
    return Buffer.concat([h, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
  };
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v, 0);
    return b;
  };
  const hdr = Buffer.from([2, 24, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0]);
  const parts = [hdr, attr(1, Buffer.from([198, 18, 4, 0])), attr(5, Buffer.from([198, 18, 0, 1])), attr(4, u32(3))];
  if (metrics.length) parts.push(attr(8, Buffer.concat(metrics.map(([k, v]) => attr(k, u32(v))))));
  return Buffer.concat(parts);
}

t.test('decode: a route\'s MTU metric (RTAX_MTU inside RTA_METRICS), by both paths', async (t) => {
  const cases: Array<[string, Array<[number, number]>, number | undefined]> = [
    ['no metrics', [], undefined],
    ['MTU 1400', [[2, 1400]], 1400],
    ['locked MTU 1300 after other metrics', [[1, 1 << 2], [8, 1360], [2, 1300]], 1300],
    ['other metrics only', [[8, 1360]], undefined],
  ];
  for (const [name, metrics, want] of cases) {
    const msg = routeMessage(metrics);
    const op = decodeRouteAt(RTM.NEWROUTE, msg, 0, msg.length);
    t.equal(op?.op === 'route' ? op.route.mtu : 'no route', want, `${name}: event path`);
    const table = new RouteTable();
    t.ok(loadRouteAt(table, msg, 0, msg.length));
    t.equal([...table.values()][0]?.mtu, want, `${name}: dump path`);
  }
});

t.test('decode: the dump fast path and the event path give the same routes', async (t) => {
  for (const name of ['gateway', 'bridge3']) {
    const steps = loadFixture(name);
    const viaEvents = emptyModel();
    apply(viaEvents, steps[0].messages);
    const viaDump = emptyModel();
    const plain = new Map<string, Route>();
    let n = 0;
    for (const m of steps[0].messages) {
      if (m.type !== RTM.NEWROUTE) continue;
      const ok = loadRouteAt(viaDump.routes, m.payload, 0, m.payload.length);
      const op = decodeRouteAt(m.type, m.payload, 0, m.payload.length);
      t.equal(ok, op !== null, 'both paths keep the same messages');
      t.equal(loadRouteAt(plain, m.payload, 0, m.payload.length), ok, 'the generic path too');
      if (op?.op === 'route') n++;
    }
    t.ok(n > 5, `${name}: ${n} routes`);
    t.equal(viaDump.routes.size, viaEvents.routes.size);
    for (const [k, r] of viaEvents.routes) {
      t.ok(sameValue(viaDump.routes.get(k), r), `${name} ${k}`);
      t.ok(sameValue(plain.get(k), r), `${name} ${k} (plain Map)`);
    }
    // The whole-model comparison a resync uses sees no difference either.
    viaDump.links = viaEvents.links;
    viaDump.addresses = viaEvents.addresses;
    viaDump.rules = viaEvents.rules;
    viaDump.neighbours = viaEvents.neighbours;
    viaDump.fdb = viaEvents.fdb;
    viaDump.qdiscs = viaEvents.qdiscs;
    viaDump.filters = viaEvents.filters;
    t.equal(countDiff(diffModels(viaEvents, viaDump)), 0, `${name}: models equal`);
  }
});

// IPv4 keeps routes appended or prepended to the same (table, dst, tos, metric) as an
// ordered group; the sequence below is what `ip route` did on 6.18 (route-aliases.ts).
t.test('alias groups: append, prepend, replace and delete keep the kernel\'s routes in its order', async (t) => {
  const cidr = '198.18.40.0/24';
  const base = '4|254|198.18.40.0/24|/0|0|0';
  const m = emptyModel();
  apply(m, [linkMessage({ ifindex: 2, name: 'vb' }), linkMessage({ ifindex: 3, name: 'va' })]);
  const order = (): string[] => [...m.routes.entries()].filter(([, r]) => r.dst === '198.18.40.0')
    .sort(([a], [b]) => a.length - b.length || a.localeCompare(b))
    .map(([k, r]) => `${k.slice(base.length) || 'K'}=${r.nexthops[0].gateway}${r.mtu ? ` mtu ${r.mtu}` : ''}`);
  const step = (flags: number, gw: string, oif: number, o: { del?: boolean; mtu?: number } = {}): string[] =>
    apply(m, [gwRouteMessage(cidr, gw, oif, { flags, mtu: o.mtu, type: o.del ? RTM.DELROUTE : RTM.NEWROUTE })]);

  step(0x600, '198.18.5.2', 3); // ip route add
  step(0xc00, '198.18.6.2', 2); // ip route append
  t.same(order(), ['K=198.18.5.2', '|alias2=198.18.6.2'], 'append: the new route last');
  step(0x400, '198.18.5.3', 3); // ip route prepend
  t.same(order(), ['K=198.18.5.3', '|alias2=198.18.5.2', '|alias3=198.18.6.2'], 'prepend: the new route first');
  step(0x100, '198.18.6.3', 2); // ip route replace: the first one's place
  t.same(order(), ['K=198.18.6.3', '|alias2=198.18.5.2', '|alias3=198.18.6.2'], 'replace: takes the first place');
  t.same(step(0x100, '198.18.5.2', 3), [], 'a repeat of a route held (offload flags, a nexthop update) changes nothing');
  step(0, '198.18.6.2', 2, { del: true }); // ip route del … via 198.18.6.2
  t.same(order(), ['K=198.18.6.3', '|alias2=198.18.5.2'], 'a delete removes the route it names');
  step(0, '198.18.6.3', 2, { del: true }); // ip route del (the first)
  t.same(order(), ['K=198.18.5.2'], 'and the next one moves up');

  // The case that mattered: the model used to drop the group on the first delete, and the
  // graph lost the remaining route's MTU (ip_forward honours it; l3-router compares with it).
  step(0xc00, '198.18.6.2', 2, { mtu: 1000 });
  step(0, '198.18.5.2', 3, { del: true });
  t.same(order(), ['K=198.18.6.2 mtu 1000'], 'the appended route survives the first one\'s delete');
  step(0x400, '198.18.5.2', 3);
  apply(m, [linkMessage({ ifindex: 3, name: 'va' }, RTM.DELLINK)]);
  t.same(order(), ['K=198.18.6.2 mtu 1000'], 'a device going takes its routes silently and closes the gap');

  // A dump lists the group in order: both dump paths give the event path's keys.
  step(0xc00, '198.18.6.9', 2);
  const msgs = [...m.routes.values()].filter((r) => r.dst === '198.18.40.0').sort((a, b) => a.key.length - b.key.length)
    .map((r) => gwRouteMessage(cidr, r.nexthops[0].gateway!, r.nexthops[0].ifindex, { flags: 0x2, mtu: r.mtu }));
  const dumped = new RouteTable();
  const plain = new Map<string, Route>();
  for (const msg of msgs) {
    loadRouteAt(dumped, msg.payload, 0, msg.payload.length);
    loadRouteAt(plain, msg.payload, 0, msg.payload.length);
  }
  for (const table of [dumped, plain]) {
    t.same([...table.keys()].sort(), [base, `${base}|alias2`]);
    for (const [k, r] of table) t.ok(sameValue(r, m.routes.get(k)), `dump ${k} = event ${k}`);
  }
});

t.test('decode: shared frozen values for repeated nexthops and FDB flags', async (t) => {
  const steps = loadFixture('gateway');
  const routes = steps[0].messages.filter((m) => m.type === RTM.NEWROUTE)
    .map((m) => decodeRouteAt(m.type, m.payload, 0, m.payload.length))
    .flatMap((op) => (op?.op === 'route' ? [op.route] : []));
  for (const r of routes) t.ok(Object.isFrozen(r.nexthops), `${r.key}: frozen nexthops`);
  const single = routes.filter((r) => r.nexthops.length === 1);
  const groups = new Map<string, Set<readonly NextHop[]>>();
  for (const r of single) {
    const h = r.nexthops[0];
    const k = `${h.ifindex}|${h.gateway}|${h.flags}`;
    if (!groups.has(k)) groups.set(k, new Set());
    groups.get(k)!.add(r.nexthops);
  }
  t.ok([...groups.values()].some((s) => s.size === 1), 'some nexthop list is shared');
  for (const [k, s] of groups) t.equal(s.size, 1, `one list for ${k}`);

  const fdbMsgs = loadFixture('bridge3')[0].messages.filter((m) => m.type === RTM.NEWNEIGH && m.payload[0] === 7);
  const entries = fdbMsgs.map((m) => decodeNeighbour(m.type, m.payload)).flatMap((op) => (op?.op === 'set' && op.table === 'fdb' ? [op.value] : []));
  t.ok(entries.length > 3, `${entries.length} fdb entries`);
  const byFlags = new Map<string, Set<object>>();
  for (const e of entries) {
    t.ok(Object.isFrozen(e.flags));
    const k = JSON.stringify(e.flags);
    if (!byFlags.has(k)) byFlags.set(k, new Set());
    byFlags.get(k)!.add(e.flags);
  }
  for (const [k, s] of byFlags) t.equal(s.size, 1, `one flags object for ${k}`);
});

t.test('address text', async (t) => {
  t.equal(ip4FromNumber(0xc6120102), '198.18.1.2');
  t.equal(ip4FromNumber(0), '0.0.0.0');
  t.equal(ip4FromNumber(0xffffffff), '255.255.255.255');
  t.equal(ipString(Buffer.from('20010002000000000000000000000000', 'hex')), '2001:2::');
  t.equal(ipString(Buffer.from('00000000000000000000ffffc6120102', 'hex')), '::ffff:198.18.1.2');
  t.equal(ipString(Buffer.from('20010002000100020003000400050006', 'hex')), '2001:2:1:2:3:4:5:6');
  t.equal(ipString(Buffer.alloc(5)), '');
  t.equal(macString(Buffer.from([0xab, 0, 0x0c, 0xff, 1, 0x10])), 'ab:00:0c:ff:01:10');
  t.equal(macString(Buffer.alloc(4)), '');
  const parts = ['a', 'b', 'c'];
  t.equal(flatStr(`${parts[0]}|${parts[1]}|${parts[2]}`), 'a|b|c');
});

t.test('plain IPv4 keys are looked up by number: a key must match its route', async (t) => {
  const rt = new RouteTable();
  const r = route({ dst: '198.18.7.0', dstLen: 24, priority: 5 });
  t.throws(() => rt.set('4|254|198.18.7.0/24|/0|0|6', r), /does not match/);
  t.equal(rt.size, 0);
  rt.set(r.key, r);
  // Keys that only look alike are other keys.
  for (const k of ['4|254|198.18.7.00/24|/0|0|5', '4|0254|198.18.7.0/24|/0|0|5', '4|254|198.18.7.0/24|/0|0|05', '4|254|198.18.7.0/24|/0|0|5 ',
    '6|254|198.18.7.0/24|/0|0|5', '4|254|198.18.7.0/24|/0|0|']) {
    t.notOk(rt.has(k), `not ${JSON.stringify(k)}`);
    t.equal(rt.get(k), undefined);
    t.equal(rt.delete(k), false);
  }
  t.ok(rt.has('4|254|198.18.7.0/24|/0|0|5'));
  t.same([...rt.keys()], [r.key]);
});

t.test('changes while iterating behave as with a Map', async (t) => {
  const rt = new RouteTable();
  const plain = new Map<string, Route>();
  const rs = Array.from({ length: 50 }, (_, i) => route({ dst: `198.18.${i}.0`, dstLen: 24, family: 4 }));
  for (const r of rs) {
    rt.set(r.key, r);
    plain.set(r.key, r);
  }
  const walk = (m: Map<string, Route>): string[] => {
    const seen: string[] = [];
    let i = 0;
    for (const [k] of m) {
      seen.push(k);
      if (i % 3 === 0) m.delete(k); // the current one
      if (i % 7 === 0 && i + 1 < rs.length) m.delete(rs[i + 1].key); // the next one
      if (i === 10) m.set(rs[0].key, rs[0]); // deleted earlier, comes back at the end
      i++;
    }
    return seen;
  };
  t.same(walk(rt), walk(plain), 'same keys visited');
  t.same([...rt.keys()], [...plain.keys()], 'same keys left, same order');
  const more = route({ dst: '198.18.99.0', dstLen: 24 });
  rt.set(more.key, more);
  plain.set(more.key, more);
  t.same([...rt.keys()], [...plain.keys()], 'freed slots reused after the walk, order kept');
  t.equal(rt.size, plain.size);
});
