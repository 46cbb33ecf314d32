// Transparency, scenario 1: a Linux bridge with three hosts. With the daemon running, traffic
// is delivered as without it, mostly on the fast path, and every configuration change made
// with the real tools is followed: nothing goes where the kernel would not send it.
import t from 'tap';
import { Lab, bridgeLab, iperf3Client, iperf3Server, ping, udpSend } from '../lab';
import { startDaemon } from '../harness/daemon';
import { deliver, measure, nodeAttr, service, sleep, waitGraph } from '../harness/fastpath';

t.test('bridge with three hosts', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 3 });
  const sw = topo.sw;
  const [h1, h2, h3] = topo.hosts;
  const [p1, p2, p3] = topo.ports;
  const ports = topo.ports.map((p) => p.ifname);

  // Without the daemon: the reference behaviour.
  t.equal((await ping(h1.ns, h2.ip4, { count: 3, interval: 0.05 })).received, 3, 'kernel bridge works');
  const before = await deliver(lab, h1.ns, h2.ns, h2.ip4, 7001, 300);
  t.equal(before, 300, 'kernel delivers every datagram');
  await ping(h1.ns, h3.ip4, { count: 1 });
  await ping(h2.ns, h3.ip4, { count: 1 });

  const d = await startDaemon({ netns: sw });
  t.teardown(() => d.stop());

  const pipes = await d.get<{ pipelines: Array<{ ifname: string; fpms: string[]; mode: string }> }>('/v1/pipelines');
  for (const p of ports) {
    const pl = pipes.pipelines.find((x) => x.ifname === p);
    t.same(pl?.fpms, ['l2-bridge'], `${p} runs l2-bridge alone (it reads only the Ethernet header: no parser)`);
    t.equal(pl?.mode, 'native', `${p} attached natively`);
  }
  const g0 = await waitGraph(d, 'l2 service', (g) => service(g, 'l2-bridge:br0')?.verdict === 'accelerated');
  t.same(service(g0, 'l2-bridge:br0')?.devices.sort(), [...ports].sort());

  await t.test('delivery is unchanged and steady-state unicast is fast-pathed', async (t) => {
    t.equal((await ping(h1.ns, h2.ip4, { count: 10, interval: 0.02 })).received, 10);
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7002, 300), 300, 'UDP: all delivered');
    const srv = iperf3Server(lab, h2.ns, 5201);
    await srv.ready;
    const delta = await measure(d, ports, () => iperf3Client(h1.ns, h2.ip4, { seconds: 2 }));
    const share = delta.fast / (delta.fast + delta.slow);
    t.ok(delta.fast > 1000, `iperf3 ran through the bridge (${delta.fast} fast packets)`);
    t.ok(share >= 0.95, `fast-path share ${share.toFixed(4)} >= 0.95 (slow: ${JSON.stringify(delta.reasons)})`);
  });

  await t.test('a disabled port gets nothing', async (t) => {
    lab.exec(sw, ['bridge', 'link', 'set', 'dev', p3.ifname, 'state', '0']);
    await waitGraph(d, 'p3 disabled', (g) => nodeAttr(g, `port:br0/${p3.ifname}`, 'state') === 'disabled');
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7003, 200), 0, 'nothing forwarded out a disabled port');
    lab.exec(sw, ['bridge', 'link', 'set', 'dev', p3.ifname, 'state', '3']);
    await waitGraph(d, 'p3 forwarding', (g) => nodeAttr(g, `port:br0/${p3.ifname}`, 'state') === 'forwarding');
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7003, 200), 200, 'forwarding again once re-enabled');
  });

  await t.test('a locked port (802.1X/MAB) is left to the kernel, which checks its sources', async (t) => {
    lab.exec(sw, ['bridge', 'link', 'set', 'dev', p1.ifname, 'locked', 'on']);
    await waitGraph(d, 'p1 locked', (g) => nodeAttr(g, `port:br0/${p1.ifname}`, 'locked') === true && service(g, 'l2-bridge:br0')?.devices.includes(p1.ifname) === false);
    // h1's entry was learned before the lock, so the kernel still lets it through.
    const delta = await measure(d, [p1.ifname], async () => t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7010, 200), 200, 'delivered by the kernel'));
    t.equal(delta.fast, 0, `nothing fast-pathed from the locked port (${JSON.stringify(delta.reasons)})`);
    lab.exec(sw, ['bridge', 'link', 'set', 'dev', p1.ifname, 'locked', 'off']);
    await waitGraph(d, 'p1 unlocked', (g) => service(g, 'l2-bridge:br0')?.devices.includes(p1.ifname) === true);
    await sleep(300);
    const after = await measure(d, [p1.ifname], async () => t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7010, 200), 200));
    t.ok(after.fast >= 150, `fast again once unlocked (${after.fast})`);
  });

  await t.test('a port that goes down gets nothing', async (t) => {
    lab.exec(sw, ['ip', 'link', 'set', p2.ifname, 'down']);
    await waitGraph(d, 'p2 down', (g) => nodeAttr(g, `device:${p2.ifname}`, 'up') === false);
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7004, 200), 0);
    lab.exec(sw, ['ip', 'link', 'set', p2.ifname, 'up']);
    await waitGraph(d, 'p2 up', (g) => nodeAttr(g, `device:${p2.ifname}`, 'up') === true && service(g, 'l2-bridge:br0')?.devices.includes(p2.ifname) === true);
    await ping(h2.ns, h1.ip4, { count: 1 });
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7004, 200), 200);
  });

  await t.test('a forward rule in the bridge family sends L2 to the slow path and is obeyed', async (t) => {
    lab.sh(sw, `nft add table bridge ssf && nft add chain bridge ssf chain1 '{ type filter hook forward priority 0; policy accept; }' && nft add rule bridge ssf chain1 ether daddr ${h2.mac} drop`);
    await waitGraph(d, 'l2 slow path', (g) => service(g, 'l2-bridge:br0')?.verdict === 'slow-path', 15000);
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7005, 200), 0, 'the rule drops every frame, none bypass it');
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7005, 200), 200, 'others still delivered');
    lab.sh(sw, 'nft delete table bridge ssf');
    await waitGraph(d, 'l2 accelerated again', (g) => service(g, 'l2-bridge:br0')?.verdict === 'accelerated', 15000);
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7005, 200), 200);
  });

  await t.test('a bridge-family rule bounded to one port keeps only that port with the kernel', async (t) => {
    lab.sh(sw, `nft add table bridge ssp && nft add chain bridge ssp fw '{ type filter hook forward priority 0; policy accept; }' && nft add rule bridge ssp fw iifname ${p3.ifname} udp dport 7011 drop`);
    t.teardown(() => lab.sh(sw, 'nft delete table bridge ssp 2>/dev/null || true'));
    await waitGraph(d, 'p3 left out', (g) => service(g, 'l2-bridge:br0')?.verdict === 'accelerated' && service(g, 'l2-bridge:br0')?.devices.includes(p3.ifname) === false, 15000);
    await sleep(300);
    t.equal(await deliver(lab, h3.ns, h1.ns, h1.ip4, 7011, 200), 0, 'the rule drops what enters p3, nothing bypasses it');
    const delta = await measure(d, [p1.ifname], async () => {
      t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7011, 200), 200, 'frames to p3 delivered (by the kernel)');
      t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7011, 200), 200, 'and between the other ports');
    });
    t.ok(delta.fast >= 150 && delta.fast <= 260, `only the p1-p2 traffic fast-pathed (${delta.fast}; slow: ${JSON.stringify(delta.reasons)})`);
    lab.sh(sw, 'nft delete table bridge ssp');
    await waitGraph(d, 'p3 back', (g) => service(g, 'l2-bridge:br0')?.devices.includes(p3.ifname) === true, 15000);
  });

  await t.test('a shaping qdisc on an egress port is never bypassed', async (t) => {
    lab.sh(sw, `tc qdisc add dev ${p2.ifname} root handle 1: htb default 10 && tc class add dev ${p2.ifname} parent 1: classid 1:10 htb rate 100mbit`);
    await waitGraph(d, 'qdisc seen', (g) => g.nodes.some((n) => n.kind === 'qdisc' && n.name.startsWith(`${p2.ifname} root`)));
    const delta = await measure(d, [p1.ifname], () => deliver(lab, h1.ns, h2.ns, h2.ip4, 7006, 200).then((n) => t.equal(n, 200, 'still delivered, by the kernel')));
    t.ok((delta.reasons.egress_qdisc ?? 0) >= 200, `passed for the qdisc: ${JSON.stringify(delta.reasons)}`);
    t.ok(delta.fast < 5, `nothing to p2 fast-pathed (${delta.fast})`);
    lab.exec(sw, ['tc', 'qdisc', 'del', 'dev', p2.ifname, 'root']);
    await waitGraph(d, 'qdisc gone', (g) => !g.nodes.some((n) => n.kind === 'qdisc' && n.name.startsWith(`${p2.ifname} root`)));
  });

  await t.test('a MAC that moves to another port is followed', async (t) => {
    // h3 takes over h2's MAC and speaks: the kernel moves the entry to p3. h2 stays up on
    // p2 under another MAC, so the entry moves (one RTM_NEWNEIGH) rather than being flushed
    // with a port that goes down.
    lab.exec(h2.ns, ['ip', 'link', 'set', 'eth0', 'address', '02:00:5e:00:10:98']);
    lab.exec(h3.ns, ['ip', 'link', 'set', 'eth0', 'address', h2.mac]);
    await ping(h3.ns, h1.ip4, { count: 2, interval: 0.1 });
    await sleep(400);
    const fdb = lab.exec(sw, ['bridge', 'fdb', 'show', 'dev', p3.ifname]);
    t.match(fdb, h2.mac, 'kernel moved the MAC to p3');
    // h1 still maps h2's address to that MAC: frames must follow the MAC to p3.
    const rxBefore = lab.rxPackets(h3.ns, 'eth0');
    lab.exec(h1.ns, ['ip', 'neigh', 'replace', h2.ip4, 'lladdr', h2.mac, 'dev', 'eth0', 'nud', 'permanent']);
    await udpSend(h1.ns, h2.ip4, 7007, { count: 200, pps: 2000 });
    await sleep(150);
    const rxAfter = lab.rxPackets(h3.ns, 'eth0');
    t.ok(rxAfter - rxBefore >= 200, `frames followed the MAC to p3 (${rxAfter - rxBefore})`);
    // And back to p2: the kernel moves the entry with one more RTM_NEWNEIGH, no delete.
    lab.exec(h3.ns, ['ip', 'link', 'set', 'eth0', 'address', h3.mac]);
    lab.exec(h2.ns, ['ip', 'link', 'set', 'eth0', 'address', h2.mac]);
    await ping(h2.ns, h1.ip4, { count: 2, interval: 0.1 });
    await ping(h3.ns, h1.ip4, { count: 1 });
    await sleep(400);
    t.match(lab.exec(sw, ['bridge', 'fdb', 'show', 'dev', p2.ifname]), h2.mac, 'kernel moved the MAC back to p2');
    const rx = (ns: string): number => lab.rxPackets(ns, 'eth0');
    const before = { h2: rx(h2.ns), h3: rx(h3.ns) };
    const back = await measure(d, [p1.ifname], () => udpSend(h1.ns, h2.ip4, 7008, { count: 200, pps: 2000 }).then(() => sleep(150)));
    t.ok(rx(h2.ns) - before.h2 >= 200, `frames followed it back to p2 (${rx(h2.ns) - before.h2})`);
    t.ok(rx(h3.ns) - before.h3 < 5, `none went out p3 (${rx(h3.ns) - before.h3})`);
    t.ok(back.fast >= 190, `on the fast path again (${back.fast}; ${JSON.stringify(back.reasons)})`);
    lab.exec(h1.ns, ['ip', 'neigh', 'del', h2.ip4, 'dev', 'eth0']);
  });

  await t.test('a port removed from the bridge gets nothing', async (t) => {
    lab.exec(sw, ['ip', 'link', 'set', p3.ifname, 'nomaster']);
    await waitGraph(d, 'p3 gone from br0', (g) => !g.nodes.some((n) => n.id === `port:br0/${p3.ifname}`));
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7008, 200), 0);
    const pipes2 = await d.get<{ pipelines: Array<{ ifname: string }> }>('/v1/pipelines');
    t.notOk(pipes2.pipelines.some((p) => p.ifname === p3.ifname), 'its pipeline is gone');
    lab.exec(sw, ['ip', 'link', 'set', p3.ifname, 'master', 'br0']);
  });

  await t.test('STP: a port in listening/learning forwards nothing until forwarding', async (t) => {
    lab.exec(sw, ['ip', 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '300', 'stp_state', '1']);
    // A port newly added under STP starts in listening, then learning.
    lab.exec(sw, ['ip', 'link', 'set', p3.ifname, 'nomaster']);
    lab.exec(sw, ['ip', 'link', 'set', p3.ifname, 'master', 'br0']);
    const g = await waitGraph(d, 'p3 not forwarding', (g) => {
      const s = nodeAttr(g, `port:br0/${p3.ifname}`, 'state');
      return s === 'listening' || s === 'learning';
    });
    t.ok(g, 'graph shows the STP state');
    t.match(service(g, 'l2-bridge:br0')?.reasons.join(' ') ?? '', /listening|learning/, 'and says why p3 is left out');
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7009, 100, 1000), 0, 'nothing forwarded while not forwarding');
    await waitGraph(d, 'p3 forwarding', (g) => nodeAttr(g, `port:br0/${p3.ifname}`, 'state') === 'forwarding', 15000);
    await ping(h3.ns, h1.ip4, { count: 1 });
    t.equal(await deliver(lab, h1.ns, h3.ns, h3.ip4, 7009, 200), 200, 'forwarding once STP says so');
  });
});
