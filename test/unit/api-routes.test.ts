import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as http from 'http';
import Ajv from 'ajv';
import { createApi, listenApi, Metrics } from '../../controller/api';
import * as S from '../../controller/api/schemas';
import { silentLogger } from '../../controller/util/log';
import { FakeView, FakeRttView, waitFor } from './api-fixtures';
import type { DaemonView } from '../../controller/daemon/view';
import { registerEppingRoutes, type EppingSource } from '../../controller/epping/routes';
import type { RttSample } from '../../controller/epping/sample';

interface Test {
  teardown(fn: () => unknown): void;
}

const ajv = new Ajv({ strict: false, allErrors: true });
function valid(schema: object, data: unknown): string {
  const v = ajv.compile(schema);
  return v(data) ? '' : ajv.errorsText(v.errors);
}

function tmpdir(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-api-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function makeApi(t: Test, view: DaemonView = new FakeView(), tokenFile: string | null = null, extra: { sseHeartbeatMs?: number } = {}) {
  const app = await createApi(view, { listen: '127.0.0.1:0', tokenFile, logger: silentLogger(), metrics: new Metrics(), ...extra });
  t.teardown(() => app.close());
  return app;
}

t.test('every GET route answers with a body that validates against its schema', async (t) => {
  const app = await makeApi(t, new FakeRttView());
  const cases: [string, object][] = [
    ['/healthz', S.healthSchema],
    ['/v1/status', S.statusSchema],
    ['/v1/graph', S.graphSchema],
    ['/v1/graph?format=json', S.graphSchema],
    ['/v1/pipelines', S.pipelinesSchema],
    ['/v1/stats', S.statsSchema],
    ['/v1/rtt?limit=1', S.rttSchema],
  ];
  for (const [url, schema] of cases) {
    const r = await app.inject({ method: 'GET', url });
    t.equal(r.statusCode, 200, url);
    t.match(r.headers['content-type'], /^application\/json/, url);
    t.equal(valid(schema, r.json()), '', `${url} validates`);
  }
  const fake = new FakeView();
  t.same((await app.inject('/v1/graph')).json(), fake.graph(), 'the graph passes through unchanged (attrs of every type)');
  t.same((await app.inject('/v1/status')).json(), fake.status());
  t.same((await app.inject('/v1/pipelines')).json(), { pipelines: fake.pipelines() });
  t.same((await app.inject('/v1/stats')).json(), { devices: fake.stats() });
  t.equal((await app.inject('/v1/rtt?limit=1')).json().samples.length, 1);

  const dot = await app.inject('/v1/graph?format=dot');
  t.equal(dot.statusCode, 200);
  t.match(dot.headers['content-type'], /^text\/vnd\.graphviz/);
  t.equal(dot.body, fake.graphDot(), 'dot is sent raw, not as a JSON string');
});

t.test('status with netns and without last_error also validates', async (t) => {
  const view = new FakeView();
  const base = view.status();
  view.status = () => ({ ...base, netns: 'lab1', last_error: null });
  const app = await makeApi(t, view);
  const r = await app.inject('/v1/status');
  t.equal(valid(S.statusSchema, r.json()), '');
  t.equal(r.json().netns, 'lab1');
  t.equal(r.json().last_error, null);
});

t.test('OpenAPI lists every route; the UI is served locally', async (t) => {
  const app = await makeApi(t);
  const spec = (await app.inject('/docs/json')).json();
  t.equal(spec.openapi, '3.0.3');
  const want: Record<string, string[]> = {
    '/healthz': ['get'],
    '/v1/status': ['get'],
    '/v1/graph': ['get'],
    '/v1/pipelines': ['get'],
    '/v1/stats': ['get'],
    '/v1/rtt': ['get'],
    '/v1/events': ['get'],
    '/metrics': ['get'],
    '/v1/reload': ['post'],
    '/v1/devices/{ifname}/enable': ['post'],
    '/v1/devices/{ifname}/disable': ['post'],
  };
  t.same(Object.keys(spec.paths).sort(), Object.keys(want).sort());
  for (const [p, methods] of Object.entries(want)) {
    for (const m of methods) {
      t.ok(spec.paths[p][m], `${m.toUpperCase()} ${p} documented`);
      t.ok(spec.paths[p][m].responses['200'], `${p} has a 200 response schema`);
    }
  }
  t.same(spec.paths['/v1/reload'].post.security, [{ bearer: [] }]);
  t.ok(spec.paths['/v1/graph'].get.responses['200'].content['text/vnd.graphviz']);

  const ui = await app.inject('/docs');
  t.equal(ui.statusCode, 200);
  t.match(ui.headers['content-type'], /text\/html/);
  const refs = [...ui.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  t.ok(refs.length > 0);
  for (const ref of refs) t.notMatch(ref, /^(https?:)?\/\//, `local asset ${ref}`);
  const bundle = await app.inject('/docs/static/swagger-ui-bundle.js');
  t.equal(bundle.statusCode, 200);
  t.ok(bundle.body.length > 100000, 'the real bundle');
  const init = await app.inject('/docs/static/swagger-initializer.js');
  t.equal(init.statusCode, 200);
  const code = init.body.replace(/\/\/[^\n]*/g, '');
  t.notMatch(code, /https?:/, 'no remote URL in the initializer');
  t.match(code, /validatorUrl: null/, 'no call to the public spec validator');
});

t.test('bad input: 400 JSON; unknown routes and devices: 404 JSON; never a stack', async (t) => {
  const view = new FakeView();
  const app = await makeApi(t, view);
  const cases: [string, string, number][] = [
    ['GET', '/v1/graph?format=xml', 400],
    ['GET', '/v1/graph?format=', 400],
    ['GET', '/v1/status?verbose=1', 400],
    ['GET', '/v1/stats?%00=%ff', 400],
    ['GET', '/v1/rtt?limit=abc', 400],
    ['GET', '/v1/rtt?limit=0', 400],
    ['GET', '/v1/events?types=bogus', 400],
    ['POST', '/v1/devices/averyveryverylongname/enable', 400],
    ['POST', '/v1/devices/a%2Fb/enable', 400],
    ['POST', '/v1/devices/eth%20x/disable', 400],
    ['POST', '/v1/devices/eth7/enable', 404],
    ['POST', '/v1/devices/eth7/disable', 404],
    ['GET', '/v1/nothing', 404],
    ['GET', '/v1/devices/eth0/enable', 404],
    ['POST', '/v1/status', 404],
    ['DELETE', '/v1/graph', 404],
    ['GET', '/v1/rtt', 409],
  ];
  for (const [method, url, code] of cases) {
    const r = await app.inject({ method: method as 'GET', url });
    t.equal(r.statusCode, code, `${method} ${url} -> ${code}`);
    t.match(r.headers['content-type'], /^application\/json/, `${method} ${url} is JSON`);
    const body = r.json();
    t.equal(valid(S.errorSchema, body), '', `${method} ${url} error shape`);
    t.equal(body.statusCode, code);
    t.notMatch(r.body, /\bat .*\.js:\d+/, 'no stack trace');
  }
  t.match((await app.inject({ method: 'POST', url: '/v1/devices/eth7/enable' })).json().message, /no managed device eth7/);
  t.equal(view.enabled.get('eth0'), true, 'nothing changed');

  // An exception inside the view: 500 with the message only.
  view.pipelines = () => {
    throw new Error('map read failed');
  };
  const r = await app.inject('/v1/pipelines');
  t.equal(r.statusCode, 500);
  t.same(r.json(), { statusCode: 500, error: 'Internal Server Error', message: 'map read failed' });

  // Bodies are not parsed into anything that matters; a huge one is refused cleanly.
  const big = await app.inject({ method: 'POST', url: '/v1/reload', payload: 'x'.repeat(200000), headers: { 'content-type': 'text/plain' } });
  t.equal(big.statusCode, 413);
  t.equal(valid(S.errorSchema, big.json()), '');
  const badJson = await app.inject({ method: 'POST', url: '/v1/reload', payload: '{nope', headers: { 'content-type': 'application/json' } });
  t.equal(badJson.statusCode, 400);
  t.equal(valid(S.errorSchema, badJson.json()), '');
});

t.test('mutating routes need the bearer token', async (t) => {
  const dir = tmpdir(t);
  const tokenFile = path.join(dir, 'sub', 'token');
  const view = new FakeView();
  const app = await makeApi(t, view, tokenFile);
  const st = fs.statSync(tokenFile);
  t.equal(st.mode & 0o777, 0o600, 'generated with mode 0600');
  const token = fs.readFileSync(tokenFile, 'utf8').trim();
  t.ok(token.length >= 32);

  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }, { authorization: `Basic ${token}` }]) {
    for (const url of ['/v1/reload', '/v1/devices/eth0/disable', '/v1/devices/eth0/enable']) {
      const r = await app.inject({ method: 'POST', url, headers });
      t.equal(r.statusCode, 401, `${url} with ${JSON.stringify(Object.keys(headers))}`);
      t.equal(valid(S.errorSchema, r.json()), '');
    }
  }
  t.equal(view.reloads, 0);
  t.equal(view.enabled.get('eth0'), true);
  // Unknown devices still need the token first: no probing for names.
  t.equal((await app.inject({ method: 'POST', url: '/v1/devices/eth7/enable' })).statusCode, 401);

  const auth = { authorization: `Bearer ${token}` };
  const d = await app.inject({ method: 'POST', url: '/v1/devices/eth0/disable', headers: auth });
  t.equal(d.statusCode, 200);
  t.same(d.json(), { ok: true, device: 'eth0', enabled: false });
  t.equal(valid(S.deviceToggleSchema, d.json()), '');
  t.equal(view.enabled.get('eth0'), false);
  const e = await app.inject({ method: 'POST', url: '/v1/devices/eth0/enable', headers: auth });
  t.same(e.json(), { ok: true, device: 'eth0', enabled: true });
  const r = await app.inject({ method: 'POST', url: '/v1/reload', headers: auth });
  t.equal(r.statusCode, 200);
  t.same(r.json(), view.reloadResult);
  view.reloadResult = { ok: false, message: 'config.yaml:3:5: /foo is not a known key' };
  const bad = await app.inject({ method: 'POST', url: '/v1/reload', headers: auth });
  t.equal(bad.statusCode, 422);
  t.same(bad.json(), view.reloadResult);
  t.equal(valid(S.reloadSchema, bad.json()), '');
  t.equal((await app.inject({ method: 'POST', url: '/v1/devices/eth7/enable', headers: auth })).statusCode, 404);

  // GETs need no token.
  t.equal((await app.inject('/v1/status')).statusCode, 200);

  // A second start reuses the same token.
  const app2 = await makeApi(t, view, tokenFile);
  t.equal((await app2.inject({ method: 'POST', url: '/v1/reload', headers: auth })).statusCode, 422);
});

t.test('token files others can read are refused', async (t) => {
  const dir = tmpdir(t);
  const f = path.join(dir, 'token');
  fs.writeFileSync(f, 'a'.repeat(40) + '\n', { mode: 0o644 });
  fs.chmodSync(f, 0o644);
  await t.rejects(
    createApi(new FakeView(), { listen: '127.0.0.1:0', tokenFile: f, logger: silentLogger(), metrics: new Metrics() }),
    /refusing token file .*mode 0644 lets group\/others read it; run: chmod 600/,
  );
  fs.chmodSync(f, 0o640);
  await t.rejects(createApi(new FakeView(), { listen: '127.0.0.1:0', tokenFile: f, logger: silentLogger(), metrics: new Metrics() }), /mode 0640/);
  fs.chmodSync(f, 0o600);
  fs.writeFileSync(f, 'short\n');
  await t.rejects(createApi(new FakeView(), { listen: '127.0.0.1:0', tokenFile: f, logger: silentLogger(), metrics: new Metrics() }), /no usable token/);
  await t.rejects(createApi(new FakeView(), { listen: '127.0.0.1:0', tokenFile: dir, logger: silentLogger(), metrics: new Metrics() }), /not a regular file/);
  await t.rejects(
    createApi(new FakeView(), { listen: '0.0.0.0:8740', tokenFile: null, logger: silentLogger(), metrics: new Metrics() }),
    /without a token file/,
  );
});

t.test('listenApi refuses an empty host and reports the bound address', async (t) => {
  const app = await makeApi(t);
  await t.rejects(listenApi(app, ':0'), /empty host/);
  const where = await listenApi(app, '127.0.0.1:0');
  t.match(where, /^127\.0\.0\.1:\d+$/);
  const port = Number(where.split(':')[1]);
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  t.equal(JSON.parse(body).status, 'ok');
});

interface SseClient {
  chunks: string[];
  text(): string;
  close(): void;
  ended: Promise<void>;
}
function openSse(port: number, query = ''): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/events${query}` }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      res.setEncoding('utf8');
      const chunks: string[] = [];
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      res.on('data', (c: string) => chunks.push(c));
      resolve({ chunks, text: () => chunks.join(''), close: () => req.destroy(), ended });
    });
    req.on('error', (e) => (String(e).includes('socket hang up') ? undefined : reject(e)));
  });
}

t.test('SSE: events pushed by the view arrive; unsubscribed on close', async (t) => {
  const view = new FakeView();
  const app = await makeApi(t, view, null, { sseHeartbeatMs: 100 });
  const port = Number((await listenApi(app, '127.0.0.1:0')).split(':')[1]);

  const all = await openSse(port);
  const swapsOnly = await openSse(port, '?types=swap,reload');
  await waitFor(() => view.listeners.size === 2);
  view.emit({ type: 'error', message: 'attach failed on eth1' });
  view.emit({ type: 'swap', device: 'eth0', generation: 8, latency_ms: 2.5, fpms: ['parse', 'l2_bridge'] });
  view.emit({ type: 'graph', version: 4, diff: { version: 4, added: ['device:eth2'], removed: [], changed: [], causes: ['RTM_NEWLINK eth2'] } });
  await waitFor(() => all.text().includes('event: graph'));
  await waitFor(() => swapsOnly.text().includes('event: swap'));

  const events = all
    .text()
    .split('\n\n')
    .filter((b) => b.startsWith('event:'))
    .map((b) => {
      const [ev, data] = b.split('\n');
      return { type: ev.slice('event: '.length), data: JSON.parse(data.slice('data: '.length)) };
    });
  t.same(events.map((e) => e.type), ['error', 'swap', 'graph']);
  for (const e of events) {
    t.equal(e.data.type, e.type);
    t.equal(valid(S.daemonEventSchema, e.data), '', `${e.type} event validates`);
  }
  t.same(events[1].data, { type: 'swap', device: 'eth0', generation: 8, latency_ms: 2.5, fpms: ['parse', 'l2_bridge'] });
  t.notMatch(swapsOnly.text(), /event: (error|graph)/, 'filtered by ?types');

  await waitFor(() => /: keepalive\n\n/.test(all.text()), 2000);
  t.pass('heartbeat comments arrive');

  all.close();
  await waitFor(() => view.listeners.size === 1);
  t.pass('closing a client unsubscribes it');

  // Closing the server ends the remaining stream instead of hanging.
  const t0 = Date.now();
  await app.close();
  await swapsOnly.ended;
  t.ok(Date.now() - t0 < 3000, 'close did not wait on the open stream');
  t.equal(view.listeners.size, 0);
});

t.test('extra routes: the latency monitor can own GET /v1/rtt', async (t) => {
  const view = new FakeRttView();
  const svc = {
    samples: (f: { limit?: number }) => view.samples.slice(-(f.limit ?? 100)) as unknown as RttSample[],
    aggregates: () => {
      throw new Error('not used here');
    },
  } as unknown as EppingSource;
  const app = await createApi(view, {
    listen: '127.0.0.1:0',
    tokenFile: null,
    logger: silentLogger(),
    metrics: new Metrics({ defaultMetrics: false }),
    rttRoute: false,
    extraRoutes: (a) => registerEppingRoutes(a, svc),
  });
  t.teardown(() => app.close());
  const r = await app.inject('/v1/rtt?limit=1&proto=tcp');
  t.equal(r.statusCode, 200, r.body);
  t.equal(r.json().samples.length, 1);
  t.equal(valid(S.rttSchema, r.json()), '');
  t.equal((await app.inject('/v1/rtt?bogus=1')).statusCode, 400, 'unknown keys refused there too');
  const lines = await app.inject('/v1/rtt/lines?format=ppviz');
  t.equal(lines.statusCode, 200);
  t.ok(Object.keys((await app.inject('/docs/json')).json().paths).includes('/v1/rtt/lines'), 'extra routes are in the OpenAPI');
  t.equal((await app.inject('/nope')).statusCode, 404);
});
