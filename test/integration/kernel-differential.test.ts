// Transparency against the real kernel as the reference model: the same frames enter a
// port twice, once handed straight to the kernel (an XDP_PASS program run with live frames)
// and once through slipstream's root program on that port, with the daemon running. What
// arrives at the far host is captured with tcpdump each time and must be the same, byte
// for byte: frames the kernel forwards arrive identically, frames it drops, answers itself
// or keeps do not arrive at all.
import t, { type Test } from 'tap';
import * as path from 'path';
import { native, BPF_F_TEST_XDP_LIVE_FRAMES } from '../../controller/native';
import { bpfObjectPath } from '../../controller/util/paths';
import { Lab, gatewayLab, routerLab } from '../lab';
import { captureInbound } from '../lab/capture';
import { rootProgFd } from '../../bench/probe';
import { startDaemon, type DaemonHandle } from '../harness/daemon';
import { measure, nodeAttr, sleep, waitFor, waitGraph, type Delta } from '../harness/fastpath';
import { bridgedFrames, frameKey, multipathFrames, routedFrames, type DiffFrame } from './kernel-diff-frames';

interface Outcome {
  name: string;
  kernel: string[]; // hex of each copy the far host received
  slipstream: string[];
}

// Where frames enter (a port of the box) and where they are captured (a far host).
interface Way {
  ns: string; // the box
  ingress: { ifname: string; ifindex: number };
  far: { ns: string; ifname: string };
}

// One run's capture: the far host's frames by key, and the interface's count beside the file's.
interface Run {
  byKey: Map<string, string[]>;
  tally: string;
  complete: boolean; // tcpdump wrote every frame the interface received
}

// Sends every frame into the ingress port through progFd (live), returns what the far host received.
async function sendAll(lab: Lab, way: Way, progFd: number, frames: DiffFrame[]): Promise<Run> {
  const cap = await captureInbound(lab, way.far.ns, way.far.ifname);
  let got: Buffer[] = [];
  try {
    for (const f of frames) {
      await native.testRunAsync(progFd, { data: f.frame, repeat: 1, flags: BPF_F_TEST_XDP_LIVE_FRAMES, ingressIfindex: way.ingress.ifindex, netns: way.ns });
    }
    await sleep(300);
  } finally {
    got = await cap.stop();
  }
  const byKey = new Map<string, string[]>();
  for (const g of got) {
    const k = frameKey(g);
    if (k === null) continue;
    byKey.set(k, [...(byKey.get(k) ?? []), g.toString('hex')]);
  }
  const n = cap.tally;
  return { byKey, tally: n ? `${way.far.ifname} received ${n.received}, captured ${n.captured}` : 'no tally', complete: !!n && n.captured >= n.received };
}

async function generation(d: DaemonHandle): Promise<number> {
  return (await d.get<{ generation: number }>('/v1/status')).generation;
}

// A capture that fell short of what the far host received (tcpdump dropped frames on a
// loaded machine) measured nothing: the comparison runs again, up to this many times.
const CAPTURE_TRIES = 3;

// The two runs of a comparison, for the log when they differ: whether a capture fell short,
// and whether the daemon swapped pipelines mid-run.
async function compare(lab: Lab, way: Way, d: DaemonHandle, passFd: number, frames: DiffFrame[]): Promise<{ outcomes: Outcome[]; delta: Delta; runs: string }> {
  const root = rootProgFd(way.ns, way.ingress.ifindex);
  try {
    for (let attempt = 1; ; attempt++) {
      const kernel = await sendAll(lab, way, passFd, frames);
      let fast: Run = { byKey: new Map(), tally: 'not run', complete: false };
      const gen0 = await generation(d);
      const delta = await measure(d, [way.ingress.ifname], async () => {
        fast = await sendAll(lab, way, root, frames);
      });
      const gen1 = await generation(d);
      if ((!kernel.complete || !fast.complete) && attempt < CAPTURE_TRIES) continue;
      const outcomes = frames.map((f) => ({
        name: f.name,
        kernel: f.key ? (kernel.byKey.get(f.key) ?? []) : [],
        slipstream: f.key ? (fast.byKey.get(f.key) ?? []) : [],
      }));
      const runs = `kernel run: ${kernel.tally}; slipstream run: ${fast.tally}, generation ${gen0} -> ${gen1}; attempt ${attempt}`;
      return { outcomes, delta, runs };
    }
  } finally {
    native.closeFd(root);
  }
}

function checkSame(t: Test, outcomes: Outcome[], runs: string): void {
  let differ = false;
  for (const o of outcomes) {
    const fwd = o.kernel.length ? `forwarded (${o.kernel.length})` : 'not forwarded';
    if (!t.same(o.slipstream, o.kernel, `${o.name}: kernel ${fwd}, slipstream the same`)) differ = true;
  }
  if (differ) t.comment(`the runs differ: ${runs}`);
}

function loadPass(t: Test): number {
  const pass = native.openObject(bpfObjectPath(path.join('probe', 'xdp_pass.bpf.o')));
  t.teardown(() => pass.close());
  pass.load();
  return pass.program('ss_probe_pass').fd;
}

async function waitPipeline(d: DaemonHandle, ifname: string, fpm: string): Promise<void> {
  await waitFor(`${fpm} on ${ifname}`, async () => {
    const p = await d.get<{ pipelines: Array<{ ifname: string; fpms: string[] }> }>('/v1/pipelines');
    return p.pipelines.find((x) => x.ifname === ifname)?.fpms.includes(fpm);
  }, 20000);
}

t.test('router: the fast path forwards exactly what the kernel forwards, byte for byte', async (t) => {
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const rt = topo.router;
  const { hostA: a, hostB: b, portA, portB } = topo;
  // Permanent neighbours, so the kernel never queues a frame behind resolution; a route with
  // an MTU (not locked) for the fragmentation cases.
  lab.exec(rt, ['ip', 'neigh', 'replace', b.ip4, 'lladdr', b.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  lab.exec(rt, ['ip', '-6', 'neigh', 'replace', b.ip6, 'lladdr', b.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  lab.exec(rt, ['ip', 'route', 'add', '198.18.4.0/24', 'via', b.ip4, 'dev', portB.ifname, 'mtu', '1000']);
  // Multipath routes with two next hops on pb: the far host, and a second neighbour whose
  // frames the far host's capture sees too (by their destination MAC).
  const nh2 = { ip4: topo.subnetB.host4(3), ip6: topo.subnetB.host6(3), mac: '02:00:00:00:02:03' };
  lab.exec(rt, ['ip', 'neigh', 'replace', nh2.ip4, 'lladdr', nh2.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  lab.exec(rt, ['ip', '-6', 'neigh', 'replace', nh2.ip6, 'lladdr', nh2.mac, 'dev', portB.ifname, 'nud', 'permanent']);
  lab.exec(rt, ['ip', 'route', 'add', '198.18.6.0/24', 'nexthop', 'via', b.ip4, 'dev', portB.ifname, 'nexthop', 'via', nh2.ip4, 'dev', portB.ifname]);
  lab.exec(rt, ['ip', '-6', 'route', 'add', '2001:2:0:6::/64', 'nexthop', 'via', b.ip6, 'dev', portB.ifname, 'nexthop', 'via', nh2.ip6, 'dev', portB.ifname]);
  lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 0);
  lab.sysctl(rt, 'net.ipv6.fib_multipath_hash_policy', 0);
  lab.sysctl(rt, 'net.ipv4.conf.all.rp_filter', 0);
  lab.sysctl(rt, 'net.ipv4.conf.pa.rp_filter', 0);
  const passFd = loadPass(t);
  const d = await startDaemon({ netns: rt });
  t.teardown(() => d.stop());
  await waitPipeline(d, 'pa', 'l3-router');
  await waitGraph(d, 'route MTU on pb', (g) => nodeAttr(g, 'device:pb', 'route_mtu_v4') === 1000);

  const way: Way = { ns: rt, ingress: portA, far: { ns: b.ns, ifname: 'eth0' } };
  const path = {
    srcMac: a.mac, routerMac: portA.mac, src4: a.ip4, src6: a.ip6, dst4: b.ip4, dst6: b.ip6,
    routerOut4: portB.ip4, routerOut6: portB.ip6, inSubnet: topo.subnetA, outSubnet: topo.subnetB, mtuRouted4: '198.18.4.9',
  };
  const hosts = [...Array(8).keys()].map((i) => 10 + i * 17);
  const frames = [
    ...routedFrames(path),
    ...multipathFrames(path, hosts.map((h) => `198.18.6.${h}`), hosts.map((h) => `2001:2:0:6::${h.toString(16)}`)),
  ];

  await t.test('rp_filter off', async (t) => {
    const { outcomes, delta, runs } = await compare(lab, way, d, passFd, frames);
    checkSame(t, outcomes, runs);
    const forwarded = outcomes.filter((o) => o.kernel.length > 0).length;
    t.ok(forwarded >= 20, `the kernel forwarded ${forwarded} of ${frames.length} kinds of frame`);
    t.ok(delta.fast >= 15, `and slipstream fast-pathed ${delta.fast} of them (slow: ${JSON.stringify(delta.reasons)})`);
    t.ok((delta.reasons.mtu ?? 0) >= 2, 'the route MTU sent the large ones to the kernel');
    const ecmp = outcomes.filter((o) => o.name.startsWith('ecmp') && o.name.includes('udp'));
    const viaNh2 = ecmp.filter((o) => o.kernel.some((x) => x.startsWith(nh2.mac.replace(/:/g, '')))).length;
    t.ok(viaNh2 > 0 && viaNh2 < ecmp.length, `the multipath routes spread the flows over both next hops (${viaNh2} of ${ecmp.length} via the second)`);
    t.ok((delta.reasons.icmp_error ?? 0) >= 16, 'ICMP errors went to the kernel');
  });

  await t.test('the IPv6 MTU of the egress device below its link MTU', async (t) => {
    lab.sysctl(rt, `net.ipv6.conf.${portB.ifname}.mtu`, 1280);
    t.teardown(() => lab.sysctl(rt, `net.ipv6.conf.${portB.ifname}.mtu`, 1500));
    const { outcomes, delta, runs } = await compare(lab, way, d, passFd, frames.filter((f) => f.name.startsWith('v6')));
    checkSame(t, outcomes, runs);
    t.equal(outcomes.find((o) => o.name === 'v6 large')?.kernel.length, 0, 'the kernel holds IPv6 to mtu6');
    t.ok((delta.reasons.fib_frag_needed ?? 0) >= 1, `and so does the lookup (${JSON.stringify(delta.reasons)})`);
  });

  await t.test('policy rules on ports, protocol and TOS', async (t) => {
    // Each sends some of the far host's traffic to the second next hop instead.
    const rules = [
      ['dport', '9300', 'ipproto', 'udp', 'table', '100', 'prio', '100'],
      ['sport', '40100-40200', 'table', '100', 'prio', '101'],
      ['tos', '0x10', 'table', '100', 'prio', '102'],
    ];
    for (const fam of ['-4', '-6']) {
      for (const r of rules) lab.exec(rt, ['ip', fam, 'rule', 'add', ...r]);
    }
    lab.exec(rt, ['ip', 'route', 'add', topo.subnetB.v4, 'via', nh2.ip4, 'dev', portB.ifname, 'table', '100']);
    lab.exec(rt, ['ip', '-6', 'route', 'add', topo.subnetB.v6, 'via', nh2.ip6, 'dev', portB.ifname, 'table', '100']);
    t.teardown(() => {
      for (const fam of ['-4', '-6']) {
        for (const prio of ['100', '101', '102']) lab.exec(rt, ['ip', fam, 'rule', 'del', 'prio', prio]);
        lab.exec(rt, ['ip', fam, 'route', 'flush', 'table', '100']);
      }
    });
    await waitGraph(d, 'rules seen', (g) => (g.services.find((s) => s.id === 'l3-router')?.reasons ?? []).some((r) => r.includes('3 IPv6 policy rules')));
    await sleep(500);
    const { outcomes, delta, runs } = await compare(lab, way, d, passFd, frames.filter((f) => !f.name.startsWith('ecmp')));
    checkSame(t, outcomes, runs);
    const steered = outcomes.filter((o) => o.kernel.some((x) => x.startsWith(nh2.mac.replace(/:/g, '')))).length;
    t.ok(steered >= 6, `the rules steered ${steered} kinds of frame to the second next hop`);
    t.ok(delta.fast >= 15, `fast-pathed ${delta.fast} (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('multipath hash policy 1 (L4): IPv4 routing goes to the kernel', async (t) => {
    lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 1);
    t.teardown(() => lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 0));
    const g = await waitGraph(d, 'policy 1 seen', (x) => nodeAttr(x, 'sysctl', 'fib_multipath_hash_policy_v4') === 1 && x.services.some((s) => s.id === 'l3-router' && s.attrs?.ipv4 === false), 15000);
    t.match(g.services.find((s) => s.id === 'l3-router')?.reasons.join('\n'), /IPv4 multipath route with net\.ipv4\.fib_multipath_hash_policy=1/);
    await sleep(300);
    const { outcomes, delta, runs } = await compare(lab, way, d, passFd, frames.filter((f) => f.name.startsWith('ecmp v4') || f.name === 'v4 udp'));
    checkSame(t, outcomes, runs);
    t.equal(delta.fast, 0, `nothing routed in XDP (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('nexthop objects under nexthop_compat_mode=0', async (t) => {
    // The routes name only their nexthop objects: the MTU route and the multipath routes
    // are rebuilt on them, and the model must learn devices and groups from the objects.
    lab.sysctl(rt, 'net.ipv4.nexthop_compat_mode', 0);
    lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '41', 'via', b.ip4, 'dev', portB.ifname]);
    lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '42', 'via', nh2.ip4, 'dev', portB.ifname]);
    lab.exec(rt, ['ip', 'nexthop', 'add', 'id', '40', 'group', '41/42']);
    lab.exec(rt, ['ip', 'route', 'replace', '198.18.4.0/24', 'nhid', '41', 'mtu', '1000']);
    lab.exec(rt, ['ip', 'route', 'replace', '198.18.6.0/24', 'nhid', '40']);
    t.teardown(() => {
      lab.exec(rt, ['ip', 'route', 'replace', '198.18.4.0/24', 'via', b.ip4, 'dev', portB.ifname, 'mtu', '1000']);
      lab.exec(rt, ['ip', 'route', 'replace', '198.18.6.0/24', 'nexthop', 'via', b.ip4, 'dev', portB.ifname, 'nexthop', 'via', nh2.ip4, 'dev', portB.ifname]);
      for (const id of ['40', '41', '42']) lab.exec(rt, ['ip', 'nexthop', 'del', 'id', id]);
      lab.sysctl(rt, 'net.ipv4.nexthop_compat_mode', 1);
    });
    // The MTU stays 1000 throughout; give the daemon time to see the new routes.
    await sleep(500);
    await waitGraph(d, 'route MTU on pb', (g) => nodeAttr(g, 'device:pb', 'route_mtu_v4') === 1000);
    const v4 = frames.filter((f) => f.name.startsWith('v4') || f.name.startsWith('ecmp v4'));
    let { outcomes, delta, runs } = await compare(lab, way, d, passFd, v4);
    checkSame(t, outcomes, runs);
    t.ok((delta.reasons.mtu ?? 0) >= 2, `the route MTU sent the large ones to the kernel (${JSON.stringify(delta.reasons)})`);
    t.ok(delta.fast >= 15, `fast-pathed ${delta.fast}`);
    lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 1);
    t.teardown(() => lab.sysctl(rt, 'net.ipv4.fib_multipath_hash_policy', 0));
    await waitGraph(d, 'the group is multipath under policy 1', (x) => x.services.some((s) => s.id === 'l3-router' && s.attrs?.ipv4 === false), 15000);
    await sleep(300);
    ({ outcomes, delta, runs } = await compare(lab, way, d, passFd, frames.filter((f) => f.name.startsWith('ecmp v4'))));
    checkSame(t, outcomes, runs);
    t.equal(delta.fast, 0, `nothing routed in XDP (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('rp_filter strict', async (t) => {
    lab.sysctl(rt, 'net.ipv4.conf.all.rp_filter', 1);
    t.teardown(() => lab.sysctl(rt, 'net.ipv4.conf.all.rp_filter', 0));
    await waitGraph(d, 'rp_filter seen', (g) => nodeAttr(g, 'sysctl', 'rp_filter_all') === 1, 15000);
    await sleep(300);
    const { outcomes, runs } = await compare(lab, way, d, passFd, frames);
    checkSame(t, outcomes, runs);
    const spoofed = outcomes.find((o) => o.name.includes('source is the far host (rp_filter'))!;
    t.equal(spoofed.kernel.length, 0, 'strict rp_filter: the kernel drops a source that routes back elsewhere');
  });

  await t.test('proxy NDP for the far host', async (t) => {
    lab.sysctl(rt, 'net.ipv6.conf.all.proxy_ndp', 1);
    lab.exec(rt, ['ip', '-6', 'neigh', 'add', 'proxy', b.ip6, 'dev', 'pa']);
    t.teardown(() => {
      lab.exec(rt, ['ip', '-6', 'neigh', 'del', 'proxy', b.ip6, 'dev', 'pa']);
      lab.sysctl(rt, 'net.ipv6.conf.all.proxy_ndp', 0);
    });
    const { outcomes, delta, runs } = await compare(lab, way, d, passFd, frames.filter((f) => f.name.startsWith('v6')));
    checkSame(t, outcomes, runs);
    const ns = outcomes.find((o) => o.name.includes('neighbour solicitation'))!;
    t.equal(ns.kernel.length, 0, 'the kernel answers a solicitation for a proxied address itself');
    t.ok((delta.reasons.ndp ?? 0) >= 4, `neighbour discovery went to the kernel (${JSON.stringify(delta.reasons)})`);
  });
});

t.test('gateway: routing through the LAN bridge and bridging within it, as the kernel does', async (t) => {
  const lab = new Lab({ t });
  const topo = gatewayLab(lab, { lanHosts: 2 });
  const { gw, wan, wanHost, lanHosts, lanPorts, bridge } = topo;
  const [l1, l2] = lanHosts;
  lab.exec(gw, ['ip', 'neigh', 'replace', wanHost.ip4, 'lladdr', wanHost.mac, 'dev', 'wan0', 'nud', 'permanent']);
  lab.exec(gw, ['ip', '-6', 'neigh', 'replace', wanHost.ip6, 'lladdr', wanHost.mac, 'dev', 'wan0', 'nud', 'permanent']);
  lab.exec(gw, ['ip', 'neigh', 'replace', l1.ip4, 'lladdr', l1.mac, 'dev', 'br0', 'nud', 'permanent']);
  lab.exec(gw, ['ip', '-6', 'neigh', 'replace', l1.ip6, 'lladdr', l1.mac, 'dev', 'br0', 'nud', 'permanent']);
  for (const [h, p] of [[l1, lanPorts[0]], [l2, lanPorts[1]]] as const) lab.exec(gw, ['bridge', 'fdb', 'replace', h.mac, 'dev', p.ifname, 'master', 'static']);
  lab.exec(gw, ['ip', 'route', 'add', '198.18.4.0/24', 'via', wanHost.ip4, 'dev', 'wan0', 'mtu', '1000']);
  lab.exec(gw, ['ip', 'route', 'add', '198.18.5.0/24', 'via', l1.ip4, 'dev', 'br0', 'mtu', '1000']);
  const passFd = loadPass(t);
  const d = await startDaemon({ netns: gw });
  t.teardown(() => d.stop());
  await waitPipeline(d, 'lan1', 'l2-bridge');
  await waitPipeline(d, 'lan1', 'l3-router');
  await waitPipeline(d, 'wan0', 'l3-router');
  await waitGraph(d, 'route MTUs', (g) => nodeAttr(g, 'device:br0', 'route_mtu_v4') === 1000 && nodeAttr(g, 'device:wan0', 'route_mtu_v4') === 1000);

  await t.test('LAN to WAN, routed from a bridge port', async (t) => {
    const frames = routedFrames({
      srcMac: l1.mac, routerMac: bridge.mac, src4: l1.ip4, src6: l1.ip6, dst4: wanHost.ip4, dst6: wanHost.ip6,
      routerOut4: wan.ip4, routerOut6: wan.ip6, inSubnet: topo.lanSubnet, outSubnet: topo.wanSubnet, mtuRouted4: '198.18.4.9',
    });
    const { outcomes, delta, runs } = await compare(lab, { ns: gw, ingress: lanPorts[0], far: { ns: wanHost.ns, ifname: 'eth0' } }, d, passFd, frames);
    checkSame(t, outcomes, runs);
    t.ok(delta.fast >= 15, `fast-pathed ${delta.fast} (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('WAN to LAN, routed out through the bridge to a port', async (t) => {
    const frames = routedFrames({
      srcMac: wanHost.mac, routerMac: wan.mac, src4: wanHost.ip4, src6: wanHost.ip6, dst4: l1.ip4, dst6: l1.ip6,
      routerOut4: bridge.ip4, routerOut6: bridge.ip6, inSubnet: topo.wanSubnet, outSubnet: topo.lanSubnet, mtuRouted4: '198.18.5.9',
    });
    const { outcomes, delta, runs } = await compare(lab, { ns: gw, ingress: wan, far: { ns: l1.ns, ifname: 'eth0' } }, d, passFd, frames);
    checkSame(t, outcomes, runs);
    t.ok(delta.fast >= 15, `fast-pathed ${delta.fast} (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('bridged between two LAN hosts', async (t) => {
    const sameSide = '02:00:00:00:0a:11';
    lab.exec(gw, ['bridge', 'fdb', 'replace', sameSide, 'dev', lanPorts[0].ifname, 'master', 'static']);
    t.teardown(() => lab.exec(gw, ['bridge', 'fdb', 'del', sameSide, 'dev', lanPorts[0].ifname, 'master']));
    const frames = bridgedFrames({ srcMac: l1.mac, dstMac: l2.mac, sameSideMac: sameSide, bridgeMac: bridge.mac, src4: l1.ip4, dst4: l2.ip4, src6: l1.ip6, dst6: l2.ip6 });
    const { outcomes, delta, runs } = await compare(lab, { ns: gw, ingress: lanPorts[0], far: { ns: l2.ns, ifname: 'eth0' } }, d, passFd, frames);
    checkSame(t, outcomes, runs);
    t.ok(delta.fast >= 5, `fast-pathed ${delta.fast} (slow: ${JSON.stringify(delta.reasons)})`);
  });
});
