// The model's NEW/DEL handling on recorded netlink messages (test/fixtures/*.json, recorded
// from lab namespaces by test/fixtures/record.ts) and crafted ones.
import t from 'tap';
import { splitMessages } from '../../controller/model/decode';
import { countDiff, diffModels } from '../../controller/model/store';
import { emptyModel, type KernelModel, type Link } from '../../controller/model/types';
import { globMatch, ipString, macString } from '../../controller/model/addr';
import { apply, bridgeData, bridgePortData, fdbMessage, linkMessage, loadFixture, nexthopMessage, nhRouteMessage, qdiscMessage } from '../fixtures/helpers';

function link(m: KernelModel, name: string): Link {
  const l = [...m.links.values()].find((x) => x.name === name);
  if (!l) throw new Error(`no link ${name}`);
  return l;
}

t.test('splitMessages walks a datagram with several messages and stops at garbage', async (t) => {
  const a = linkMessage({ ifindex: 5, name: 'x' });
  const mk = (p: Buffer, type: number): Buffer => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16 + p.length, 0);
    h.writeUInt16LE(type, 4);
    h.writeUInt16LE(2, 6);
    h.writeUInt32LE(7, 8);
    const pad = Buffer.alloc((4 - (p.length % 4)) % 4);
    return Buffer.concat([h, p, pad]);
  };
  const dgram = Buffer.concat([mk(a.payload, 16), mk(a.payload, 17), Buffer.from([1, 2, 3])]);
  const msgs = splitMessages(dgram);
  t.equal(msgs.length, 2);
  t.same(msgs.map((m) => m.type), [16, 17]);
  t.equal(msgs[0].seq, 7);
  t.equal(msgs[1].payload.length, a.payload.length);
});

t.test('address formatting', async (t) => {
  t.equal(ipString(Buffer.from([198, 18, 1, 2])), '198.18.1.2');
  t.equal(ipString(Buffer.from('20010002000000010000000000000001', 'hex')), '2001:2:0:1::1');
  t.equal(ipString(Buffer.from('fe800000000000000000000000000000', 'hex')), 'fe80::');
  t.equal(ipString(Buffer.alloc(16)), '::');
  t.equal(ipString(Buffer.from('00000000000000000000000000000001', 'hex')), '::1');
  t.equal(ipString(Buffer.from('20010db8000000010000000100000001', 'hex')), '2001:db8:0:1:0:1:0:1');
  t.equal(macString(Buffer.from([2, 0, 0, 0, 0, 0x1f])), '02:00:00:00:00:1f');
  t.ok(globMatch('eth*', 'eth0'));
  t.ok(globMatch('p?', 'p1'));
  t.notOk(globMatch('p?', 'p10'));
  t.ok(globMatch('*', 'anything'));
  t.notOk(globMatch('lan*', 'wan0'));
});

t.test('bridge3 dump: links, kinds, port states, FDB, qdiscs', async (t) => {
  const steps = loadFixture('bridge3');
  const m = emptyModel();
  apply(m, steps[0].messages);
  const br = link(m, 'br0');
  t.equal(br.kind, 'bridge');
  t.equal(br.bridge?.vlanFiltering, false);
  t.equal(br.bridge?.stpState, 0);
  for (const p of ['p1', 'p2', 'p3']) {
    const l = link(m, p);
    t.equal(l.kind, 'veth', `${p} is a veth`);
    t.equal(l.master, br.ifindex, `${p} is a port of br0`);
    t.ok(l.port, `${p} has port attrs`);
  }
  t.equal(link(m, 'p1').port?.state, 'forwarding');
  t.equal(link(m, 'p3').adminUp, false);
  t.equal(link(m, 'p3').port?.state, 'disabled');
  t.equal(link(m, 'lo').kind, 'other');
  t.match(link(m, 'p1').mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  const brFdb = [...m.fdb.values()].filter((e) => e.master === br.ifindex);
  t.ok(brFdb.some((e) => e.flags.local && e.ifindex === link(m, 'p1').ifindex), 'p1 own MAC is a local entry');
  t.ok([...m.fdb.values()].some((e) => e.flags.self && e.master === 0), 'self entries are kept apart');
  const roots = [...m.qdiscs.values()].filter((q) => q.ifindex === link(m, 'p1').ifindex && q.root);
  t.equal(roots.length, 1);
  t.equal(roots[0].kind, 'noqueue');
  t.ok([...m.routes.values()].some((r) => r.family === 6 && r.table === 255), 'local table IPv6 routes');
});

t.test('bridge3 events: each step changes exactly what it should', async (t) => {
  const steps = loadFixture('bridge3');
  const m = emptyModel();
  apply(m, steps[0].messages);
  const byLabel = new Map(steps.map((s) => [s.label, s.messages]));
  const step = (label: string): string[] => apply(m, byLabel.get(label)!);

  let causes = step('p3 up');
  t.equal(link(m, 'p3').adminUp, true);
  t.ok(causes.some((c) => c.startsWith('RTM_NEWLINK p3')), 'cause names p3');

  causes = step('p2 STP disabled');
  t.equal(link(m, 'p2').port?.state, 'disabled', 'AF_BRIDGE RTM_NEWLINK updates the port state');
  t.equal(link(m, 'p2').adminUp, true, 'the link itself is untouched');
  t.same(causes, ['RTM_NEWLINK p2 (port disabled)']);
  step('p2 forwarding');
  t.equal(link(m, 'p2').port?.state, 'forwarding');

  const p1 = link(m, 'p1').ifindex;
  step('htb on p1');
  let roots = [...m.qdiscs.values()].filter((q) => q.ifindex === p1 && q.root);
  t.same(roots.map((q) => [q.kind, q.handle]), [['htb', 0x10000]], 'htb replaced noqueue as the only root');
  step('htb off p1');
  roots = [...m.qdiscs.values()].filter((q) => q.ifindex === p1 && q.root);
  t.same(roots, [], 'no root qdisc recorded after the delete (default)');

  step('static fdb on p1');
  const st = [...m.fdb.values()].find((e) => e.mac === '02:00:00:00:00:01');
  t.ok(st?.flags.static, 'static entry');
  t.equal(st?.ifindex, p1);
  t.equal(st?.master, link(m, 'br0').ifindex);

  step('p1 leaves br0');
  t.equal(link(m, 'p1').master, 0);
  t.equal(link(m, 'p1').port, null, 'AF_BRIDGE RTM_DELLINK clears the port, keeps the link');
  t.ok(m.links.has(p1), 'p1 still exists');
  t.notOk([...m.fdb.values()].some((e) => e.ifindex === p1 && e.master !== 0), 'its bridge FDB entries are gone');

  const p2 = link(m, 'p2').ifindex;
  causes = step('delete p2');
  t.notOk(m.links.has(p2), 'p2 deleted');
  t.notOk([...m.qdiscs.values()].some((q) => q.ifindex === p2), 'its qdiscs went with it');
  t.notOk([...m.addresses.values()].some((a) => a.ifindex === p2), 'and its addresses');
  t.ok(causes.includes('RTM_DELLINK p2'));

  step('ingress filter on p3');
  const p3 = link(m, 'p3').ifindex;
  t.ok([...m.qdiscs.values()].some((q) => q.ifindex === p3 && q.kind === 'clsact' && q.ingress), 'clsact recorded');
  const f = [...m.filters.values()].filter((x) => x.ifindex === p3);
  t.equal(f.length, 1, 'the bpf filter is recorded from its event');
  t.equal(f[0].kind, 'bpf');
  t.equal(f[0].name, 'tc_count.bpf.o:[tc]', 'cls_bpf name decoded from TCA_OPTIONS');
});

t.test('gateway dump and events: routes, multipath, rules, addresses', async (t) => {
  const steps = loadFixture('gateway');
  const m = emptyModel();
  apply(m, steps[0].messages);
  const mp = [...m.routes.values()].find((r) => r.dst === '198.18.31.0');
  t.ok(mp, 'multipath route present');
  t.equal(mp?.nexthops.length, 2);
  t.same(mp?.nexthops.map((h) => h.weight).sort(), [1, 2]);
  t.same(mp?.nexthops.map((h) => h.gateway).sort(), ['198.18.10.11', '198.18.20.2']);
  const custom = [...m.rules.values()].filter((r) => !r.isDefault);
  t.equal(custom.length, 1, 'one non-default rule');
  t.equal(custom[0].priority, 100);
  t.equal(custom[0].table, 100);
  t.equal(custom[0].src, '198.18.10.0');
  t.equal([...m.rules.values()].filter((r) => r.isDefault && r.family === 4).length, 3, 'three default IPv4 rules');
  t.ok([...m.routes.values()].some((r) => r.table === 100 && r.dstLen === 0), 'default route in table 100');

  const by = new Map(steps.map((s) => [s.label, s.messages]));
  const n = m.routes.size;
  t.same(apply(m, by.get('route add')!), ['RTM_NEWROUTE 198.18.32.0/24']);
  t.equal(m.routes.size, n + 1);
  t.same(apply(m, by.get('route del')!), ['RTM_DELROUTE 198.18.32.0/24']);
  t.equal(m.routes.size, n);
  apply(m, by.get('addr del br0')!);
  t.notOk([...m.addresses.values()].some((a) => a.address === '198.18.10.1'), 'address gone');
  t.notOk([...m.routes.values()].some((r) => r.dst === '198.18.10.0' && r.table === 254), 'its prefix route gone');
  apply(m, by.get('fwmark rule')!);
  t.ok([...m.rules.values()].some((r) => r.fwmark === 1 && r.priority === 200), 'fwmark rule recorded');
  apply(m, by.get('wan0 down')!);
  t.equal(link(m, 'wan0').adminUp, false);
});

t.test('repeats change nothing; NEW after DEL restores', async (t) => {
  const steps = loadFixture('bridge3');
  const m = emptyModel();
  apply(m, steps[0].messages);
  t.same(apply(m, steps[0].messages), [], 'a second identical dump is a no-op');
  const m2 = emptyModel();
  apply(m2, steps[0].messages);
  t.equal(countDiff(diffModels(m, m2)), 0, 'two models from the same messages are equal');
  apply(m2, loadFixture('bridge3').find((s) => s.label === 'p2 STP disabled')!.messages);
  const d = diffModels(m, m2);
  t.equal(countDiff(d), 1);
  t.equal(d.links.changed.length, 1);
});

t.test('crafted: AF_BRIDGE port messages, vlan_filtering bridge, unknown link before its port info', async (t) => {
  const m = emptyModel();
  apply(m, [linkMessage({ ifindex: 10, name: 'br9', kind: 'bridge', data: bridgeData({ vlanFiltering: true, stp: 1 }) })]);
  t.equal(link(m, 'br9').bridge?.vlanFiltering, true);
  t.equal(link(m, 'br9').bridge?.stpState, 1);
  // A port state for an ifindex we don't know yet is ignored (its AF_UNSPEC message follows).
  t.same(apply(m, [linkMessage({ ifindex: 11, name: 'e1', family: 7, master: 10, protinfo: new Map([[1, Buffer.from([3])]]) })]), []);
  apply(m, [linkMessage({ ifindex: 11, name: 'e1', master: 10, slaveKind: 'bridge', slaveData: bridgePortData(1) })]);
  t.equal(link(m, 'e1').port?.state, 'listening');
  apply(m, [linkMessage({ ifindex: 11, name: 'e1', family: 7, master: 10, protinfo: new Map([[1, Buffer.from([3])], [33, Buffer.from([1])]]) })]);
  t.equal(link(m, 'e1').port?.state, 'forwarding');
  t.equal(link(m, 'e1').port?.isolated, true);
  apply(m, [linkMessage({ ifindex: 11, name: 'e1', family: 7 }, 17)]);
  t.ok(m.links.has(11), 'AF_BRIDGE DELLINK keeps the device');
  t.equal(link(m, 'e1').port, null);
  apply(m, [qdiscMessage(11, 'tbf', 0x10000, 0xffffffff), qdiscMessage(11, 'pfifo', 0x20000, 0x10001)]);
  t.equal([...m.qdiscs.values()].filter((q) => q.ifindex === 11).length, 2);
  apply(m, [qdiscMessage(11, 'tbf', 0x10000, 0xffffffff, 37)]);
  t.equal([...m.qdiscs.values()].filter((q) => q.ifindex === 11).length, 0, 'deleting the root drops its children');
  apply(m, [linkMessage({ ifindex: 11, name: 'e1' }, 17)]);
  t.notOk(m.links.has(11));
});

t.test('nexthop objects: decode, groups, and what the kernel removes with them silently', async (t) => {
  const m = emptyModel();
  apply(m, [linkMessage({ ifindex: 5, name: 'wan0' }), linkMessage({ ifindex: 6, name: 'wan1' })]);
  apply(m, [nexthopMessage(1, { ifindex: 5, gateway: '198.18.20.2' }), nexthopMessage(2, { ifindex: 6, gateway: '198.18.21.2' }),
    nexthopMessage(10, { group: [1, 2] })]);
  t.same(m.nexthops.get('1'), { key: '1', id: 1, ifindex: 5, gateway: '198.18.20.2', group: [], blackhole: false, fdb: false });
  t.same(m.nexthops.get('10')?.group, [1, 2]);
  apply(m, [nhRouteMessage('198.19.0.0/24', 10), nhRouteMessage('198.19.1.0/24', 2), nhRouteMessage('198.19.2.0/24', 1)]);
  const nhIds = (): number[] => [...m.routes.values()].map((r) => r.nhId).sort((a, b) => a - b);
  t.same(nhIds(), [1, 2, 10], 'routes keep their nhid and list no next hops of their own');
  t.same([...m.routes.values()].map((r) => r.nexthops.length), [0, 0, 0]);
  t.same(apply(m, [nexthopMessage(10, { group: [1, 2] })]), [], 'a repeat changes nothing');

  // wan1 loses its carrier: nexthop 2 goes, group 10 keeps member 1, the route through 2 goes.
  apply(m, [linkMessage({ ifindex: 6, name: 'wan1', up: false })]);
  t.notOk(m.nexthops.has('2'));
  t.same(m.nexthops.get('10')?.group, [1]);
  t.same(nhIds(), [1, 10]);
  // Deleting nexthop 1 empties the group: both go, with every route using them.
  t.same(apply(m, [nexthopMessage(1, {}, 105)]).length, 1);
  t.same([...m.nexthops.keys()], []);
  t.same(nhIds(), []);
  t.same(apply(m, [nexthopMessage(1, {}, 105)]), [], 'deleting it again changes nothing');

  // A device that disappears takes its nexthops along.
  apply(m, [nexthopMessage(3, { ifindex: 5, gateway: '198.18.20.3' }), nhRouteMessage('198.19.3.0/24', 3)]);
  apply(m, [linkMessage({ ifindex: 5, name: 'wan0' }, 17)]);
  t.same([m.nexthops.size, m.routes.size], [0, 0]);
});

t.test('a MAC that moves between ports is one FDB entry, on its latest port', async (t) => {
  const m = emptyModel();
  const br = 10, p1 = 11, p3 = 13;
  const mac = '02:00:5e:00:01:01';
  const entries = (): Array<[number, number]> => [...m.fdb.values()].filter((e) => e.mac === mac).map((e) => [e.master, e.ifindex]);
  apply(m, [fdbMessage({ ifindex: p1, mac, master: br })]);
  t.same(entries(), [[br, p1]], 'learned on p1');
  // The kernel moves the entry (br_fdb_update): a NEWNEIGH on the new port, no DELNEIGH.
  apply(m, [fdbMessage({ ifindex: p3, mac, master: br })]);
  t.same(entries(), [[br, p3]], 'moved to p3: nothing left on p1');
  apply(m, [fdbMessage({ ifindex: p1, mac, master: br })]);
  t.same(entries(), [[br, p1]], 'and back to p1');
  apply(m, [fdbMessage({ ifindex: 12, mac, master: 20 })]);
  t.equal(entries().length, 2, 'the same MAC on another bridge is another entry');
  apply(m, [fdbMessage({ ifindex: p1, mac, master: br }, 29)]);
  t.same(entries(), [[20, 12]], 'aged out of br: gone');
  // A device's own (self) entries stay per device.
  apply(m, [fdbMessage({ ifindex: p1, mac, master: 0, ntf: 0x02 }), fdbMessage({ ifindex: p3, mac, master: 0, ntf: 0x02 })]);
  t.equal([...m.fdb.values()].filter((e) => e.mac === mac && e.flags.self).length, 2, 'self entries of two devices');
});
