import t from 'tap';
import { createApi, Metrics } from '../../controller/api';
import { silentLogger } from '../../controller/util/log';
import { FakeView } from './api-fixtures';
import { parseExposition, value } from './api-prom';

t.test('the strict parser itself rejects broken exposition', async (t) => {
  t.throws(() => parseExposition('foo 1\n'), /without a TYPE/);
  t.throws(() => parseExposition('# TYPE foo counter\nfoo{a="1} 1\n'), /bad labels/);
  t.throws(() => parseExposition('# TYPE foo counter\nfoo 1\nfoo 2\n'), /duplicate/);
  t.throws(() => parseExposition('# TYPE foo counter\nfoo one\n'), /bad value/);
  t.throws(() => parseExposition('# TYPE foo counter\nfoo -1\n'), /negative/);
  t.throws(() => parseExposition('# TYPE foo gauge\nfoo 1'), /newline/);
  t.throws(
    () => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    /cumulative/,
  );
  t.throws(() => parseExposition('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n'), /contiguous/);
  t.ok(parseExposition('# HELP a some \\\\ help\n# TYPE a gauge\na{x="q\\"uote",y="nl\\n"} 1.5e3\n').get('a'));
});

t.test('GET /metrics: valid exposition with per-device counters from view.stats()', async (t) => {
  const view = new FakeView();
  const metrics = new Metrics();
  const app = await createApi(view, { listen: '127.0.0.1:0', tokenFile: null, logger: silentLogger(), metrics });
  t.teardown(() => app.close());

  metrics.observeSwapLatency('eth0', 0.0032);
  metrics.observeSwapLatency('eth0', 0.4);
  metrics.incSwaps('eth0', 'ok');
  metrics.incSwaps('eth0', 'ok');
  metrics.incSwaps('eth1', 'failed');
  metrics.incResyncs('ENOBUFS');
  metrics.incErrors('attach');
  metrics.setHeartbeatAge(0.25);
  metrics.observeRtt('eth0', 'ingress', 0.012);

  const r = await app.inject('/metrics');
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const fam = parseExposition(r.body);

  t.equal(fam.get('slipstream_fastpath_packets_total')?.type, 'counter');
  t.equal(value(fam, 'slipstream_fastpath_packets_total', { device: 'eth0' }), 1234567);
  t.equal(value(fam, 'slipstream_fastpath_bytes_total', { device: 'eth0' }), 987654321);
  t.equal(value(fam, 'slipstream_slowpath_packets_total', { device: 'eth1' }), 12);
  t.equal(value(fam, 'slipstream_slowpath_bytes_total', { device: 'eth1' }), 720);
  t.equal(value(fam, 'slipstream_pass_total', { device: 'eth0', reason: 'no_fdb_entry' }), 4000);
  t.equal(value(fam, 'slipstream_pass_total', { device: 'eth0', reason: 'ttl "exceeded"\\' }), 21, 'label escaping round-trips');
  t.equal(value(fam, 'slipstream_fpm_packets_total', { device: 'eth0', fpm: 'l2_bridge', counter: 'fwd' }), 1234567);
  t.equal(value(fam, 'slipstream_swaps_total', { device: 'eth0', outcome: 'ok' }), 2);
  t.equal(value(fam, 'slipstream_swaps_total', { device: 'eth1', outcome: 'failed' }), 1);
  t.equal(value(fam, 'slipstream_resyncs_total', { reason: 'ENOBUFS' }), 1);
  t.equal(value(fam, 'slipstream_errors_total', { kind: 'attach' }), 1);
  t.equal(value(fam, 'slipstream_heartbeat_age_seconds'), 0.25);
  t.equal(value(fam, 'slipstream_generation'), 7);
  t.equal(value(fam, 'slipstream_managed_devices'), 2);
  t.equal(fam.get('slipstream_swap_latency_seconds')?.type, 'histogram');
  t.equal(value(fam, 'slipstream_swap_latency_seconds_count', { device: 'eth0' }), 2);
  t.equal(value(fam, 'slipstream_swap_latency_seconds_bucket', { device: 'eth0', le: '0.005' }), 1);
  t.equal(value(fam, 'slipstream_swap_latency_seconds_bucket', { device: 'eth0', le: '0.001' }), 0);
  t.equal(value(fam, 'slipstream_rtt_seconds_count', { device: 'eth0', side: 'ingress' }), 1);
  t.ok(fam.get('process_cpu_user_seconds_total'), 'default process metrics');

  // Counters mirror the kernel's cumulative values on every scrape (not added up).
  view.statsData[0].fastpath_packets += 1000;
  const again = parseExposition((await app.inject('/metrics')).body);
  t.equal(value(again, 'slipstream_fastpath_packets_total', { device: 'eth0' }), 1235567);
  t.equal(value(again, 'slipstream_swaps_total', { device: 'eth0', outcome: 'ok' }), 2, 'event counters are not reset by a scrape');

  // A device that goes away stops being exported; a pipeline whose maps were recreated restarts at its new value.
  view.statsData = [{ ...view.statsData[0], fastpath_packets: 5, pass_reasons: {} }];
  await new Promise((r) => setTimeout(r, 300)); // past the per-scrape snapshot
  const later = parseExposition((await app.inject('/metrics')).body);
  t.equal(value(later, 'slipstream_fastpath_packets_total', { device: 'eth0' }), 5);
  t.equal(value(later, 'slipstream_fastpath_packets_total', { device: 'eth1' }), undefined);
  t.equal(value(later, 'slipstream_pass_total', { device: 'eth0', reason: 'no_fdb_entry' }), undefined);
});

t.test('a failing view does not fail the scrape', async (t) => {
  const view = new FakeView();
  view.stats = () => {
    throw new Error('maps gone');
  };
  view.status = () => {
    throw new Error('not ready');
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const app = await createApi(view, { listen: '127.0.0.1:0', tokenFile: null, logger: silentLogger(), metrics });
  t.teardown(() => app.close());
  const r = await app.inject('/metrics');
  t.equal(r.statusCode, 200);
  const fam = parseExposition(r.body);
  t.equal(fam.get('slipstream_fastpath_packets_total')?.samples.length, 0);
  t.ok(Number.isNaN(value(fam, 'slipstream_generation')), 'unknown, not a misleading 0');
  t.ok(Number.isNaN(value(fam, 'slipstream_heartbeat_age_seconds')), 'no heartbeat known yet');
  t.notOk(fam.get('process_cpu_user_seconds_total'), 'default metrics can be left out');
});

t.test('heartbeat age from a callback', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  let age = 1.5;
  m.bind({ heartbeatAge: () => age });
  t.equal(value(parseExposition(await m.render()), 'slipstream_heartbeat_age_seconds'), 1.5);
  age = 3;
  t.equal(value(parseExposition(await m.render()), 'slipstream_heartbeat_age_seconds'), 3);
  // Two Metrics in one process do not collide (own registries).
  const other = new Metrics();
  other.incErrors('x');
  t.equal(value(parseExposition(await m.render()), 'slipstream_errors_total', { kind: 'x' }), undefined);
});
