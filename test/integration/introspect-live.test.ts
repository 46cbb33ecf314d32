// The Introspector against the real kernel: each change an operator makes with ip, bridge,
// brctl, tc, sysctl or nft shows up in the graph and its verdicts.
import t from 'tap';
import { Introspector, type UpdateEvent } from '../../controller/model';
import { Lab, bridgeLab, routerLab, pingOk } from '../lab';
import { service, settle, waitFor } from './introspect-helpers';
import { countDiff, diffModels } from '../../controller/model/store';

t.test('bridge: ports, STP state, FDB, qdisc, bridge netfilter', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 3 });
  const sw = topo.sw;
  const intro = new Introspector({ netns: sw, debounceMs: 30 });
  t.teardown(() => intro.stop());
  await intro.start();
  const l2 = () => service(intro.graph, 'l2-bridge:br0')!;
  t.equal(l2().verdict, 'accelerated');
  t.same(l2().devices, ['p1', 'p2', 'p3']);
  const latencies: number[] = [];
  intro.on('update', (u: UpdateEvent) => latencies.push(Number(process.hrtime.bigint() - u.firstEventAt) / 1e6));

  lab.exec(sw, ['ip', 'link', 'set', 'p3', 'nomaster']);
  let u = await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.devices.join() === 'p1,p2', 'p3 leaves br0');
  t.ok(u && u.diff.removed.includes('port:br0/p3'), 'port node removed');
  t.ok(u && u.diff.causes.some((c) => c.startsWith('RTM_NEWLINK p3')), 'cause names p3');
  lab.exec(sw, ['brctl', 'addif', 'br0', 'p3']);
  await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.devices.join() === 'p1,p2,p3', 'p3 back via brctl');

  lab.exec(sw, ['bridge', 'link', 'set', 'dev', 'p2', 'state', '0']);
  u = await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.reasons.includes('port p2 is in STP disabled state'), 'p2 disabled');
  t.same(l2().devices, ['p1', 'p3']);
  // Hosts' own traffic (FDB refreshes, ND) may share the burst: the port event must be among the causes.
  t.ok(u?.diff.causes.includes('RTM_NEWLINK p2 (port disabled)'), `causes: ${u?.diff.causes.join(', ')}`);
  lab.exec(sw, ['bridge', 'link', 'set', 'dev', 'p2', 'state', '3']);
  await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.devices.length === 3, 'p2 forwarding again');

  // Real traffic: h1's MAC is learned on p1.
  const h1mac = topo.hosts[0].mac;
  await pingOk(topo.hosts[0].ns, topo.hosts[1].ip4);
  await waitFor(intro, (_g, m) => [...m.fdb.values()].some((e) => e.mac === h1mac && e.ifindex === topo.ports[0].ifindex && e.flags.dynamic), 'h1 MAC learned on p1');
  // Moved by hand to p2 as a static entry. h1 goes quiet first: any frame it sends (an ARP reply
  // to h2's reachability probe, a router solicitation) would move the entry back to p1, as the
  // kernel moves non-sticky static entries, possibly within one debounce window (CI saw it).
  const h1 = topo.hosts[0].ns;
  // A zero-length pfifo drops every frame (this kernel has no matchall classifier or gact).
  lab.exec(h1, ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'pfifo', 'limit', '0']);
  lab.exec(sw, ['bridge', 'fdb', 'del', h1mac, 'dev', 'p1', 'master']);
  lab.exec(sw, ['bridge', 'fdb', 'add', h1mac, 'dev', 'p2', 'master', 'static']);
  await waitFor(intro, (_g, m) => {
    const e = [...m.fdb.values()].filter((x) => x.mac === h1mac && x.master === topo.bridge.ifindex);
    return e.length === 1 && e[0].ifindex === topo.ports[1].ifindex && e[0].flags.static;
  }, 'h1 MAC moved to p2, static');
  lab.exec(sw, ['bridge', 'fdb', 'del', h1mac, 'dev', 'p2', 'master']);
  // Only the static entry on p2: the wait does not rely on h1 staying unknown.
  await waitFor(intro, (_g, m) => ![...m.fdb.values()].some((x) => x.mac === h1mac && x.master !== 0 && x.ifindex === topo.ports[1].ifindex), 'entry deleted');
  lab.exec(h1, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);

  lab.exec(sw, ['tc', 'qdisc', 'add', 'dev', 'p1', 'root', 'handle', '1:', 'htb']);
  await waitFor(intro, (g) => l2().reasons.includes('p1 has an htb root qdisc: bridged traffic out of p1 stays on the slow path') && g.nodes.some((n) => n.id === 'qdisc:p1/root' && n.attrs.kind === 'htb'), 'htb on p1');
  lab.exec(sw, ['tc', 'qdisc', 'del', 'dev', 'p1', 'root']);
  await waitFor(intro, (g) => g.nodes.find((n) => n.id === 'device:p1')!.attrs.egress_ok === true, 'htb gone');

  lab.exec(sw, ['nft', 'add table bridge sst; add chain bridge sst fw { type filter hook forward priority 0; }; add rule bridge sst fw counter']);
  await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.verdict === 'slow-path' && l2().reasons.includes('netfilter has rules for bridged traffic (bridge sst fw)'), 'nft bridge rule');
  lab.exec(sw, ['nft', 'delete', 'table', 'bridge', 'sst']);
  await waitFor(intro, (g) => service(g, 'l2-bridge:br0')!.verdict === 'accelerated', 'nft bridge rule gone');

  t.ok(latencies.length >= 8, `${latencies.length} updates`);
  const rtnl = latencies.slice(0, 4);
  t.ok(Math.max(...rtnl) < 1000, `rtnetlink changes reach the graph quickly (${rtnl.map((x) => x.toFixed(0)).join(', ')} ms)`);
  t.equal(intro.model.stats.resyncs, 0, 'no resync needed');
});

t.test('router: nexthop objects under nexthop_compat_mode=0', async (t) => {
  // Routes then name only their nexthop object, and the kernel announces neither a group's
  // change to its routes nor what it removes when a device loses its carrier.
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const rt = topo.router;
  lab.sysctl(rt, 'net.ipv4.nexthop_compat_mode', 0);
  lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 1);
  const intro = new Introspector({ netns: rt, debounceMs: 30, sysctlIntervalMs: 500 });
  t.teardown(() => intro.stop());
  await intro.start();
  const l3 = () => service(intro.graph, 'l3-router')!;
  const mtuOf = (dev: string): unknown => intro.graph.nodes.find((n) => n.id === `device:${dev}`)?.attrs.route_mtu_v4;
  const gwB2 = topo.subnetB.host4(3);
  lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '1', 'via', topo.hostB.ip4, 'dev', 'pb']);
  lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '2', 'via', gwB2, 'dev', 'pb']);
  lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '3', 'via', topo.hostA.ip4, 'dev', 'pa']);
  lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '10', 'group', '1/2']);
  lab.exec(rt, ['ip', 'route', 'add', '198.18.3.0/24', 'nhid', '10', 'mtu', '1100']);
  lab.exec(rt, ['ip', 'route', 'add', '198.18.4.0/24', 'nhid', '3', 'mtu', '1000']);
  await waitFor(intro, () => mtuOf('pb') === 1100 && mtuOf('pa') === 1000 && l3().attrs?.ipv4 === false, 'MTUs on the groups\' devices, multipath seen');
  t.same([...intro.model.routes.values()].filter((r) => r.nhId).map((r) => r.nexthops.length), [0, 0], 'the kernel lists no next hops with the routes');
  t.ok(l3().reasons.some((r) => r.includes('1 IPv4 multipath route with net.ipv4.fib_multipath_hash_policy=1')), l3().reasons.join('\n'));

  // The group shrinks: no route message, yet no multipath route is left.
  lab.exec(rt, ['ip', 'nexthop', 'replace', 'id', '10', 'group', '1']);
  await waitFor(intro, () => l3().attrs?.ipv4 === true, 'a group of one is not multipath');

  // pa loses its carrier: nexthop 3 and its route go without a word from the kernel.
  lab.exec(topo.hostA.ns, ['ip', 'link', 'set', topo.hostA.ifname, 'down']);
  await waitFor(intro, (_g, m) => !m.nexthops.has('3'), 'nexthop 3 gone with the carrier');
  await settle(intro);
  t.equal(mtuOf('pa'), null, 'its route MTU went with it');
  const fresh = new Introspector({ netns: rt, sysctlIntervalMs: 60_000 });
  await fresh.start();
  try {
    const d = diffModels(intro.model, fresh.model);
    t.equal(countDiff({ routes: d.routes, nexthops: d.nexthops }), 0, `the model agrees with a fresh dump: ${JSON.stringify({ routes: d.routes, nexthops: d.nexthops })}`);
    t.same([...fresh.model.nexthops.keys()].sort(), ['1', '10', '2']);
  } finally {
    fresh.stop();
  }
  lab.exec(rt, ['ip', 'nexthop', 'del', 'id', '1']);
  await waitFor(intro, (_g, m) => m.nexthops.size === 1 && ![...m.routes.values()].some((r) => r.nhId), 'deleting the last member takes the group and its route');
  t.equal(mtuOf('pb'), null);
});

t.test('router: routes, addresses, ip_forward, nft forward rule', async (t) => {
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const rt = topo.router;
  const intro = new Introspector({ netns: rt, debounceMs: 30, sysctlIntervalMs: 5000 });
  t.teardown(() => intro.stop());
  await intro.start();
  const l3 = () => service(intro.graph, 'l3-router')!;
  t.equal(l3().verdict, 'accelerated');
  t.same(l3().devices, ['pa', 'pb']);
  t.same(l3().attrs, { ipv4: true, ipv6: true, ipv4_devices: ['pa', 'pb'], ipv6_devices: ['pa', 'pb'], port_rules: false });

  lab.exec(rt, ['ip', 'route', 'add', '198.18.3.0/24', 'via', topo.hostB.ip4]);
  let u = await waitFor(intro, (_g, m) => [...m.routes.values()].some((r) => r.dst === '198.18.3.0'), 'route added');
  t.ok(u?.diff.causes.includes('RTM_NEWROUTE 198.18.3.0/24'));
  t.ok(u?.diff.changed.includes('routes:main'));
  lab.exec(rt, ['ip', 'route', 'del', '198.18.3.0/24']);
  u = await waitFor(intro, (_g, m) => ![...m.routes.values()].some((r) => r.dst === '198.18.3.0'), 'route deleted');
  t.ok(u?.diff.causes.includes('RTM_DELROUTE 198.18.3.0/24'));

  // A route's MTU metric reaches the model and the egress device's node (l3-router compares
  // IPv4 packets with it: ip_forward honours it, bpf_fib_lookup does not unless locked).
  const pbMtu = (): unknown => intro.graph.nodes.find((n) => n.id === 'device:pb')?.attrs.route_mtu_v4;
  lab.exec(rt, ['ip', 'route', 'add', '198.18.3.0/24', 'via', topo.hostB.ip4, 'mtu', '1200']);
  await waitFor(intro, () => pbMtu() === 1200, 'route MTU 1200 on pb');
  t.equal([...intro.model.routes.values()].find((r) => r.dst === '198.18.3.0')?.mtu, 1200, 'the route carries its MTU');
  lab.exec(rt, ['ip', 'route', 'add', '198.18.5.0/24', 'via', topo.hostB.ip4, 'mtu', 'lock', '1300']);
  lab.exec(rt, ['ip', 'route', 'change', '198.18.3.0/24', 'via', topo.hostB.ip4, 'mtu', '1400']);
  await waitFor(intro, () => pbMtu() === 1300, 'the smallest route MTU out of pb');
  lab.exec(rt, ['ip', 'route', 'del', '198.18.5.0/24']);
  await waitFor(intro, () => pbMtu() === 1400, 'the other route\'s MTU after a delete');
  lab.exec(rt, ['ip', 'route', 'del', '198.18.3.0/24']);
  await waitFor(intro, () => pbMtu() === null, 'no route MTU once the routes are gone');
  t.equal(intro.graph.nodes.find((n) => n.id === 'device:pa')?.attrs.route_mtu_v4, null, 'pa never had one');

  // `ip route append`/`prepend` keep several routes for one prefix and metric, in order;
  // a delete without details takes the first. The route left keeps its MTU in the graph.
  const via = (gw: string): string[] => ['198.18.3.0/24', 'via', gw];
  const routes3 = (m: typeof intro.model): string[] => [...m.routes.values()].filter((r) => r.dst === '198.18.3.0')
    .sort((a, b) => a.key.length - b.key.length).map((r) => `${r.nexthops[0]?.gateway}${r.mtu ? ` mtu ${r.mtu}` : ''}`);
  const otherA = topo.subnetA.host4(3);
  lab.exec(rt, ['ip', 'route', 'add', ...via(topo.hostA.ip4)]);
  lab.exec(rt, ['ip', 'route', 'append', ...via(topo.hostB.ip4), 'mtu', '1000']);
  lab.exec(rt, ['ip', 'route', 'prepend', ...via(otherA)]);
  lab.exec(rt, ['ip', 'route', 'replace', ...via(topo.subnetA.host4(4))]);
  const want = [topo.subnetA.host4(4), topo.hostA.ip4, `${topo.hostB.ip4} mtu 1000`];
  await waitFor(intro, (_g, m) => routes3(m).join() === want.join(), `three routes in the kernel's order: ${want.join(', ')}`);
  t.equal(pbMtu(), 1000, 'the appended route\'s MTU binds pb');
  const agrees = async (what: string): Promise<void> => {
    await settle(intro);
    const fresh = new Introspector({ netns: rt, sysctlIntervalMs: 60_000 });
    await fresh.start();
    try {
      t.same(routes3(intro.model), routes3(fresh.model), `${what}: the kernel's order`);
      t.equal(countDiff({ routes: diffModels(intro.model, fresh.model).routes }), 0, `${what}: the model agrees with a fresh dump`);
    } finally {
      fresh.stop();
    }
  };
  await agrees('append, prepend, replace');
  lab.exec(rt, ['ip', 'route', 'del', '198.18.3.0/24']);
  lab.exec(rt, ['ip', 'route', 'del', ...via(topo.hostA.ip4)]);
  await waitFor(intro, (_g, m) => routes3(m).join() === `${topo.hostB.ip4} mtu 1000`, 'two deletes leave the appended route');
  t.equal(pbMtu(), 1000, 'and its MTU still binds pb');
  await agrees('after two deletes');
  lab.exec(rt, ['ip', 'route', 'del', '198.18.3.0/24']);
  await waitFor(intro, () => pbMtu() === null, 'no route MTU once the last one is gone');

  // Netconf events make sysctl changes visible long before the 5 s poll.
  const t0 = Date.now();
  lab.sysctl(rt, 'net.ipv4.ip_forward', 0);
  u = await waitFor(intro, () => l3().attrs?.ipv4 === false, 'ip_forward=0', 3000);
  t.ok(Date.now() - t0 < 3000);
  t.ok(u?.diff.causes.includes('sysctl net.ipv4.ip_forward=0'), `causes: ${u?.diff.causes.slice(0, 3).join(', ')}`);
  t.equal(l3().verdict, 'accelerated', 'IPv6 still accelerated');
  t.ok(l3().reasons.includes('IPv4 stays on the slow path: IPv4 forwarding is off (net.ipv4.ip_forward=0)'));
  lab.sysctl(rt, 'net.ipv4.ip_forward', 1);
  await waitFor(intro, () => l3().attrs?.ipv4 === true, 'ip_forward=1');

  lab.exec(rt, ['ip', 'addr', 'del', `${topo.portA.ip4}/24`, 'dev', 'pa']);
  await waitFor(intro, () => (l3().attrs?.ipv4_devices as string[]).join() === 'pb', 'pa lost its IPv4 address');
  t.same(l3().attrs?.ipv6_devices, ['pa', 'pb']);

  lab.exec(rt, ['nft', 'add table inet sst; add chain inet sst fw { type filter hook forward priority 0; }; add rule inet sst fw ct state established accept']);
  await waitFor(intro, () => l3().verdict === 'slow-path' && l3().reasons.includes('netfilter uses connection tracking in the forward path (inet sst fw)'), 'nft forward rule');
  // A rule bounded to the traffic entering pb: only pb loses its L3 role.
  lab.exec(rt, ['nft', 'flush chain inet sst fw; add rule inet sst fw iifname "pb" udp dport 9 drop']);
  // (pa has no IPv4 address any more: IPv6 shows it.)
  await waitFor(intro, () => l3().verdict === 'accelerated' && JSON.stringify(l3().attrs?.ipv6_devices) === '["pa"]', 'bounded rule');
  t.same(intro.graph.nodes.find((n) => n.id === 'netfilter')?.attrs.ipv6_bound_in, ['pb (inet sst fw)'], 'the netfilter node lists the bound');
  t.ok(l3().reasons.includes('IPv6 routed in through pb stays on the slow path: netfilter rules match traffic entering pb (inet sst fw)'), 'and the service says why');
  // A named set bounds the rule by its elements, followed through nft's element events.
  lab.exec(rt, ['nft', 'add set inet sst ifs { type ifname; }; flush chain inet sst fw; add rule inet sst fw iifname @ifs drop']);
  await waitFor(intro, () => l3().verdict === 'slow-path', 'an empty set is no bound: the family goes to the kernel');
  lab.exec(rt, ['nft', 'add element inet sst ifs { "pa" }']);
  await waitFor(intro, () => l3().verdict === 'accelerated' && JSON.stringify(l3().attrs?.ipv6_devices) === '["pb"]', 'the set\'s element bounds the rule');
  lab.exec(rt, ['nft', 'delete', 'table', 'inet', 'sst']);
  await waitFor(intro, () => l3().verdict === 'accelerated', 'nft rule gone');

  // IPsec policies, read over NETLINK_XFRM and followed by its events.
  t.same(intro.model.xfrm, { checked: true, policies: [], defaults: { in: 'accept', fwd: 'accept', out: 'accept' }, error: null }, 'no policies at start');
  lab.exec(rt, ['ip', 'xfrm', 'policy', 'add', 'src', '198.18.1.0/24', 'dst', '198.18.2.0/24', 'proto', 'udp', 'dir', 'out', 'priority', '7',
    'tmpl', 'src', '198.18.1.1', 'dst', '198.18.2.9', 'proto', 'esp', 'mode', 'tunnel']);
  lab.exec(rt, ['ip', 'xfrm', 'policy', 'add', 'src', '2001:2:0:2::/64', 'dst', '::/0', 'dir', 'fwd', 'action', 'block']);
  u = await waitFor(intro, (_g, m) => m.xfrm.policies.length === 2, 'policies read');
  t.ok(u?.diff.causes.includes('xfrm policies'), 'the cause is named');
  const [p4, p6] = [...intro.model.xfrm.policies].sort((a, b) => a.family - b.family);
  t.match(p4, { dir: 'out', action: 'allow', family: 4, src: '198.18.1.0', srcLen: 24, dst: '198.18.2.0', dstLen: 24, proto: 17, priority: 7, templates: ['esp tunnel'] });
  t.match(p6, { dir: 'fwd', action: 'block', family: 6, src: '2001:2:0:2::', srcLen: 64, dstLen: 0, proto: 0, templates: [] });
  const xnode = () => intro.graph.nodes.find((n) => n.id === 'xfrm')?.attrs;
  t.same([l3().verdict, xnode()?.ipv4_selectors, xnode()?.ipv6_selectors], ['accelerated', true, true], 'routing stays accelerated, checking both families\' selectors');
  lab.exec(rt, ['ip', 'xfrm', 'policy', 'flush']);
  await waitFor(intro, (_g, m) => m.xfrm.policies.length === 0 && xnode()?.ipv4_selectors === false, 'flush seen');
  lab.exec(rt, ['ip', 'xfrm', 'policy', 'setdefault', 'fwd', 'block']);
  await waitFor(intro, (_g, m) => m.xfrm.defaults.fwd === 'block' && l3().verdict === 'slow-path', 'default policy change seen');
  lab.exec(rt, ['ip', 'xfrm', 'policy', 'setdefault', 'fwd', 'accept']);
  await waitFor(intro, (_g, m) => m.xfrm.defaults.fwd === 'accept', 'default policy back');

  lab.exec(rt, ['ip', 'link', 'set', 'pb', 'down']);
  await waitFor(intro, () => l3().devices.join() === 'pa' && l3().reasons.includes('pb is down'), 'pb down');
  t.notOk([...intro.model.routes.values()].some((r) => r.family === 4 && r.table === 254 && r.nexthops.some((h) => h.ifindex === topo.portB.ifindex)), 'IPv4 routes through pb flushed silently by the kernel are gone from the model too');
});
