// The HTTP API of a real daemon on a lab bridge: events for changes made with `ip`, metrics
// after real traffic, a refused reload that keeps the running config, tokens, and per-device
// enable/disable. Three ports, so one can be disabled and the bridge keeps two (graph rule).
import t from 'tap';
import * as fs from 'fs';
import { Lab, bridgeLab, ping } from '../lab';
import { startDaemon } from '../harness/daemon';
import { deliver, sleep, waitFor } from '../harness/fastpath';
import type { DaemonEvent, PipelineView, StatusView } from '../../controller/daemon/view';

interface Sse {
  events: DaemonEvent[];
  contentType: string;
  close(): void;
}

// Reads /v1/events into `events` until closed.
async function openEvents(api: string, query: string): Promise<Sse> {
  const ac = new AbortController();
  const r = await fetch(`${api}/v1/events${query}`, { signal: ac.signal, headers: { accept: 'text/event-stream' } });
  if (r.status !== 200 || !r.body) throw new Error(`GET /v1/events: ${r.status}`);
  const events: DaemonEvent[] = [];
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) events.push(JSON.parse(data) as DaemonEvent);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { events, contentType: r.headers.get('content-type') ?? '', close: () => ac.abort() };
}

function metric(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const got = Object.fromEntries(body.split(',').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1).replace(/^"|"$/g, '')];
    }));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

t.test('daemon HTTP API on a lab bridge', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 3 });
  const [h1, h2] = topo.hosts;
  const [p1, p2] = topo.ports;
  const d = await startDaemon({ netns: topo.sw });
  t.teardown(() => d.stop());
  const pipelines = async (): Promise<PipelineView[]> => (await d.get<{ pipelines: PipelineView[] }>('/v1/pipelines')).pipelines;
  const initial = await pipelines();
  t.same(initial.map((p) => p.ifname).sort(), ['p1', 'p2', 'p3'], 'every port has a pipeline');

  await t.test('SSE: a change made with ip link arrives as a graph event', async (t) => {
    const sse = await openEvents(d.api, '?types=graph');
    t.teardown(() => sse.close());
    t.match(sse.contentType, /^text\/event-stream/);
    lab.exec(topo.sw, ['ip', 'link', 'set', p2.ifname, 'mtu', '1400']);
    const ev = await waitFor('graph event for p2', () => sse.events.find((e) => e.type === 'graph' && e.diff.changed.includes(`device:${p2.ifname}`)), 10000);
    t.ok(ev.type === 'graph' && ev.diff.causes.some((c) => c.includes(p2.ifname)), `the causes name p2: ${ev.type === 'graph' ? ev.diff.causes.join(', ') : ''}`);
    t.ok(ev.type === 'graph' && ev.version > 0, 'carries the graph version');
    t.ok(sse.events.every((e) => e.type === 'graph'), '?types=graph: nothing else on this stream');
    const g = await d.get<{ version: number; nodes: Array<{ id: string; attrs: Record<string, unknown> }> }>('/v1/graph');
    t.equal(g.nodes.find((n) => n.id === `device:${p2.ifname}`)?.attrs.mtu, 1400, 'GET /v1/graph shows the new MTU');
    lab.exec(topo.sw, ['ip', 'link', 'set', p2.ifname, 'mtu', '1500']);
    await waitFor('graph event for the MTU back', () => sse.events.filter((e) => e.type === 'graph' && e.diff.changed.includes(`device:${p2.ifname}`)).length >= 2, 10000);
  });

  await t.test('metrics: per-device fast-path counters after traffic', async (t) => {
    t.equal((await ping(h1.ns, h2.ip4, { count: 5, interval: 0.05 })).received, 5);
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7301, 300), 300, 'all datagrams delivered');
    const r = await fetch(`${d.api}/metrics`);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await r.text();
    const fast = metric(text, 'slipstream_fastpath_packets_total', { device: p1.ifname });
    t.ok(fast !== null && fast >= 300, `slipstream_fastpath_packets_total{device="p1"} = ${fast}`);
    t.ok((metric(text, 'slipstream_fastpath_bytes_total', { device: p1.ifname }) ?? 0) > 0, 'fast-path bytes counted');
    t.ok(metric(text, 'slipstream_slowpath_packets_total', { device: p1.ifname }) !== null, 'slow-path counter present');
    t.match(text, /^# TYPE slipstream_swap_latency_seconds histogram$/m, 'the swap-latency histogram is declared');
    t.equal(metric(text, 'slipstream_managed_devices', {}) ?? Number(/^slipstream_managed_devices (\S+)$/m.exec(text)?.[1]), 3, 'three managed devices');
  });

  await t.test('reload with a broken config file is refused and changes nothing', async (t) => {
    const good = fs.readFileSync(d.configFile, 'utf8');
    t.teardown(() => fs.writeFileSync(d.configFile, good));
    const before = await pipelines();
    fs.writeFileSync(d.configFile, `${good}heartbeat: {interval_ms: [1, 2\n`);
    const bad = await d.post('/v1/reload');
    t.equal(bad.status, 422, 'a file that is not YAML: 422');
    const msg = String((bad.body as { message?: unknown } | null)?.message);
    t.equal((bad.body as { ok?: unknown }).ok, false);
    t.match(msg, new RegExp(`${d.configFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+`), `names file:line:column: ${msg}`);

    fs.writeFileSync(d.configFile, `${good}debounce_ms: soon\n`);
    const typed = await d.post('/v1/reload');
    t.equal(typed.status, 422, 'a schema error: 422');
    const tmsg = String((typed.body as { message?: unknown } | null)?.message);
    const line = good.split('\n').length; // the appended key's line
    t.match(tmsg, new RegExp(`:${line}:\\d+: /debounce_ms`), `names the line and the key: ${tmsg}`);

    const st = await d.get<StatusView>('/v1/status');
    t.equal(st.netns, topo.sw, 'status still answers');
    t.same(await pipelines(), before, 'pipelines unchanged');
    t.equal((await ping(h1.ns, h2.ip4, { count: 3, interval: 0.05 })).received, 3, 'still forwarding');

    fs.writeFileSync(d.configFile, good);
    const ok = await d.post('/v1/reload');
    t.equal(ok.status, 200, 'the good file reloads');
    t.equal((ok.body as { ok?: unknown }).ok, true);
  });

  await t.test('a wrong or missing token gets 401', async (t) => {
    for (const tok of ['not-the-token', null]) {
      for (const route of ['/v1/reload', `/v1/devices/${p1.ifname}/disable`]) {
        const r = await d.post(route, tok);
        t.equal(r.status, 401, `${route} with ${tok ? 'a wrong' : 'no'} token`);
        t.equal((r.body as { statusCode?: unknown } | null)?.statusCode, 401, 'JSON error body');
      }
    }
    t.same((await pipelines()).map((p) => p.ifname).sort(), ['p1', 'p2', 'p3'], 'nothing was disabled');
  });

  await t.test('disable and enable a device', async (t) => {
    const sse = await openEvents(d.api, '?types=swap');
    t.teardown(() => sse.close());
    const off = await d.post(`/v1/devices/${p1.ifname}/disable`);
    t.equal(off.status, 200);
    t.same(off.body, { ok: true, device: p1.ifname, enabled: false });
    await waitFor('p1 pipeline gone', async () => !(await pipelines()).some((p) => p.ifname === p1.ifname), 10000);
    const link = JSON.parse(lab.exec(topo.sw, ['ip', '-j', 'link', 'show', p1.ifname])) as Array<{ xdp?: unknown }>;
    t.notOk(link[0]?.xdp, 'no XDP program left on p1');
    t.ok((await pipelines()).some((p) => p.ifname === p2.ifname), 'p2 keeps its pipeline (p2, p3 still make a bridge)');
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7302, 200), 200, 'the kernel forwards p1 traffic meanwhile');

    const on = await d.post(`/v1/devices/${p1.ifname}/enable`);
    t.equal(on.status, 200);
    t.same(on.body, { ok: true, device: p1.ifname, enabled: true });
    const back = await waitFor('p1 pipeline back', async () => (await pipelines()).find((p) => p.ifname === p1.ifname), 10000);
    t.same(back.fpms, initial.find((p) => p.ifname === p1.ifname)?.fpms, 'the same modules as before');
    t.ok(back.generation > (initial.find((p) => p.ifname === p1.ifname)?.generation ?? 0), 'a new generation');
    const swap = await waitFor('swap event for p1', () => sse.events.find((e) => e.type === 'swap' && e.device === p1.ifname), 5000);
    t.ok(swap.type === 'swap' && swap.generation === back.generation, 'the swap event carries that generation');
    await sleep(100);
    const text = await (await fetch(`${d.api}/metrics`)).text();
    const n = metric(text, 'slipstream_swap_latency_seconds_count', { device: p1.ifname });
    t.ok(n !== null && n >= 1, `swap latency observed for p1 (count ${n})`);
    t.ok(metric(text, 'slipstream_swap_latency_seconds_bucket', { device: p1.ifname, le: '+Inf' }) === n, 'histogram buckets present');
    t.equal(await deliver(lab, h1.ns, h2.ns, h2.ip4, 7303, 200), 200);
  });

  await t.test('unknown device: 404', async (t) => {
    for (const action of ['enable', 'disable']) {
      const r = await d.post(`/v1/devices/nosuchdev0/${action}`);
      t.equal(r.status, 404, action);
      t.match((r.body as { message?: unknown } | null)?.message, /nosuchdev0/, 'the message names the device');
    }
  });
});
