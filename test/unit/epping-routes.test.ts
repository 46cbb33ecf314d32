// The HTTP routes over a fake source: filters reach the service, responses match the schemas.
import t from 'tap';
import Fastify from 'fastify';
import Ajv from 'ajv';
import { registerEppingRoutes, aggregatesSchema, rttSamplesSchema } from '../../controller/epping/routes';
import { SampleStore, type SampleFilter } from '../../controller/epping/store';
import type { AggregateReport } from '../../controller/epping/aggregate';
import type { RttSample } from '../../controller/epping/sample';

const base: RttSample = {
  time: '2024-05-01T10:11:12.345Z',
  time_us: 1714558272345678,
  src: '198.18.1.2',
  dst: '198.18.2.2',
  sport: 40000,
  dport: 5201,
  proto: 'tcp',
  rtt_us: 2000,
  min_rtt_us: 1000,
  srtt_us: 1500,
  device: 'wan0',
  side: 'wan',
  req_device: 'lan0',
  id: 1,
};

const store = new SampleStore(100);
store.add(base);
store.add({ ...base, proto: 'icmp', device: 'lan0', side: 'lan', dst: '198.18.1.9', rtt_us: 300 });
const report: AggregateReport = {
  interval_s: 10,
  start: '2024-05-01T10:11:02.000Z',
  end: '2024-05-01T10:11:12.000Z',
  prefixes: [
    { prefix: '198.18.2.0/24', ipv: 4, device: 'wan0', side: 'wan', count: 2, min_us: 1, mean_us: 2, p50_us: 2, p95_us: 3, max_us: 3, histogram: [{ ge_us: 1.024, lt_us: 1.28, count: 2 }] },
  ],
};
const seen: SampleFilter[] = [];
const src = {
  samples: (f: SampleFilter) => {
    seen.push(f);
    return store.query(f);
  },
  aggregates: () => report,
};

const ajv = new Ajv({ strict: false });

t.test('routes', async (tt) => {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
  registerEppingRoutes(app, src);
  await app.ready();
  tt.teardown(() => app.close());

  let r = await app.inject({ method: 'GET', url: '/v1/rtt' });
  tt.equal(r.statusCode, 200);
  const body = r.json();
  tt.ok(ajv.validate(rttSamplesSchema, body), 'samples schema');
  tt.equal(body.samples.length, 2);
  tt.equal(seen.at(-1)?.limit, 100, 'default limit');

  r = await app.inject({ method: 'GET', url: '/v1/rtt?proto=icmp&side=lan&limit=5&dst=198.18.1.0/24' });
  tt.same(r.json().samples.map((s: RttSample) => s.rtt_us), [300]);
  tt.match(seen.at(-1), { proto: 'icmp', side: 'lan', limit: 5, dst: '198.18.1.0/24' });

  r = await app.inject({ method: 'GET', url: '/v1/rtt?proto=udp' });
  tt.equal(r.statusCode, 400, 'bad enum');
  r = await app.inject({ method: 'GET', url: '/v1/rtt?bogus=1' });
  tt.equal(r.statusCode, 400, 'unknown key');
  r = await app.inject({ method: 'GET', url: '/v1/rtt?src=not-an-address' });
  tt.equal(r.statusCode, 400, 'bad address answers 400');

  r = await app.inject({ method: 'GET', url: '/v1/rtt/lines?format=ppviz&proto=tcp' });
  tt.equal(r.statusCode, 200);
  tt.match(r.headers['content-type'], /text\/plain/);
  tt.equal(r.body, '1714558272.345678000 0.002000000 0.001000000 198.18.1.2:40000+198.18.2.2:5201\n');

  r = await app.inject({ method: 'GET', url: '/v1/rtt/aggregates' });
  tt.equal(r.statusCode, 200);
  tt.ok(ajv.validate(aggregatesSchema, r.json()), 'aggregates schema');
  tt.same(r.json(), report);
});

t.test('samples route can be left to the API server', async (tt) => {
  const app = Fastify();
  registerEppingRoutes(app, src, { samples: false });
  await app.ready();
  tt.teardown(() => app.close());
  tt.equal((await app.inject({ method: 'GET', url: '/v1/rtt' })).statusCode, 404);
  tt.equal((await app.inject({ method: 'GET', url: '/v1/rtt/aggregates' })).statusCode, 200);
});
