// Generation swaps under load lose nothing; a killed daemon fails open to the kernel; a
// restarted one adopts the pinned pipelines and resumes without a gap.
import * as fs from 'fs';
import t from 'tap';
import YAML from 'yaml';
import { Lab, ping, routerLab, udpSend, udpSink } from '../lab';
import { startDaemon } from '../harness/daemon';
import { measure, sleep, stats } from '../harness/fastpath';
import { native } from '../../controller/native';
import { counterTable } from '../../controller/deployer/counters';
import { sumCounter, u32Key } from '../../controller/deployer/layout';

async function stream(lab: Lab, src: string, dstNs: string, dst: string, port: number, count: number, pps: number, during?: () => Promise<void>): Promise<{ sent: number; received: number }> {
  const sink = udpSink(lab, dstNs, port);
  await sink.ready;
  const sending = udpSend(src, dst, port, { count, size: 64, pps });
  if (during) await during();
  const sent = await sending;
  await sleep(300);
  return { sent, received: (await sink.stop()).packets };
}

t.test('100 generation swaps under a UDP stream lose nothing', async (t) => {
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const { hostA: a, hostB: b } = topo;
  await ping(a.ns, b.ip4, { count: 2, interval: 0.1 });
  const baseline = await stream(lab, a.ns, b.ns, b.ip4, 7301, 20000, 4000);
  t.equal(baseline.received, baseline.sent, `without the daemon: ${baseline.received}/${baseline.sent}`);

  const d = await startDaemon({ netns: topo.router });
  t.teardown(() => d.stop());
  const cfg = YAML.parse(fs.readFileSync(d.configFile, 'utf8')) as Record<string, unknown>;
  const gen0 = (await d.get<{ generation: number }>('/v1/status')).generation;
  let reloads = 0;
  const result = await stream(lab, a.ns, b.ns, b.ip4, 7302, 20000, 4000, async () => {
    // Toggling the latency monitor changes every device's chain: each reload is a swap per device.
    for (let i = 0; i < 100; i++) {
      cfg.epping = { enabled: i % 2 === 0 };
      fs.writeFileSync(d.configFile, YAML.stringify(cfg));
      const r = await d.post('/v1/reload');
      if (r.status === 200) reloads++;
      await sleep(20);
    }
  });
  const gen1 = (await d.get<{ generation: number }>('/v1/status')).generation;
  t.equal(reloads, 100, 'every reload accepted');
  t.ok(gen1 - gen0 >= 100, `at least 100 generations went live (${gen1 - gen0})`);
  t.equal(result.received, result.sent, `with 100 swaps: ${result.received}/${result.sent} delivered (baseline lost ${baseline.sent - baseline.received})`);
  const st = await d.get<{ last_error: unknown }>('/v1/status');
  t.equal(st.last_error, null, 'no deploy errors');
});

t.test('kill -9 fails open within the heartbeat timeout; a restart adopts the pins', async (t) => {
  const lab = new Lab({ t });
  const topo = routerLab(lab);
  const { hostA: a, hostB: b, portA, portB } = topo;
  await ping(a.ns, b.ip4, { count: 2, interval: 0.1 });
  const d1 = await startDaemon({ netns: topo.router });
  t.teardown(() => d1.stop());
  const warm = await measure(d1, [portA.ifname, portB.ifname], () => ping(a.ns, b.ip4, { count: 20, interval: 0.01 }));
  t.ok(warm.fast >= 40, `fast path active before the kill (${warm.fast})`);

  // ping runs across the kill; heartbeat timeout in the harness config is 1 s.
  const pinging = ping(a.ns, b.ip4, { count: 400, interval: 0.01, timeout: 1 });
  await sleep(800);
  process.kill(d1.pid, 'SIGKILL');
  await d1.exited;
  const r = await pinging;
  t.equal(r.received, r.transmitted, `no ping lost across the kill (${r.received}/${r.transmitted})`);

  // The root, still attached and pinned, now sends everything to the kernel.
  const statsPin = `/sys/fs/bpf/slipstream/${topo.router}/maps/ss_stats`;
  const fd = native.objGet(statsPin);
  const table = counterTable();
  const stale = table.byName.get('heartbeat_stale')!.id;
  let staleCount = 0;
  for (let slot = 0; slot < 8; slot++) {
    const v = native.mapLookup(fd, u32Key(slot * table.stride + stale));
    if (v) staleCount += sumCounter(v).packets;
  }
  native.closeFd(fd);
  t.ok(staleCount > 0, `packets after the timeout went to the kernel as heartbeat_stale (${staleCount})`);
  const q = native.inNetns(topo.router, () => native.xdpQuery(portA.ifindex));
  t.ok(q.progId > 0, 'the pipeline stayed attached (pinned link)');

  const pinging2 = ping(a.ns, b.ip4, { count: 300, interval: 0.01, timeout: 1 });
  const d2 = await startDaemon({ netns: topo.router });
  t.teardown(() => d2.stop());
  const r2 = await pinging2;
  t.equal(r2.received, r2.transmitted, `no ping lost across the restart (${r2.received}/${r2.transmitted})`);
  t.ok(d2.logs.some((l) => l.msg === 'adopted pinned pipelines'), 'the new daemon adopted the pinned pipelines');
  const q2 = native.inNetns(topo.router, () => native.xdpQuery(portA.ifindex));
  t.equal(q2.progId, q.progId, 'same root program: no detach/attach gap');
  const after = await measure(d2, [portA.ifname, portB.ifname], () => ping(a.ns, b.ip4, { count: 20, interval: 0.01 }));
  t.ok(after.fast >= 40, `fast path resumed (${after.fast})`);
  const s = await stats(d2);
  t.ok(s.has(portA.ifname), 'stats continue for the adopted device');
  await d2.stop();
  t.notOk(fs.existsSync(`/sys/fs/bpf/slipstream/${topo.router}`), 'a clean stop removes the pins');
  if (!fs.existsSync('/sys/fs/bpf/slipstream')) t.pass('and the bpffs root, which no other daemon used');
  else t.ok(fs.readdirSync('/sys/fs/bpf/slipstream').length > 0, 'the bpffs root stays only while another daemon has pins in it');
  const q3 = native.inNetns(topo.router, () => native.xdpQuery(portA.ifindex));
  t.equal(q3.progId, 0, 'and detaches');
});
