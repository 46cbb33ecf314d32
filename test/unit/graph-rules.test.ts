// The graph rules (docs/graph-rules.md) on models built from recorded and crafted netlink
// messages. buildGraph is pure, so each rule is checked by changing one fact.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bridgeNetfilter } from '../../controller/graph/brnf';
import { bridgeAnswersNeighbours } from '../../controller/graph/bridge-neigh';
import { buildGraph, bridgeFdb, deviceRoles, diffGraphs, graphToDot, type Graph, type ServiceNode } from '../../controller/graph';
import type { GraphConfig } from '../../controller/graph/config';
import { assumeAllCapabilities, type Capabilities } from '../../controller/capabilities/types';
import { emptyModel, type KernelModel, type Link, type NexthopObject, type NfChain, type NfRuleScope, type Rule, type XfrmPolicy } from '../../controller/model/types';
import { parseIptablesSave, parseNftChainDevices, parseNftJson } from '../../controller/model/netfilter';
import { routeKey } from '../../controller/model/decode';
import { XFRM_POLICY_LIMIT } from '../../controller/graph/analysis';
import { XFRM_DST, XFRM_SRC, xfrmSelectors } from '../../controller/deployer/xfrm-selectors';
import { forwardPolicies } from '../../controller/model/xfrm';
import { addrMessage, apply, bridgeData, bridgePortData, fixtureDir, linkMessage, loadFixture, modelFromFixture, vlanData } from '../fixtures/helpers';

const caps = assumeAllCapabilities('test');

function forwardingOn(m: KernelModel): KernelModel {
  m.sysctls.ipv4Forward = true;
  m.sysctls.ipv6Forward = true;
  m.sysctls.rpFilterAll = 0;
  for (const l of m.links.values()) m.sysctls.devices.set(l.name, { v4Forwarding: true, rpFilter: 0, v6Forwarding: true });
  m.netfilter.checked = true;
  m.netfilter.nftOk = true;
  return m;
}

function svc(g: Graph, id: string): ServiceNode {
  const s = g.services.find((x) => x.id === id);
  if (!s) throw new Error(`no service ${id}: ${g.services.map((x) => x.id).join(', ')}`);
  return s;
}

function nodeAttrs(g: Graph, id: string): Record<string, unknown> {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n.attrs;
}

function link(m: KernelModel, name: string): Link {
  const l = [...m.links.values()].find((x) => x.name === name);
  if (!l) throw new Error(`no link ${name}`);
  return l;
}

function build(m: KernelModel, cfg: GraphConfig = {}, c: Capabilities = caps): Graph {
  return buildGraph(m, c, cfg, 1);
}

function bridge3(steps: string[] = []): KernelModel {
  const all = loadFixture('bridge3');
  const m = modelFromFixture('bridge3');
  for (const label of steps) apply(m, all.find((s) => s.label === label)!.messages);
  return forwardingOn(m);
}

function gateway(steps: string[] = []): KernelModel {
  const all = loadFixture('gateway');
  const m = modelFromFixture('gateway');
  for (const label of steps) apply(m, all.find((s) => s.label === label)!.messages);
  return forwardingOn(m);
}

const chain = (o: Partial<NfChain>): NfChain => ({
  family: 'inet', table: 'f', name: 'fwd', hook: 'forward', type: 'filter', priority: 0, policy: 'accept', rules: 1, devices: [], ...o,
});

t.test('L2: a bridge with >= 2 up forwarding ports is accelerated; down ports are left out with a reason', async (t) => {
  const g = build(bridge3());
  const s = svc(g, 'l2-bridge:br0');
  t.equal(s.verdict, 'accelerated');
  t.same(s.devices, ['p1', 'p2']);
  t.ok(s.reasons.includes('p3 is down'), 'p3 left out because it is down');
  const up = svc(build(bridge3(['p3 up'])), 'l2-bridge:br0');
  t.same(up.devices, ['p1', 'p2', 'p3']);
});

t.test('L2: STP state of a port', async (t) => {
  const s = svc(build(bridge3(['p3 up', 'p2 STP disabled'])), 'l2-bridge:br0');
  t.equal(s.verdict, 'accelerated', 'two forwarding ports remain');
  t.same(s.devices, ['p1', 'p3']);
  t.ok(s.reasons.includes('port p2 is in STP disabled state'));
  const m = bridge3(['p2 STP disabled']); // p3 is down too: one port left
  const s2 = svc(build(m), 'l2-bridge:br0');
  t.equal(s2.verdict, 'slow-path');
  t.same(s2.devices, []);
  t.ok(s2.reasons.includes('br0 has 1 usable forwarding port (needs 2)'));
  link(m, 'p2').port!.state = 'learning';
  t.ok(svc(build(m), 'l2-bridge:br0').reasons.includes('port p2 is in STP learning state'));
});

t.test('L2: vlan_filtering, bridge netfilter, br_netfilter', async (t) => {
  const m = bridge3();
  link(m, 'br0').bridge!.vlanFiltering = true;
  let s = svc(build(m), 'l2-bridge:br0');
  t.equal(s.verdict, 'slow-path');
  t.ok(s.reasons.includes('br0 has vlan_filtering on (not supported yet)'));

  const m2 = bridge3();
  m2.netfilter.chains = [chain({ family: 'bridge', table: 'b', name: 'fw' })];
  s = svc(build(m2), 'l2-bridge:br0');
  t.equal(s.verdict, 'slow-path');
  t.ok(s.reasons.includes('netfilter has rules for bridged traffic (bridge b fw)'));

  // Bridge-family rules bounded to ports keep only those ports with the kernel.
  const bridgeRules = (policy: string, ...exprs: unknown[][]): NfChain[] => parseNftJson(JSON.stringify({
    nftables: [
      { table: { family: 'bridge', name: 'b', handle: 1 } },
      { chain: { family: 'bridge', table: 'b', name: 'fw', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy } },
      ...exprs.map((expr, i) => ({ rule: { family: 'bridge', table: 'b', chain: 'fw', handle: 2 + i, expr } })),
    ],
  }));
  const iifname = (name: string): unknown => ({ match: { op: '==', left: { meta: { key: 'iifname' } }, right: name } });
  const oifname = (name: string): unknown => ({ match: { op: '==', left: { meta: { key: 'oifname' } }, right: name } });
  const mb = bridge3(['p3 up']);
  mb.netfilter.chains = bridgeRules('accept', [iifname('p2'), { drop: null }]);
  s = svc(build(mb), 'l2-bridge:br0');
  t.equal(s.verdict, 'accelerated', 'a rule on frames entering p2');
  t.same(s.devices, ['p1', 'p3'], 'leaves p2 out');
  t.ok(s.reasons.includes('port p2 is named by bridge-family netfilter rules (bridge b fw): its bridged traffic stays with the kernel'), s.reasons.join('\n'));
  t.same(nodeAttrs(build(mb), 'netfilter').bridge_bound_ports, ['p2 (bridge b fw)']);
  mb.netfilter.chains = bridgeRules('accept', [oifname('p3'), { counter: null }], [iifname('p1'), { accept: null }]);
  t.same(svc(build(mb), 'l2-bridge:br0').devices, ['p1', 'p2'], 'a counter on frames leaving p3 leaves p3 out; a plain accept changes nothing');
  mb.netfilter.chains = bridgeRules('accept', [iifname('p2'), { drop: null }], [{ drop: null }]);
  t.equal(svc(build(mb), 'l2-bridge:br0').verdict, 'slow-path', 'one unbounded rule keeps the bridge with the kernel');
  mb.netfilter.chains = bridgeRules('drop', [iifname('p2'), { accept: null }]);
  s = svc(build(mb), 'l2-bridge:br0');
  t.ok(s.verdict === 'slow-path' && s.reasons.includes('netfilter drops bridged frames by default (bridge b fw: policy drop)'), s.reasons.join('\n'));
  mb.netfilter.chains = bridgeRules('accept', [iifname('p2'), { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'established' } }, { accept: null }]);
  s = svc(build(mb), 'l2-bridge:br0');
  t.ok(s.verdict === 'slow-path' && s.reasons.includes('netfilter uses connection tracking for bridged traffic (bridge b fw)'), 'bridge conntrack must see every frame');

  const m3 = bridge3();
  m3.netfilter.chains = [chain({})];
  t.equal(svc(build(m3), 'l2-bridge:br0').verdict, 'accelerated', 'inet forward rules alone do not touch bridged traffic');
  m3.sysctls.bridgeNfCallIptables = true;
  s = svc(build(m3), 'l2-bridge:br0');
  t.equal(s.verdict, 'slow-path', 'but they do with br_netfilter calling iptables');
  t.match(s.reasons.join('\n'), /br_netfilter passes bridged IPv4 to netfilter \(net\.bridge\.bridge-nf-call-iptables=1\)/);
  const m4 = bridge3();
  m4.netfilter.chains = [chain({ rules: 0 })];
  m4.sysctls.bridgeNfCallIptables = true;
  t.equal(svc(build(m4), 'l2-bridge:br0').verdict, 'accelerated', 'an empty accept chain is harmless');
  const m5 = bridge3();
  m5.sysctls.bridgeNfCallIptables = false;
  m5.sysctls.bridgeNfCallArptables = true;
  s = svc(build(m5), 'l2-bridge:br0');
  t.equal(s.verdict, 'accelerated', 'bridge-nf-call-arptables keeps only ARP in the kernel');
  t.ok(s.reasons.includes('br_netfilter passes bridged ARP to arptables: ARP frames stay with the kernel'));
  t.same(bridgeNetfilter(m5, link(m5, 'br0').ifindex), { v4: false, v6: false, arp: true });
  m5.sysctls.bridgeNfCallIptables = null; // br_netfilter not loaded: nothing is handed over
  m5.sysctls.bridgeNfCallArptables = null;
  t.same(bridgeNetfilter(m5, link(m5, 'br0').ifindex), { v4: false, v6: false, arp: false });
});

t.test('egress: a non-default root qdisc means no XDP redirect out of that device', async (t) => {
  const m = bridge3(['htb on p1']);
  const g = build(m);
  const s = svc(g, 'l2-bridge:br0');
  t.equal(s.verdict, 'accelerated', 'p1 still takes ingress traffic');
  t.ok(s.reasons.includes('p1 has an htb root qdisc: bridged traffic out of p1 stays on the slow path'));
  const roles = deviceRoles(g, m);
  t.equal(roles.get('p1')?.egressOk, false);
  t.equal(roles.get('p1')?.egressQdisc, 'htb');
  t.equal(roles.get('p2')?.egressOk, true);
  t.equal(roles.get('p2')?.egressQdisc, null);
  const back = deviceRoles(build(bridge3(['htb on p1', 'htb off p1'])), m);
  t.ok(back.get('p1'), 'p1 present');
  const g2 = build(bridge3(['htb on p1', 'htb off p1']));
  t.equal(g2.nodes.find((n) => n.id === 'device:p1')?.attrs.egress_ok, true, 'default again after the delete');
  // mq with a shaping child counts as shaped; the kernel default with handle 0: does not.
  const m3 = bridge3();
  const p2 = link(m3, 'p2').ifindex;
  for (const [k, q] of m3.qdiscs) if (q.ifindex === p2) m3.qdiscs.delete(k);
  m3.qdiscs.set('a', { key: 'a', ifindex: p2, kind: 'mq', handle: 0, parent: 0xffffffff, root: true, ingress: false });
  m3.qdiscs.set('b', { key: 'b', ifindex: p2, kind: 'pfifo_fast', handle: 0, parent: 1, root: false, ingress: false });
  t.equal(build(m3).nodes.find((n) => n.id === 'device:p2')?.attrs.egress_ok, true);
  m3.qdiscs.set('c', { key: 'c', ifindex: p2, kind: 'tbf', handle: 0x80010000, parent: 2, root: false, ingress: false });
  t.equal(build(m3).nodes.find((n) => n.id === 'device:p2')?.attrs.egress_ok, false);
});

t.test('egress: a device the kernel says cannot take XDP redirects', async (t) => {
  const m = bridge3();
  const g = build(m, { noXdpTransmit: ['p2'] });
  const roles = deviceRoles(g, m);
  t.equal(roles.get('p2')?.egressOk, false, 'p2 is no redirect target');
  t.equal(roles.get('p1')?.egressOk, true, 'others are');
  t.match(JSON.stringify(g.nodes.find((n) => n.id === 'device:p2')?.attrs.egress_reasons), /veth peer has neither GRO nor an XDP program/);
  t.ok(svc(g, 'l2-bridge:br0').reasons.some((r) => r.includes('p2 cannot take XDP redirects')), 'the bridge service says why traffic out of p2 stays slow');
});

t.test('ingress: tc ingress filters keep a device out', async (t) => {
  const g = build(bridge3(['p3 up', 'ingress filter on p3']));
  const s = svc(g, 'l2-bridge:br0');
  t.same(s.devices, ['p1', 'p2']);
  t.ok(s.reasons.includes('p3 has tc ingress filters (bpf), which run after XDP'));
});

t.test('someone else\'s XDP program, config exclusions, API-disabled devices', async (t) => {
  const m = bridge3(['p3 up']);
  link(m, 'p2').xdp = { mode: 'native', progId: 42, drvProgId: 42, skbProgId: 0, hwProgId: 0 };
  let s = svc(build(m), 'l2-bridge:br0');
  t.same(s.devices, ['p1', 'p3']);
  t.ok(s.reasons.includes('p2 already has an XDP program attached by someone else (id 42)'));
  s = svc(build(m, { ownedXdpProgIds: [42] }), 'l2-bridge:br0');
  t.same(s.devices, ['p1', 'p2', 'p3'], 'our own program is not a reason');
  s = svc(build(m, { ownedXdpProgIds: [42], exclude: ['p3'] }), 'l2-bridge:br0');
  t.ok(s.reasons.includes('p3 is excluded by configuration'));
  s = svc(build(m, { ownedXdpProgIds: [42], disabledDevices: ['p1'] }), 'l2-bridge:br0');
  t.ok(s.reasons.includes('p1 is disabled via the API'));
  s = svc(build(m, { ownedXdpProgIds: [42], include: ['p1', 'p2', 'br*'] }), 'l2-bridge:br0');
  t.ok(s.reasons.includes('p3 is not in the configured device list'));
  t.same(s.devices, ['p1', 'p2']);
  s = svc(build(m, { exclude: ['br0'] }), 'l2-bridge:br0');
  t.equal(s.verdict, 'slow-path');
  t.ok(s.reasons.includes('br0 is excluded by configuration'));
});

t.test('unsupported kinds: 802.1Q, bond, macvlan (crafted: this kernel has no 8021q)', async (t) => {
  const m = emptyModel();
  apply(m, [
    linkMessage({ ifindex: 2, name: 'eth0', mac: '02:00:00:00:00:02' }),
    linkMessage({ ifindex: 3, name: 'eth0.100', kind: 'vlan', data: vlanData(100), link: 2 }),
    linkMessage({ ifindex: 4, name: 'bond0', kind: 'bond' }),
    linkMessage({ ifindex: 5, name: 'br0', kind: 'bridge', data: bridgeData({}) }),
    linkMessage({ ifindex: 6, name: 'eth1', master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3) }),
    linkMessage({ ifindex: 7, name: 'eth2', master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3) }),
    linkMessage({ ifindex: 8, name: 'mv0', kind: 'macvlan', link: 2, master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3) }),
    addrMessage(3, '198.18.3.1/24'),
    addrMessage(2, '198.18.2.1/24'),
    addrMessage(4, '198.18.4.1/24'),
  ]);
  forwardingOn(m);
  t.equal(link(m, 'eth0.100').kind, 'vlan');
  t.equal(link(m, 'eth0.100').vlanId, 100);
  t.equal(link(m, 'eth0').kind, 'physical');
  const g = build(m);
  const l3 = svc(g, 'l3-router');
  t.same(l3.devices, ['eth0']);
  t.ok(l3.reasons.includes('eth0.100 is an 802.1Q VLAN device (not accelerated yet)'));
  t.ok(l3.reasons.includes('bond0 is a bond (not accelerated yet)'));
  const l2 = svc(g, 'l2-bridge:br0');
  t.same(l2.devices, ['eth1', 'eth2']);
  t.ok(l2.reasons.includes('mv0 is a macvlan device (not accelerated yet)'));
  t.equal(g.nodes.find((n) => n.id === 'device:eth0.100')?.attrs.vlan_id, 100);
});

t.test('L2: a locked port stays with the kernel; neigh_suppress/proxy ARP keep ARP and ICMPv6 there (crafted)', async (t) => {
  const ports = (o: { locked?: boolean; neighSuppress?: boolean; proxyArp?: boolean }) => {
    const m = emptyModel();
    apply(m, [
      linkMessage({ ifindex: 5, name: 'br0', kind: 'bridge', data: bridgeData({}) }),
      linkMessage({ ifindex: 6, name: 'eth1', master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3, o) }),
      linkMessage({ ifindex: 7, name: 'eth2', master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3) }),
      linkMessage({ ifindex: 8, name: 'eth3', master: 5, slaveKind: 'bridge', slaveData: bridgePortData(3) }),
    ]);
    return forwardingOn(m);
  };
  let m = ports({ locked: true });
  t.same(link(m, 'eth1').port, { state: 'forwarding', learning: true, flood: true, hairpin: false, isolated: false, locked: true, neighSuppress: false, proxyArp: false }, 'IFLA_BRPORT_LOCKED decoded');
  let s = svc(build(m), 'l2-bridge:br0');
  t.same(s.devices, ['eth2', 'eth3'], 'the locked port is not accelerated');
  t.ok(s.reasons.includes('port eth1 is locked (802.1X/MAB): its traffic stays with the kernel'));
  t.equal(bridgeAnswersNeighbours(m, 5), null);
  m = ports({ neighSuppress: true });
  s = svc(build(m), 'l2-bridge:br0');
  t.same(s.devices, ['eth1', 'eth2', 'eth3']);
  t.ok(s.reasons.includes('port eth1 has neigh_suppress on: ARP and ICMPv6 frames stay with the kernel'));
  m = ports({ proxyArp: true });
  t.equal(bridgeAnswersNeighbours(m, 5), 'port eth1 has proxy ARP on');
  // On a gateway bridge the locked port takes no routed traffic either.
  m = ports({ locked: true });
  apply(m, [addrMessage(5, '198.18.5.1/24')]);
  forwardingOn(m);
  const l3 = svc(build(m), 'l3-router');
  t.same(l3.devices, ['eth2', 'eth3'], 'routed traffic from the locked port stays with the kernel');
  t.ok(l3.reasons.includes('port eth1 is locked (802.1X/MAB): traffic routed from it stays with the kernel'));
});

t.test('L3 on the gateway: bridge ports take routed traffic; per-family verdicts', async (t) => {
  const m = gateway();
  let g = build(m);
  let l3 = svc(g, 'l3-router');
  t.equal(l3.verdict, 'accelerated');
  t.same(l3.devices, ['lan1', 'lan2', 'wan0']);
  t.same(l3.attrs, { ipv4: true, ipv6: true, ipv4_devices: ['lan1', 'lan2', 'wan0'], ipv6_devices: ['lan1', 'lan2', 'wan0'], port_rules: false });
  t.ok(l3.reasons.includes('br0 has an address and routes: its ports (lan1, lan2) take routed traffic'));
  t.ok(l3.reasons.includes('1 IPv4 policy rule is honoured by bpf_fib_lookup'));
  const roles = deviceRoles(g, m);
  t.same(roles.get('lan1')?.l3, { v4: true, v6: true });
  t.equal(roles.get('lan1')?.l2Bridge, 'br0', 'and it is an L2 port too');
  t.equal(roles.get('lan1')?.routerMac, link(m, 'br0').mac, 'routed frames to the LAN are addressed to br0');
  t.same(roles.get('wan0')?.l3, { v4: true, v6: true });
  t.equal(roles.get('wan0')?.l2Bridge, null);
  t.ok(g.edges.some((e) => e.from === 'l3-router' && e.to === 'device:wan0' && e.kind === 'egress-via'));

  // ip_forward=0: IPv4 off, IPv6 still accelerated.
  m.sysctls.ipv4Forward = false;
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.equal(l3.verdict, 'accelerated');
  t.equal(l3.attrs?.ipv4, false);
  t.equal(l3.attrs?.ipv6, true);
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: IPv4 forwarding is off (net.ipv4.ip_forward=0)'));
  t.same(deviceRoles(g, m).get('wan0')?.l3, { v4: false, v6: true });
  m.sysctls.ipv6Forward = false;
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.verdict, 'slow-path');
  t.same(l3.devices, []);
  t.ok(l3.reasons.includes('IPv6 forwarding is off (net.ipv6.conf.all.forwarding=0)'));
});

t.test('L3: netfilter forward/nat rules and policy rules', async (t) => {
  const m = gateway();
  m.netfilter.chains = [chain({ family: 'ip', table: 'nat', name: 'post', hook: 'postrouting', type: 'nat' })];
  let l3 = svc(build(m), 'l3-router');
  t.equal(l3.attrs?.ipv4, false);
  t.equal(l3.attrs?.ipv6, true, 'an ip-family chain leaves IPv6 alone');
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: netfilter has NAT rules (ip nat post)'));
  m.netfilter.chains = [chain({})];
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.verdict, 'slow-path', 'inet covers both families');
  t.ok(l3.reasons.includes('netfilter has rules in the forward path (inet f fwd)'));
  m.netfilter.chains = [];
  m.netfilter.iptables.v4 = parseIptablesSave('*filter\n:FORWARD DROP [0:0]\n-A FORWARD -i wan0 -j ACCEPT\n-A FORWARD -p udp -j DROP\nCOMMIT\n');
  l3 = svc(build(m), 'l3-router');
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: iptables has 2 rules in the forward path (filter FORWARD)'), l3.reasons.join('\n'));
  m.netfilter.iptables.v4 = null;
  const fw = gateway(['fwmark rule']);
  l3 = svc(build(fw), 'l3-router');
  t.equal(l3.attrs?.ipv4, false);
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: policy rule 200 selects on fwmark (not visible to the fast path)'));
});

t.test('L3: multipath routes under a hash policy other than 0, and route MTUs', async (t) => {
  const m = gateway();
  for (const [k, r] of m.routes) if (r.nexthops.length > 1) m.routes.delete(k); // the fixture's own ECMP route
  const wan = link(m, 'wan0');
  const base = { table: 254, dstLen: 24, src: '', srcLen: 0, tos: 0, priority: 0, protocol: 4, scope: 0, type: 'unicast' as const, prefsrc: null, nhId: 0 };
  const hops = [{ ifindex: wan.ifindex, gateway: '198.18.20.2', weight: 1, flags: 0 }, { ifindex: wan.ifindex, gateway: '198.18.20.3', weight: 1, flags: 0 }];
  const ecmp = { ...base, family: 4 as const, dst: '198.18.6.0', nexthops: hops, key: routeKey({ ...base, family: 4, dst: '198.18.6.0' }) };
  m.routes.set(ecmp.key, ecmp);
  m.sysctls.multipathPolicy4 = 0;
  m.sysctls.multipathPolicy6 = 1;
  let l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [true, true], 'policy 0 (L3): the helper hashes as the kernel does; IPv6 has no multipath route');
  m.sysctls.multipathPolicy4 = 1;
  l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [false, true], 'policy 1 with an IPv4 multipath route: IPv4 to the kernel');
  t.ok(l3.reasons.some((r) => r.includes('1 IPv4 multipath route with net.ipv4.fib_multipath_hash_policy=1')), l3.reasons.join('\n'));
  m.routes.delete(ecmp.key);
  t.equal(svc(build(m), 'l3-router').attrs?.ipv4, true, 'no multipath route: the policy does not matter');

  const withMtu = { ...base, family: 4 as const, dst: '198.18.7.0', mtu: 1400, nexthops: [hops[0]], key: routeKey({ ...base, family: 4, dst: '198.18.7.0' }) };
  m.routes.set(withMtu.key, withMtu);
  let g = build(m);
  t.equal(nodeAttrs(g, 'device:wan0').route_mtu_v4, 1400, 'the route MTU is on its egress device');
  t.equal(deviceRoles(g, m).get('wan0')?.routeMtu4, 1400, 'and in its role');
  t.equal(nodeAttrs(g, 'device:br0').route_mtu_v4, null);
  m.routes.set(withMtu.key, { ...withMtu, family: 4, mtu: 1300 });
  g = build(m);
  t.equal(nodeAttrs(g, 'device:wan0').route_mtu_v4, 1300, 'a changed MTU');
  const v6 = { ...base, family: 6 as const, dst: '2001:2:0:7::', dstLen: 64, mtu: 1280, nexthops: [{ ...hops[0], gateway: 'fe80::2' }], key: routeKey({ ...base, family: 6, dst: '2001:2:0:7::', dstLen: 64 }) };
  m.routes.set(v6.key, v6);
  t.equal(nodeAttrs(build(m), 'device:wan0').route_mtu_v4, 1300, 'IPv6 route MTUs do not count (the helper honours what ip6_forward does)');

  // Nexthop objects: with nexthop_compat_mode=0 a route lists only its nhid.
  m.routes.delete(withMtu.key);
  m.routes.delete(v6.key);
  const nh = (id: number, gateway: string | null, group: number[] = []): NexthopObject =>
    ({ key: String(id), id, ifindex: group.length ? 0 : wan.ifindex, gateway, group, blackhole: false, fdb: false });
  m.nexthops.set('1', nh(1, '198.18.20.2'));
  m.nexthops.set('2', nh(2, '198.18.20.3'));
  m.nexthops.set('10', nh(10, null, [1, 2]));
  const byObj = { ...base, family: 4 as const, dst: '198.18.8.0', mtu: 1200, nexthops: [], nhId: 1, key: routeKey({ ...base, family: 4, dst: '198.18.8.0' }) };
  m.routes.set(byObj.key, byObj);
  g = build(m);
  t.equal(nodeAttrs(g, 'device:wan0').route_mtu_v4, 1200, 'the MTU of a route through a single nexthop object is on its device');
  t.equal(nodeAttrs(g, 'device:br0').route_mtu_v4, null, 'and on no other');
  t.equal(svc(g, 'l3-router').attrs?.ipv4, true, 'one next hop: not multipath');
  m.routes.set(byObj.key, { ...byObj, nhId: 10 });
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.attrs?.ipv4, false, 'a route through a group of two is multipath: policy 1 sends IPv4 to the kernel');
  t.ok(l3.reasons.some((r) => r.includes('1 IPv4 multipath route')), l3.reasons.join('\n'));
  m.nexthops.set('10', nh(10, null, [1]));
  t.equal(svc(build(m), 'l3-router').attrs?.ipv4, true, 'the group shrunk to one member: no longer multipath');
  m.routes.set(byObj.key, { ...byObj, nhId: 77 });
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.equal(l3.attrs?.ipv4, false, 'an unknown object counts as multipath');
  t.ok(l3.reasons.some((r) => r.includes('1 route names a nexthop object not known yet')), l3.reasons.join('\n'));
  t.same([nodeAttrs(g, 'device:wan0').route_mtu_v4, nodeAttrs(g, 'device:br0').route_mtu_v4], [1200, 1200], 'and its MTU binds every device');
  m.routes.delete(byObj.key);

  // Policy rules on ports: honoured, once the lookup is given the ports.
  const rule: Rule = {
    key: 'rule-ports', family: 4, priority: 100, table: 100, action: 1, src: '', srcLen: 0, dst: '', dstLen: 0, tos: 0,
    iifname: '', oifname: '', fwmark: 0, fwmask: 0, uidRange: false, l3mdev: false, ipProto: 17, ports: true, suppressPrefixlen: -1, isDefault: false,
  };
  t.equal(svc(build(m), 'l3-router').attrs?.port_rules, false);
  m.rules.set(rule.key, rule);
  l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.port_rules], [true, true], 'a rule on ports keeps IPv4 accelerated, with ports read');
  t.ok(l3.reasons.includes('1 IPv4 policy rule matches ports: l3-router reads them for the lookup'), l3.reasons.join('\n'));
});

t.test('L3: IPsec (xfrm) policies on the forward path', async (t) => {
  const m = gateway();
  const pol = (p: Partial<XfrmPolicy>): XfrmPolicy => ({
    index: 1, priority: 0, dir: 'fwd', action: 'allow', family: 4, src: '198.18.1.0', srcLen: 24, dst: '198.18.2.0', dstLen: 24,
    proto: 0, ifindex: 0, templates: ['esp tunnel'], ...p,
  });
  const sel = (g: Graph) => g.nodes.find((n) => n.id === 'xfrm')?.attrs;
  m.xfrm = { checked: true, policies: [pol({ dir: 'in' }), pol({ dir: 'socket' })], defaults: { in: 'block', fwd: 'accept', out: 'accept' }, error: null };
  let g = build(m);
  let l3 = svc(g, 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [true, true], 'in and socket policies, and a blocking default for in, touch only local traffic');
  t.same([sel(g)?.ipv4_selectors, sel(g)?.ipv6_selectors], [false, false], 'nothing for the fast path to check');
  m.xfrm.policies.push(pol({ index: 2 }));
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [true, true], 'a fwd policy leaves routing accelerated');
  t.same([sel(g)?.ipv4_selectors, sel(g)?.ipv6_selectors], [true, false], 'with IPv4 selectors to check');
  t.ok(l3.reasons.includes('IPv4 packets within IPsec policy selectors go to the kernel (xfrm_policy): xfrm policy fwd 198.18.1.0/24 → 198.18.2.0/24 (esp tunnel)'), l3.reasons.join('\n'));
  m.xfrm.policies = [pol({ dir: 'out', family: 6, src: '2001:2::', srcLen: 48, dst: '::', dstLen: 0, action: 'block', templates: [], proto: 17 })];
  g = build(m);
  t.same([sel(g)?.ipv4_selectors, sel(g)?.ipv6_selectors], [false, true], 'an out policy of IPv6');
  t.match(svc(g, 'l3-router').reasons.join('\n'), /xfrm policy out 2001:2::\/48 → any proto 17 \(block\)/);
  m.xfrm.policies = [pol({ family: 0 }), ...[2, 3, 4].map((i) => pol({ index: i, srcLen: 24 + i }))];
  g = build(m);
  t.same([sel(g)?.ipv4_selectors, sel(g)?.ipv6_selectors], [true, true], 'a selector without a family counts for both');
  t.match(svc(g, 'l3-router').reasons.join('\n'), /xfrm policy fwd any \(esp tunnel\).*; and 1 more/, 'long lists are cut');
  m.xfrm.policies = Array.from({ length: XFRM_POLICY_LIMIT + 1 }, (_, i) => pol({ index: i }));
  l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [false, true], 'more IPv4 policies than the selector table holds: IPv4 stays with the kernel');
  t.match(l3.reasons.join('\n'), /2049 IPsec policies apply to forwarded packets/);
  m.xfrm.policies = [];
  m.xfrm.defaults.out = 'block';
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.verdict, 'slow-path', 'a blocking default for out stops both families');
  t.ok(l3.reasons.includes('the xfrm default policy for out is block (IPsec: only packets a policy allows are forwarded)'));
  t.equal(sel(build(m))?.default_out, 'block', 'the xfrm node shows the defaults');
  m.xfrm = { checked: true, policies: [], defaults: { in: 'accept', fwd: 'accept', out: 'accept' }, error: 'reading IPsec policies failed: errno 105' };
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.verdict, 'slow-path', 'policies that could not be read keep routing with the kernel');
  t.match(l3.reasons.join('\n'), /IPsec policies are unknown \(reading IPsec policies failed: errno 105\)/);
  m.xfrm = { checked: false, policies: [], defaults: { in: 'accept', fwd: 'accept', out: 'accept' }, error: 'no NETLINK_XFRM socket: EPROTONOSUPPORT' };
  t.equal(svc(build(m), 'l3-router').verdict, 'accelerated', 'a kernel without NETLINK_XFRM has no policies to apply');
});

t.test('IPsec selector table: prefixes with the bits of every covering prefix', async (t) => {
  const pol = (src: string, srcLen: number, dst: string, dstLen: number, family: 0 | 4 | 6 = 4): XfrmPolicy => ({
    index: 1, priority: 0, dir: 'out', action: 'allow', family, src, srcLen, dst, dstLen, proto: 0, ifindex: 0, templates: [],
  });
  const view = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m].map(([k, v]) => {
    const b = Buffer.from(k, 'hex');
    const len = b.readUInt32LE(0);
    const a = b.subarray(4);
    return [`${a.length === 4 ? [...a].join('.') : a.toString('hex')}/${len}`, v];
  }));
  const s = xfrmSelectors([pol('198.18.0.0', 16, '198.19.0.0', 16), pol('198.19.9.0', 24, '198.18.2.9', 24)]);
  t.same(view(s.v4), {
    '198.18.0.0/16': XFRM_SRC,
    '198.19.0.0/16': XFRM_DST,
    '198.19.9.0/24': XFRM_SRC | XFRM_DST, // inside 198.19/16, a destination prefix
    '198.18.2.0/24': XFRM_DST | XFRM_SRC, // host bits cleared; inside 198.18/16, a source prefix
  });
  t.equal(s.v6.size, 0, 'no IPv6 entries for IPv4 policies');
  const any = xfrmSelectors([pol('', 0, '', 0, 0)]);
  t.same(view(any.v4), { '0.0.0.0/0': XFRM_SRC | XFRM_DST });
  t.same(view(any.v6), { '00000000000000000000000000000000/0': XFRM_SRC | XFRM_DST }, 'a selector without a family: both tables');
  t.same(forwardPolicies({ checked: true, policies: [pol('198.18.0.0', 16, '198.19.0.0', 16), { ...pol('198.18.0.0', 16, '198.19.0.0', 16), dir: 'in' }], defaults: { in: 'accept', fwd: 'accept', out: 'accept' }, error: null }).length, 1, 'in policies are not the fast path\'s concern');
});

t.test('L3: a device going down or losing its address leaves the router', async (t) => {
  let l3 = svc(build(gateway(['wan0 down'])), 'l3-router');
  t.same(l3.devices, ['lan1', 'lan2']);
  t.ok(l3.reasons.includes('wan0 is down'));
  l3 = svc(build(gateway(['addr del br0'])), 'l3-router');
  t.same(l3.attrs?.ipv4_devices, ['wan0'], 'no IPv4 address on br0: its ports take no routed IPv4');
  t.same(l3.attrs?.ipv6_devices, ['lan1', 'lan2', 'wan0']);
  const m = gateway();
  m.sysctls.devices.get('wan0')!.v4Forwarding = false;
  l3 = svc(build(m), 'l3-router');
  t.same(l3.attrs?.ipv4_devices, ['lan1', 'lan2']);
  t.ok(l3.reasons.includes('wan0 has net.ipv4.conf.wan0.forwarding=0'));
});

t.test('optional services and capabilities', async (t) => {
  const m = gateway();
  let g = build(m, { epping: { enabled: true, devices: ['wan0'] }, queueing: { enabled: true, devices: ['wan0'] } });
  t.equal(svc(g, 'latency-monitor:wan0').verdict, 'accelerated');
  t.equal(svc(g, 'queueing:wan0').verdict, 'accelerated');
  t.equal(deviceRoles(g, m).get('wan0')?.epping, true);
  t.equal(deviceRoles(g, m).get('lan1')?.epping, false);
  g = build(m, { epping: { enabled: true } });
  t.same(g.services.filter((s) => s.kind === 'latency-monitor').map((s) => s.id), ['latency-monitor:lan1', 'latency-monitor:lan2', 'latency-monitor:wan0'], 'default: every accelerated ingress');
  const noFib: Capabilities = { ...caps, helpers: { ...caps.helpers, bpf_fib_lookup: false } };
  const l3 = svc(build(m, {}, noFib), 'l3-router');
  t.equal(l3.verdict, 'slow-path');
  t.ok(l3.reasons.includes('this kernel lacks bpf_fib_lookup'));
  t.equal(svc(build(m, {}, noFib), 'l2-bridge:br0').verdict, 'accelerated', 'L2 does not need it');
});

t.test('determinism, diff, DOT, fdb records', async (t) => {
  const m = gateway();
  const a = build(m);
  const b = buildGraph(m, caps, {}, 1);
  t.equal(JSON.stringify(a), JSON.stringify(b), 'same input, same JSON');
  const ids = a.nodes.map((n) => n.id);
  t.same(ids, [...ids].sort(), 'nodes sorted by id');
  for (const id of ['device:br0', 'bridge:br0', 'port:br0/lan1', 'fdb:br0', 'addresses', 'routes:main', 'routes:local', 'routes:100', 'routes:rules', 'neighbours', 'netfilter', 'sysctl', 'capabilities']) {
    t.ok(ids.includes(id), `node ${id}`);
  }
  t.ok(a.edges.some((e) => e.from === 'port:br0/lan1' && e.to === 'bridge:br0' && e.kind === 'member-of'));
  const m2 = gateway(['wan0 down']);
  const c = buildGraph(m2, caps, {}, 2);
  const d = diffGraphs(a, c, ['RTM_NEWLINK wan0']);
  t.equal(d.version, 2);
  t.ok(d.changed.includes('device:wan0'));
  t.ok(d.changed.includes('l3-router'));
  t.same(d.causes, ['RTM_NEWLINK wan0']);
  t.same(diffGraphs(a, b, []).changed, []);
  const dot = graphToDot(a);
  t.match(dot, /^digraph slipstream \{/);
  t.match(dot, /"l2-bridge:br0" -> "device:lan1"/);
  const fdb = bridgeFdb(a, m);
  t.ok(fdb.length > 0);
  t.ok(fdb.every((e) => e.bridgeIfindex === link(m, 'br0').ifindex));
  t.ok(fdb.some((e) => e.local && e.portIfindex === link(m, 'lan1').ifindex), 'a port\'s own address is local');
  t.notOk(fdb.some((e) => e.mac.startsWith('33:33')), 'no self (device) entries');
});

const scope = (o: Partial<NfRuleScope>): NfRuleScope => ({ iif: null, oif: null, effect: true, stateful: false, ...o });
const bounded = (...scopes: NfRuleScope[]): NfChain => chain({ rules: scopes.length, scopes });

t.test('L3: netfilter rules bounded to devices keep only that traffic on the slow path', async (t) => {
  const m = gateway();
  // Entering wan0 (IPv4 only: an ip-family chain).
  m.netfilter.chains = [{ ...bounded(scope({ iif: ['wan0'] })), family: 'ip' }];
  let g = build(m);
  let l3 = svc(g, 'l3-router');
  t.equal(l3.verdict, 'accelerated');
  t.same(l3.attrs, { ipv4: true, ipv6: true, ipv4_devices: ['lan1', 'lan2'], ipv6_devices: ['lan1', 'lan2', 'wan0'], port_rules: false });
  t.ok(l3.reasons.includes('IPv4 routed in through wan0 stays on the slow path: netfilter rules match traffic entering wan0 (ip f fwd)'), l3.reasons.join('\n'));
  t.same(deviceRoles(g, m).get('wan0')?.l3, { v4: false, v6: true });
  t.same(nodeAttrs(g, 'netfilter').ipv4_bound_in, ['wan0 (ip f fwd)']);

  // Entering the bridge: routed traffic from its ports enters through br0.
  m.netfilter.chains = [bounded(scope({ iif: ['br*'] }))];
  l3 = svc(build(m), 'l3-router');
  t.same(l3.attrs?.ipv4_devices, ['wan0']);
  t.same(l3.attrs?.ipv6_devices, ['wan0']);
  t.ok(l3.reasons.includes('IPv4 routed in through lan1 stays on the slow path: netfilter rules match traffic entering br0 (inet f fwd)'));

  // Leaving wan0: every ingress stays fast, wan0 is flagged for the per-packet check.
  m.netfilter.chains = [bounded(scope({ oif: ['wan0', 'ppp0'] }), scope({ effect: false }))];
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.same(l3.attrs?.ipv4_devices, ['lan1', 'lan2', 'wan0'], 'a plain accept without bound is no effect');
  t.ok(l3.reasons.includes('IPv4 routed out of wan0 stays on the slow path: netfilter rules match traffic leaving it (inet f fwd)'));
  t.same(deviceRoles(g, m).get('wan0')?.nfEgress, { v4: true, v6: true });
  t.same(deviceRoles(g, m).get('lan1')?.nfEgress, { v4: false, v6: false });
  t.equal(nodeAttrs(g, 'device:wan0').nf_egress_v4, true);

  // Never bounded: conntrack, a drop policy, a rule without a bound, NAT.
  const whole: Array<[string, NfChain, string]> = [
    ['conntrack', bounded(scope({ iif: ['wan0'], stateful: true })), 'netfilter uses connection tracking in the forward path (inet f fwd)'],
    ['an accept that reads conntrack', bounded(scope({ effect: false, stateful: true })), 'netfilter uses connection tracking in the forward path (inet f fwd)'],
    ['policy drop', { ...bounded(scope({ iif: ['wan0'] })), policy: 'drop' }, 'netfilter drops forwarded packets by default (inet f fwd: policy drop)'],
    ['a rule without a bound', bounded(scope({ iif: ['wan0'] }), scope({})), 'netfilter has rules in the forward path (inet f fwd)'],
    ['rules not read', chain({ rules: 2, scopes: [scope({ iif: ['wan0'] })] }), 'netfilter has rules in the forward path (inet f fwd)'],
  ];
  for (const [what, c, reason] of whole) {
    m.netfilter.chains = [c];
    l3 = svc(build(m), 'l3-router');
    t.equal(l3.verdict, 'slow-path', what);
    t.ok(l3.reasons.includes(reason), `${what}: ${l3.reasons.join('; ')}`);
  }

  // A rule on IPv4 header fields (or meta nfproto) in an inet chain leaves IPv6 alone.
  m.netfilter.chains = [bounded(scope({ family: 4 }), scope({ family: 6, iif: ['wan0'] }))];
  l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6_devices], [false, ['lan1', 'lan2']], 'IPv4 whole family, IPv6 only wan0');
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: netfilter has rules in the forward path (inet f fwd)'), l3.reasons.join('\n'));

  // iptables: -i/-o bound rules; conntrack anywhere in the forward-path tables does not.
  m.netfilter.chains = [];
  m.netfilter.iptables.v4 = parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -i wan0 -p tcp --dport 22 -j DROP\n-A FORWARD -o lan+ -j ACCEPT\nCOMMIT\n');
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.same(l3.attrs?.ipv4_devices, ['lan1', 'lan2']);
  t.same(deviceRoles(g, m).get('lan1')?.nfEgress, { v4: true, v6: false }, 'lan+ is a wildcard');
  m.netfilter.iptables.v4 = parseIptablesSave('*filter\n-A FORWARD -i wan0 -m conntrack --ctstate NEW -j DROP\nCOMMIT\n');
  l3 = svc(build(m), 'l3-router');
  t.equal(l3.attrs?.ipv4, false);
  t.ok(l3.reasons.includes('IPv4 stays on the slow path: iptables uses connection tracking (1 rule)'));
  m.netfilter.iptables.v4 = null;

  // br_netfilter: bridged packets pass the IP hooks with br0 as in and out device, so only
  // rules bounded to br0 (or unbounded ones) concern them.
  m.netfilter.chains = [bounded(scope({ iif: ['wan0'] }))];
  m.sysctls.bridgeNfCallIptables = true;
  t.equal(svc(build(m), 'l2-bridge:br0').verdict, 'accelerated', 'a rule bounded to wan0 never sees bridged frames');
  m.netfilter.chains = [bounded(scope({ oif: ['br*'] }))];
  const br = svc(build(m), 'l2-bridge:br0');
  t.equal(br.verdict, 'slow-path');
  t.ok(br.reasons.includes('br_netfilter passes bridged IPv4 to netfilter (net.bridge.bridge-nf-call-iptables=1) and netfilter rules match traffic through br0 (inet f fwd)'), br.reasons.join('\n'));
});

t.test('L3: bridge-family rules that routed frames pass', async (t) => {
  const m = gateway();
  const hooks: Array<[string, string[], boolean]> = [
    // hook, the devices routed traffic may enter through, br0 flagged for routed egress
    ['prerouting', ['wan0'], false],
    ['input', ['wan0'], false],
    ['forward', ['lan1', 'lan2', 'wan0'], false],
    ['output', ['lan1', 'lan2', 'wan0'], true],
    ['postrouting', ['lan1', 'lan2', 'wan0'], true],
  ];
  for (const [hook, devices, flagged] of hooks) {
    m.netfilter.chains = [chain({ family: 'bridge', table: 'b', name: 'c', hook })];
    const g = build(m);
    const l3 = svc(g, 'l3-router');
    t.same(l3.devices, devices, `${hook}: routed ingress`);
    t.equal(nodeAttrs(g, 'device:br0').nf_egress_v4, flagged, `${hook}: routed egress through br0`);
    t.equal(nodeAttrs(g, 'device:wan0').nf_egress_v4, false, `${hook}: other devices untouched`);
    if (hook === 'input') t.ok(l3.reasons.includes('routed traffic through br0 stays on the slow path: netfilter has bridge-family rules (bridge b c, input)'), l3.reasons.join('\n'));
    if (hook === 'output') t.ok(l3.reasons.includes('IPv4 routed out of br0 stays on the slow path: netfilter rules match traffic leaving it (bridge b c, output)'), l3.reasons.join('\n'));
  }
});

t.test('L3: bridge-family rules that routed frames pass, bounded to ports', async (t) => {
  const m = gateway();
  const rules = (hook: string, policy: string, ...exprs: unknown[][]): NfChain[] => parseNftJson(JSON.stringify({
    nftables: [
      { table: { family: 'bridge', name: 'b', handle: 1 } },
      { chain: { family: 'bridge', table: 'b', name: 'c', handle: 1, type: 'filter', hook, prio: 0, policy } },
      ...exprs.map((expr, i) => ({ rule: { family: 'bridge', table: 'b', chain: 'c', handle: 2 + i, expr } })),
    ],
  }));
  const meta = (key: string, name: string): unknown => ({ match: { op: '==', left: { meta: { key } }, right: name } });
  const udp = { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 7011 } };

  m.netfilter.chains = rules('prerouting', 'accept', [meta('iifname', 'lan2'), udp, { drop: null }]);
  let g = build(m);
  let l3 = svc(g, 'l3-router');
  t.same(l3.devices, ['lan1', 'wan0'], 'prerouting bounded to lan2: only lan2 stays with the kernel');
  t.ok(l3.reasons.includes('port lan2 is named by bridge-family rules that see routed frames (bridge b c, prerouting): traffic routed from it stays with the kernel'), l3.reasons.join('\n'));
  t.same(nodeAttrs(g, 'netfilter').bridge_routed_bound_in, ['lan2 (bridge b c, prerouting)']);
  t.equal(nodeAttrs(g, 'device:br0').nf_egress_v4, false, 'a prerouting bound says nothing about egress');

  m.netfilter.chains = rules('input', 'accept', [meta('oifname', 'lan2'), { drop: null }]);
  t.same(svc(build(m), 'l3-router').devices, ['wan0'], 'an oifname bound on the way in is no bound: the whole bridge');
  m.netfilter.chains = rules('input', 'drop', [meta('iifname', 'lan2'), { accept: null }]);
  t.same(svc(build(m), 'l3-router').devices, ['wan0'], 'a drop policy: the whole bridge');
  m.netfilter.chains = rules('input', 'accept', [meta('iifname', 'lan2'), { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'established' } }, { accept: null }]);
  t.same(svc(build(m), 'l3-router').devices, ['wan0'], 'conntrack: the whole bridge');

  m.netfilter.chains = rules('postrouting', 'accept', [meta('oifname', 'lan1'), udp, { drop: null }]);
  g = build(m);
  l3 = svc(g, 'l3-router');
  t.same(l3.devices, ['lan1', 'lan2', 'wan0'], 'postrouting bounded to lan1: routed ingress untouched');
  t.equal(nodeAttrs(g, 'device:lan1').nf_egress_v4, true, 'routed egress through lan1 flagged (l3-router checks the port it resolves)');
  t.equal(nodeAttrs(g, 'device:lan1').nf_egress_v6, true);
  t.equal(nodeAttrs(g, 'device:lan2').nf_egress_v4, false, 'lan2 not');
  t.equal(nodeAttrs(g, 'device:br0').nf_egress_v4, false, 'nor the bridge as a whole');
  t.ok(l3.reasons.includes('IPv4 routed out of lan1 stays on the slow path: netfilter rules match traffic leaving it (bridge b c, postrouting)'), l3.reasons.join('\n'));
  m.netfilter.chains = rules('output', 'accept', [udp, { drop: null }]);
  t.equal(nodeAttrs(build(m), 'device:br0').nf_egress_v4, true, 'an unbounded output rule still flags the bridge');
});

t.test('netdev chains: devices from the text, or every device', async (t) => {
  // nft 1.0.6 `nft list chains`; its JSON leaves the devices out.
  const text = [
    'table netdev ssnd {', '\tchain bin {',
    '\t\ttype filter hook ingress device "br0" priority filter; policy accept;', '\t}',
    '\tchain two {', '\t\ttype filter hook ingress devices = { br0, d1 } priority filter; policy accept;', '\t}',
    '}', 'table inet f {', '\tchain fw {', '\t\ttype filter hook forward priority filter; policy accept;', '\t}', '}', '',
  ].join('\n');
  t.same([...parseNftChainDevices(text)], [['netdev|ssnd|bin', ['br0']], ['netdev|ssnd|two', ['br0', 'd1']]]);
  const m = gateway();
  m.netfilter.chains = [chain({ family: 'netdev', table: 'n', name: 'in', hook: 'ingress', devices: ['*'] })];
  const g = build(m);
  t.same(svc(g, 'l3-router').devices, [], 'an ingress chain that could not be placed counts on every device');
  t.ok((nodeAttrs(g, 'device:wan0').ingress_reasons as string[]).includes('wan0 has an nftables ingress chain with rules (netdev n in)'));
  m.netfilter.chains = [chain({ family: 'netdev', table: 'n', name: 'in', hook: 'ingress', devices: ['br0'] })];
  t.same(svc(build(m), 'l3-router').devices, ['wan0'], 'one on br0 takes routing from its ports: routed frames enter IP through br0');
});

t.test('netfilter parsers', async (t) => {
  // Recorded from nft 1.0.6 (`nft -j list ruleset`): one forward chain, two regular chains.
  const [fw] = parseNftJson(fs.readFileSync(path.join(fixtureDir, 'nft-bounds.json'), 'utf8'));
  t.equal(fw.name, 'fw');
  t.equal(fw.rules, 13);
  t.same(fw.scopes, [
    scope({ iif: ['pc'] }), // iifname "pc" udp dport 9009 drop
    scope({ oif: ['eth*', 'pb'] }), // oifname { "pb", "eth*" } counter
    scope({ effect: false, family: 4 }), // ip saddr 198.18.0.1 accept
    scope({ iif: ['lo'] }), // iif "lo" jump sub2 (sub2: udp dport 53 drop)
    scope({}), // iifname != "pa" drop
    scope({}), // counter iifname "pa" drop: the counter sees every packet
    scope({ stateful: true }), // iifname vmap { "pz" : jump sub } (sub: ct state established accept)
    scope({ iif: ['pa'] }), // iifname @lanifs drop: its elements (nft reports their changes)
    scope({}), // oifname "eth\\*" drop: a literal star
    scope({ family: 6, oif: ['pd'], stateful: true }), // meta nfproto ipv6 oifname "pd" ct state new drop
    scope({ family: 6 }), // ip6 saddr 2001:2::1 counter
    scope({ iif: ['px'] }), // iifname "px" add @seen { iifname }
    scope({}), // iifname @seen drop: a set the packet path adds to
  ]);
  // The two IPv6-only rules, as the graph reads them: IPv4 routing is untouched.
  const m = gateway();
  m.netfilter.chains = [{ ...fw, rules: 2, scopes: fw.scopes?.slice(9, 11) }];
  const l3 = svc(build(m), 'l3-router');
  t.same([l3.attrs?.ipv4, l3.attrs?.ipv6], [true, false]);
  t.ok(l3.reasons.includes('IPv6 stays on the slow path: netfilter uses connection tracking in the forward path (inet f fw)'), l3.reasons.join('\n'));
  const s2 = parseIptablesSave([
    '*filter', ':FORWARD ACCEPT [0:0]', ':USER - [0:0]',
    '-A FORWARD -i wan0 -m comment --comment "not -o x" -j DROP',
    '-A FORWARD ! -i lan0 -j DROP',
    '-A FORWARD -o ppp+ -j USER',
    '-A USER -m state --state ESTABLISHED -j ACCEPT',
    'COMMIT', '',
  ].join('\n'));
  t.same(s2, {
    forward: { 'filter FORWARD': 1 }, nat: 0, stateful: 1,
    scoped: [{ chain: 'filter FORWARD', iif: ['wan0'], oif: null }, { chain: 'filter FORWARD', iif: null, oif: ['ppp*'] }],
  });

  const chains = parseNftJson(JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { table: { family: 'inet', name: 'f', handle: 1 } },
      { chain: { family: 'inet', table: 'f', name: 'fw', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
      { chain: { family: 'inet', table: 'f', name: 'helper', handle: 2 } },
      { chain: { family: 'netdev', table: 'n', name: 'in', handle: 1, type: 'filter', hook: 'ingress', prio: 0, policy: 'accept', dev: 'eth0' } },
      { rule: { family: 'inet', table: 'f', chain: 'fw', handle: 3, expr: [] } },
      { rule: { family: 'inet', table: 'f', chain: 'fw', handle: 4, expr: [] } },
      { rule: { family: 'inet', table: 'f', chain: 'helper', handle: 5, expr: [] } },
    ],
  }));
  t.same(chains.map((c) => [c.family, c.name, c.hook, c.rules, c.devices]), [['inet', 'fw', 'forward', 2, []], ['netdev', 'in', 'ingress', 0, ['eth0']]]);
  t.throws(() => parseNftJson('{"x":1}'));
  const s = parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n*mangle\n-A PREROUTING -j MARK --set-mark 1\nCOMMIT\n');
  t.same(s, { forward: { 'mangle PREROUTING': 1 }, nat: 1, scoped: [], stateful: 0 });
});
