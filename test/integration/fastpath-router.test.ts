// Transparency, scenario 2: a router between two subnets, IPv4 and IPv6. Routing changes made
// with ip/nft/tc are followed at once; nothing is forwarded on a route the kernel no longer has.
import t from 'tap';
import { Lab, iperf3Client, iperf3Server, ping, routerLab } from '../lab';
import { startDaemon } from '../harness/daemon';
import { deliver, measure, nodeAttr, service, sleep, waitFor, waitGraph } from '../harness/fastpath';

t.test('router between two subnets', async (t) => {
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const rt = topo.router;
  const { hostA: a, hostB: b, portA, portB } = topo;
  const devs = [portA.ifname, portB.ifname];

  t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7101, 200), 200, 'kernel forwards IPv4');
  t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7101, 200), 200, 'kernel forwards IPv6');

  const d = await startDaemon({ netns: rt });
  t.teardown(() => d.stop());
  const pipes = await d.get<{ pipelines: Array<{ ifname: string; fpms: string[] }> }>('/v1/pipelines');
  for (const p of devs) t.same(pipes.pipelines.find((x) => x.ifname === p)?.fpms, ['parse', 'l3-router'], `${p}: parse > l3-router`);

  await t.test('delivery unchanged, IPv4 and IPv6 on the fast path', async (t) => {
    t.equal((await ping(a.ns, b.ip4, { count: 10, interval: 0.02 })).received, 10, 'ping');
    t.equal((await ping(a.ns, b.ip6, { count: 10, interval: 0.02 })).received, 10, 'ping6');
    const v4 = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7102, 300), 300, 'UDP v4'));
    t.ok(v4.fast >= 300, `UDP v4 fast-pathed (${v4.fast}, slow ${JSON.stringify(v4.reasons)})`);
    const v6 = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7102, 300), 300, 'UDP v6'));
    t.ok(v6.fast >= 300, `UDP v6 fast-pathed (${v6.fast}, slow ${JSON.stringify(v6.reasons)})`);
    const srv = iperf3Server(lab, b.ns, 5201);
    await srv.ready;
    const tcp = await measure(d, devs, () => iperf3Client(a.ns, b.ip4, { seconds: 2 }));
    const share = tcp.fast / (tcp.fast + tcp.slow);
    t.ok(tcp.fast > 1000 && share >= 0.95, `TCP fast-path share ${share.toFixed(4)} (${tcp.fast} fast, slow ${JSON.stringify(tcp.reasons)})`);
  });

  await t.test('route change: a blackhole route wins at once, and its removal too', async (t) => {
    lab.exec(rt, ['ip', 'route', 'add', 'blackhole', `${b.ip4}/32`]);
    await waitGraph(d, 'route seen', (g) => JSON.stringify(g).includes('blackhole') || g.version > 0);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7103, 200), 0, 'nothing forwarded past a blackhole');
    lab.exec(rt, ['ip', 'route', 'del', 'blackhole', `${b.ip4}/32`]);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7103, 200), 200);
  });

  await t.test('route delete: no forwarding on a deleted route', async (t) => {
    lab.exec(rt, ['ip', '-6', 'route', 'del', `${topo.subnetB.v6}`, 'dev', portB.ifname]);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7104, 200), 0, 'IPv6 route gone: nothing forwarded');
    lab.exec(rt, ['ip', '-6', 'route', 'add', `${topo.subnetB.v6}`, 'dev', portB.ifname]);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7104, 200), 200);
  });

  await t.test('IPsec (xfrm) policies: packets within their selectors go to the kernel, which applies them', async (t) => {
    type L3Attrs = { ipv4?: boolean; ipv6?: boolean };
    const l3 = (g: Parameters<typeof service>[0]): L3Attrs => (service(g, 'l3-router')?.attrs ?? {}) as L3Attrs;
    const sel = (g: Parameters<typeof service>[0], k: string): unknown => nodeAttr(g, 'xfrm', k);
    // The generation whose l3-router checks the selectors goes live after the graph changes.
    const knobLive = (on: boolean): Promise<unknown> => waitFor(`cfg_xfrm_v4 ${on} on both ports`, async () => {
      const p = await d.get<{ pipelines: Array<{ ifname: string; knobs?: Record<string, Record<string, unknown>> }> }>('/v1/pipelines');
      return devs.every((dev) => p.pipelines.find((x) => x.ifname === dev)?.knobs?.['l3-router']?.cfg_xfrm_v4 === on);
    });
    t.teardown(() => lab.sh(rt, 'ip xfrm policy flush; ip xfrm policy setdefault in accept fwd accept out accept'));
    // fwd block, A -> B: ip_forward's policy check drops those packets. B -> A stays fast.
    lab.exec(rt, ['ip', 'xfrm', 'policy', 'add', 'src', topo.subnetA.v4, 'dst', topo.subnetB.v4, 'dir', 'fwd', 'action', 'block']);
    let g = await waitGraph(d, 'IPv4 selectors checked', (g) => sel(g, 'ipv4_selectors') === true, 15000);
    t.same([l3(g).ipv4, l3(g).ipv6], [true, true], 'routing stays accelerated');
    t.match(service(g, 'l3-router')?.reasons.join(' '), /IPsec policy selectors .*fwd .*block/, 'the reasons name the policy');
    await knobLive(true);
    const blocked = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 0, 'nothing forwarded past the block policy'));
    t.ok((blocked.reasons.xfrm_policy ?? 0) >= 200 && blocked.fast === 0, `handed to the kernel as xfrm_policy (${JSON.stringify(blocked.reasons)}, fast ${blocked.fast})`);
    const back = await measure(d, devs, async () => t.equal(await deliver(lab, b.ns, a.ns, a.ip4, 7112, 200), 200, 'B -> A delivered'));
    t.ok(back.fast >= 200, `B -> A is outside the selector: fast (${back.fast}, slow ${JSON.stringify(back.reasons)})`);
    const v6 = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7112, 200), 200));
    t.ok(v6.fast >= 200, `IPv6 fast (${v6.fast}, slow ${JSON.stringify(v6.reasons)})`);
    // out, with an ESP template and no SA: xfrm_route_forward holds or drops the packet, never sends it in clear.
    lab.sh(rt, 'ip xfrm policy flush');
    await waitGraph(d, 'no selectors', (g) => sel(g, 'ipv4_selectors') === false, 15000);
    await knobLive(false);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 200, 'delivered once the policy is gone');
    lab.exec(rt, ['ip', 'xfrm', 'policy', 'add', 'src', `${a.ip4}/32`, 'dst', topo.subnetB.v4, 'dir', 'out',
      'tmpl', 'src', portA.ip4, 'dst', topo.subnetB.host4(99), 'proto', 'esp', 'mode', 'tunnel']);
    g = await waitGraph(d, 'IPv4 selectors checked (out policy)', (g) => sel(g, 'ipv4_selectors') === true, 15000);
    t.match(service(g, 'l3-router')?.reasons.join(' '), /out .*esp tunnel/, 'the reasons name the template');
    await knobLive(true);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 0, 'nothing sent in clear where the kernel wants ESP');
    lab.sh(rt, 'ip xfrm policy flush');
    await waitGraph(d, 'no selectors', (g) => sel(g, 'ipv4_selectors') === false, 15000);
    // A blocking default policy: both families stay with the kernel.
    lab.exec(rt, ['ip', 'xfrm', 'policy', 'setdefault', 'fwd', 'block']);
    g = await waitGraph(d, 'both slow (default block)', (g) => l3(g).ipv4 === false && l3(g).ipv6 === false, 15000);
    t.match(service(g, 'l3-router')?.reasons.join(' '), /default policy for fwd is block/);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7112, 200), 0, 'IPv6 dropped by the default policy, as by the kernel');
    lab.exec(rt, ['ip', 'xfrm', 'policy', 'setdefault', 'fwd', 'accept']);
    await waitGraph(d, 'both back', (g) => l3(g).ipv4 === true && l3(g).ipv6 === true, 15000);
    await knobLive(false);
    const again = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 200));
    t.ok(again.fast >= 200, `fast again (${again.fast})`);
  });

  await t.test('ip neigh flush: the kernel resolves, then the fast path resumes', async (t) => {
    lab.exec(rt, ['ip', 'neigh', 'flush', 'dev', portB.ifname]);
    const delta = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7105, 200), 200, 'all delivered'));
    t.ok((delta.reasons.fib_no_neigh ?? 0) >= 1, `first packets went to the kernel for resolution: ${JSON.stringify(delta.reasons)}`);
    t.ok(delta.fast >= 150, `then fast again (${delta.fast})`);
  });

  await t.test('a STALE next hop the fast path uses is verified, as a kernel transmit would make it', async (t) => {
    const state = (ip: string): string | undefined =>
      (JSON.parse(lab.exec(rt, ['ip', '-j', 'neigh', 'show', ip, 'dev', portB.ifname])) as Array<{ state?: string[] }>)[0]?.state?.[0];
    const idle = topo.subnetB.host4(77);
    lab.exec(rt, ['ip', 'neigh', 'replace', idle, 'lladdr', '02:00:00:00:00:77', 'dev', portB.ifname, 'nud', 'stale']);
    t.teardown(() => lab.exec(rt, ['ip', 'neigh', 'del', idle, 'dev', portB.ifname]));
    // Traffic just before leaves next-hop marks, and the refresh (fdb_refresh_ms, 1 s) that
    // turns them into NTF_USE can land right after `nud stale` and move the entry on. Let that
    // refresh pass first, and set STALE again if one still crossed it.
    const makeStale = async (family: '-4' | '-6', ip: string): Promise<string | undefined> => {
      await sleep(1200);
      for (let i = 0; i < 5; i++) {
        lab.exec(rt, ['ip', family, 'neigh', 'change', ip, 'dev', portB.ifname, 'nud', 'stale']);
        if (state(ip) === 'STALE') break;
        await sleep(200);
      }
      return state(ip);
    };
    t.equal(await makeStale('-4', b.ip4), 'STALE');
    // One-way UDP: the kernel sends nothing to b itself, only the fast path does.
    const delta = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7109, 200), 200));
    t.ok(delta.fast >= 150, `forwarded by the fast path (${delta.fast})`);
    let s = state(b.ip4);
    for (let i = 0; i < 30 && s === 'STALE'; i++) {
      await sleep(100);
      s = state(b.ip4);
    }
    t.not(s, 'STALE', `the used neighbour went on to be verified (${s})`);
    t.equal(state(idle), 'STALE', 'an entry the fast path did not use is left alone');

    await ping(a.ns, b.ip6, { count: 2, interval: 0.1 }); // resolves b's IPv6 neighbour entry
    t.equal(await makeStale('-6', b.ip6), 'STALE');
    const d6 = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip6, 7109, 200), 200));
    t.ok(d6.fast >= 150, `IPv6 forwarded by the fast path (${d6.fast})`);
    let s6 = state(b.ip6);
    for (let i = 0; i < 30 && s6 === 'STALE'; i++) {
      await sleep(100);
      s6 = state(b.ip6);
    }
    t.not(s6, 'STALE', `and the IPv6 one too (${s6})`);
  });

  await t.test('address delete removes the connected route', async (t) => {
    lab.exec(rt, ['ip', 'addr', 'del', `${portB.ip4}/24`, 'dev', portB.ifname]);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7106, 200), 0);
    lab.exec(rt, ['ip', 'addr', 'add', `${portB.ip4}/24`, 'dev', portB.ifname]);
    await sleep(300);
    await ping(b.ns, portB.ip4, { count: 1 });
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7106, 200), 200);
  });

  await t.test('device down', async (t) => {
    lab.exec(rt, ['ip', 'link', 'set', portB.ifname, 'down']);
    await sleep(300);
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7107, 200), 0);
    lab.exec(rt, ['ip', 'link', 'set', portB.ifname, 'up']);
    await waitGraph(d, 'pb back', (g) => service(g, 'l3-router')?.devices.includes(portB.ifname) === true);
    await sleep(300);
    await ping(a.ns, b.ip4, { count: 2, interval: 0.2 });
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7107, 200), 200);
  });

  await t.test('an nft forward rule sends L3 to the slow path and is obeyed', async (t) => {
    lab.sh(rt, `nft add table inet ssf && nft add chain inet ssf chain1 '{ type filter hook forward priority 0; policy accept; }' && nft add rule inet ssf chain1 udp dport 7108 drop`);
    const g = await waitGraph(d, 'l3 slow path', (g) => service(g, 'l3-router')?.verdict === 'slow-path', 15000);
    t.match(service(g, 'l3-router')?.reasons.join(' '), /netfilter|forward/i, 'the reason names netfilter');
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7108, 200), 0, 'dropped by the rule: nothing bypassed it');
    t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7109, 200), 200, 'other ports pass the rule');
    lab.sh(rt, 'nft delete table inet ssf');
    await waitGraph(d, 'l3 accelerated again', (g) => service(g, 'l3-router')?.verdict === 'accelerated', 15000);
  });

  await t.test('nft rules bound to a device keep only that traffic with the kernel', async (t) => {
    type L3Attrs = { ipv4_devices?: string[]; ipv6_devices?: string[] };
    const l3 = (g: Parameters<typeof service>[0]): L3Attrs => (service(g, 'l3-router')?.attrs ?? {}) as L3Attrs;
    lab.sh(rt, `nft add table inet ssb && nft add chain inet ssb fw '{ type filter hook forward priority 0; policy accept; }'`);
    t.teardown(() => lab.sh(rt, 'nft delete table inet ssb 2>/dev/null || true'));

    // Entering portB: traffic from B is the kernel's, traffic from A stays fast.
    lab.sh(rt, `nft add rule inet ssb fw iifname "${portB.ifname}" udp dport 7112 drop`);
    await waitGraph(d, 'IPv4 from pb to the kernel', (g) => l3(g).ipv4_devices?.join() === portA.ifname && l3(g).ipv6_devices?.join() === portA.ifname, 15000);
    await sleep(300);
    const fromB = await measure(d, devs, async () => {
      t.equal(await deliver(lab, b.ns, a.ns, a.ip4, 7112, 200), 0, 'B -> A to the dropped port: the rule drops all');
      t.equal(await deliver(lab, b.ns, a.ns, a.ip4, 7113, 200), 200, 'B -> A to another port: delivered');
    });
    t.equal(fromB.fast, 0, `nothing from B fast-pathed (${JSON.stringify(fromB.reasons)})`);
    const fromA = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 200, 'A -> B to that port: delivered'));
    t.ok(fromA.fast >= 200, `A -> B still fast (${fromA.fast})`);

    // Leaving through portB: A -> B is checked per packet, B -> A stays fast.
    lab.sh(rt, `nft flush chain inet ssb fw && nft add rule inet ssb fw oifname "${portB.ifname}" udp dport 7112 drop`);
    await waitGraph(d, 'pb flagged', (g) => nodeAttr(g, `device:${portB.ifname}`, 'nf_egress_v4') === true && l3(g).ipv4_devices?.length === 2, 15000);
    await sleep(300);
    const toB = await measure(d, devs, async () => {
      t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 0, 'A -> B to the dropped port: the rule drops all');
      t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7113, 200), 200, 'A -> B to another port: delivered, by the kernel');
    });
    t.ok(toB.fast === 0 && (toB.reasons.nf_egress ?? 0) >= 400, `handed to the kernel as nf_egress (${JSON.stringify(toB.reasons)}, fast ${toB.fast})`);
    const toA = await measure(d, devs, async () => t.equal(await deliver(lab, b.ns, a.ns, a.ip4, 7112, 200), 200, 'B -> A: delivered'));
    t.ok(toA.fast >= 200, `B -> A still fast (${toA.fast})`);

    // Connection tracking anywhere on the forward path: the whole family goes back.
    lab.sh(rt, 'nft insert rule inet ssb fw ct state established accept');
    const g = await waitGraph(d, 'l3 slow path', (g) => service(g, 'l3-router')?.verdict === 'slow-path', 15000);
    t.ok(service(g, 'l3-router')?.reasons.includes('netfilter uses connection tracking in the forward path (inet ssb fw)'), 'the reason names conntrack');
    t.equal(await deliver(lab, b.ns, a.ns, a.ip4, 7114, 200), 200, 'the kernel forwards');
    lab.sh(rt, 'nft delete table inet ssb');
    await waitGraph(d, 'l3 accelerated again', (g) => service(g, 'l3-router')?.verdict === 'accelerated' && l3(g).ipv4_devices?.length === 2, 15000);
    await sleep(300);
    const back = await measure(d, devs, async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7112, 200), 200));
    t.ok(back.fast >= 200, `fast again (${back.fast})`);
  });

  await t.test('an egress whose veth peer cannot take XDP frames is left to the kernel', async (t) => {
    // GRO off on host B: the kernel would drop frames redirected into pb, so the fast path must not.
    lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'gro', 'off']);
    const g = await waitGraph(d, 'pb not redirectable', (g) => JSON.stringify(nodeAttr(g, `device:${portB.ifname}`, 'egress_reasons') ?? []).includes('cannot take XDP redirects'));
    t.match(JSON.stringify(nodeAttr(g, `device:${portB.ifname}`, 'egress_reasons')), /veth peer has neither GRO nor an XDP program/, 'the graph says why');
    const delta = await measure(d, [portA.ifname], async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7111, 200), 200, 'all delivered, by the kernel'));
    t.ok((delta.reasons.egress_not_redirectable ?? 0) >= 200 && delta.fast === 0, `passed as egress_not_redirectable (${JSON.stringify(delta.reasons)}, fast ${delta.fast})`);
    lab.exec(b.ns, ['ethtool', '-K', 'eth0', 'gro', 'on']);
    await sleep(300);
    const back = await measure(d, [portA.ifname], async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7111, 200), 200));
    t.ok(back.fast >= 200, `fast again once the peer can receive (${back.fast})`);
  });

  await t.test('an htb root qdisc on the egress is never bypassed', async (t) => {
    lab.sh(rt, `tc qdisc add dev ${portB.ifname} root handle 1: htb default 10 && tc class add dev ${portB.ifname} parent 1: classid 1:10 htb rate 50mbit`);
    await waitGraph(d, 'qdisc seen', (g) => g.nodes.some((n) => n.kind === 'qdisc' && n.name.startsWith(`${portB.ifname} root`)));
    const delta = await measure(d, [portA.ifname], async () => t.equal(await deliver(lab, a.ns, b.ns, b.ip4, 7110, 200), 200));
    t.ok(delta.fast === 0, `nothing toward the shaped device fast-pathed (${delta.fast}; ${JSON.stringify(delta.reasons)})`);
    lab.exec(rt, ['tc', 'qdisc', 'del', 'dev', portB.ifname, 'root']);
  });
});
