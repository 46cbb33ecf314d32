import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { DaemonView } from '../daemon/view';
import type { Logger } from '../util/log';
import { parseListen, formatListen, isLoopbackHost } from '../config/listen';
import { Metrics } from './metrics';
import { loadOrCreateToken, bearerMatches } from './auth';
import { EventStreams } from './events';
import * as S from './schemas';

export interface ApiOptions {
  listen: string; // host:port; only used to decide whether running without a token is allowed
  // Token for mutating routes. null disables authentication, allowed on a loopback listen only.
  tokenFile: string | null;
  logger: Logger;
  metrics: Metrics;
  version?: string;
  sseHeartbeatMs?: number; // default 15000
  // More routes (e.g. the latency monitor's registerEppingRoutes), added before the app is sealed.
  extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
  // false: leave GET /v1/rtt to extraRoutes (default: served here from view.rttSamples()).
  rttRoute?: boolean;
}

// Optional extension of DaemonView served at GET /v1/rtt (filled by the ePPing work).
export interface RttSource {
  rttSamples(limit: number): Record<string, unknown>[];
}
function hasRtt(v: DaemonView): v is DaemonView & RttSource {
  return typeof (v as Partial<RttSource>).rttSamples === 'function';
}

const ERRNO_STATUS: Record<string, number> = { ENODEV: 404, ENOTSUP: 409, EOPNOTSUPP: 409, EBUSY: 409 };
const STATUS_NAME: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_NAME[statusCode] ?? 'Error', message };
}

export async function createApi(view: DaemonView, opts: ApiOptions): Promise<FastifyInstance> {
  const addr = parseListen(opts.listen);
  let token: string | null = null;
  if (opts.tokenFile !== null) token = loadOrCreateToken(opts.tokenFile, opts.logger);
  else if (!isLoopbackHost(addr.host)) {
    throw new Error(`refusing to serve the API on ${opts.listen} without a token file`);
  } else opts.logger.warn('API authentication is disabled (no token file)');

  const started = Date.now();
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'api' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Unknown query keys are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }) as unknown as FastifyInstance;

  opts.metrics.bind({ stats: () => view.stats(), status: () => view.status() });
  const streams = new EventStreams(view, opts.sseHeartbeatMs ?? 15000);

  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.addHook('preClose', async () => streams.closeAll());

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const code = (err as { code?: unknown }).code;
    let status = typeof code === 'string' && ERRNO_STATUS[code] ? ERRNO_STATUS[code] : (err.statusCode ?? 500);
    if (status < 400 || status > 599) status = 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      opts.metrics.incErrors('api');
    }
    void reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, err.message || 'error'));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'slipstream', description: 'Transparent XDP acceleration: daemon API', version: opts.version ?? '0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  // Assets come from the package itself; nothing is fetched from a CDN.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const auth = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (token === null) return undefined;
    const h = req.headers.authorization;
    if (bearerMatches(h, token)) return undefined;
    req.log.warn({ url: req.url }, 'rejected a request with a missing or wrong token');
    return reply.code(401).send(errorBody(401, 'missing or wrong bearer token (see api.token_file)'));
  };
  const errors = { 400: S.errorSchema, 404: S.errorSchema, 500: S.errorSchema };
  const authErrors = { ...errors, 401: S.errorSchema, 409: S.errorSchema };

  app.get('/healthz', { schema: { summary: 'Liveness', querystring: S.noQuery, response: { 200: S.healthSchema, ...errors } } }, async () => ({
    status: 'ok' as const,
    uptime_s: (Date.now() - started) / 1000,
  }));

  app.get('/v1/status', { schema: { summary: 'Daemon status', querystring: S.noQuery, response: { 200: S.statusSchema, ...errors } } }, async () =>
    view.status(),
  );

  app.get<{ Querystring: { format: 'json' | 'dot' } }>(
    '/v1/graph',
    {
      schema: {
        summary: 'Dependency graph (JSON, or Graphviz dot with ?format=dot)',
        querystring: S.graphQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: S.graphSchema },
              'text/vnd.graphviz': { schema: { type: 'string' } },
            },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      if (req.query.format === 'dot') {
        return reply.type('text/vnd.graphviz; charset=utf-8').send(view.graphDot());
      }
      return reply.type('application/json; charset=utf-8').send(view.graph());
    },
  );

  app.get('/v1/pipelines', { schema: { summary: 'Live pipelines per device', querystring: S.noQuery, response: { 200: S.pipelinesSchema, ...errors } } }, async () => ({
    pipelines: view.pipelines(),
  }));

  app.get('/v1/stats', { schema: { summary: 'Fast-path and slow-path counters per device', querystring: S.noQuery, response: { 200: S.statsSchema, ...errors } } }, async () => ({
    devices: view.stats(),
  }));

  if (opts.rttRoute !== false) {
    app.get<{ Querystring: { limit: number } }>(
      '/v1/rtt',
      { schema: { summary: 'Recent passive RTT samples', querystring: S.rttQuery, response: { 200: S.rttSchema, ...errors, 409: S.errorSchema } } },
      async (req) => {
        if (!hasRtt(view)) {
          throw Object.assign(new Error('RTT monitoring is not available in this daemon'), { code: 'ENOTSUP' });
        }
        return { samples: view.rttSamples(req.query.limit) };
      },
    );
  }


  app.get<{ Querystring: { types?: string } }>(
    '/v1/events',
    {
      schema: {
        summary: 'Server-Sent Events: graph, swap, error, reload, rtt',
        description: 'Each event is "event: <type>\\ndata: <DaemonEvent JSON>\\n\\n"; a comment line every 15 s keeps the stream alive.',
        querystring: S.eventsQuery,
        response: { 200: { content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors },
      },
    },
    async (req, reply) => {
      const types = req.query.types ? new Set(req.query.types.split(',')) : null;
      streams.serve(req, reply, types);
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        querystring: S.noQuery,
        response: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors },
      },
    },
    async (_req, reply) => {
      const text = await opts.metrics.render();
      return reply.type(opts.metrics.contentType).send(text);
    },
  );

  app.post(
    '/v1/reload',
    {
      preHandler: auth,
      schema: {
        summary: 'Reload the config file (a bad file is refused and the running config stays)',
        security: [{ bearer: [] }],
        querystring: S.noQuery,
        response: { 200: S.reloadSchema, 422: S.reloadSchema, ...authErrors },
      },
    },
    async (_req, reply) => {
      const r = await view.reload();
      return reply.code(r.ok ? 200 : 422).send({ ok: r.ok, message: r.message });
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: { ifname: string } }>(
      `/v1/devices/:ifname/${action}`,
      {
        preHandler: auth,
        schema: {
          summary: `${action === 'enable' ? 'Accelerate' : 'Stop accelerating'} a device`,
          security: [{ bearer: [] }],
          params: S.ifnameParams,
          querystring: S.noQuery,
          response: { 200: S.deviceToggleSchema, ...authErrors },
        },
      },
      async (req) => {
        await view.setDeviceEnabled(req.params.ifname, action === 'enable');
        return { ok: true, device: req.params.ifname, enabled: action === 'enable' };
      },
    );
  }

  if (opts.extraRoutes) await opts.extraRoutes(app);
  await app.ready();
  return app;
}

// Starts listening; returns the bound address (useful with port 0).
export async function listenApi(app: FastifyInstance, listen: string): Promise<string> {
  const a = parseListen(listen);
  await app.listen({ host: a.host, port: a.port });
  const bound = app.server.address();
  const actual = bound && typeof bound === 'object' ? formatListen({ host: bound.address, port: bound.port }) : listen;
  if (!isLoopbackHost(a.host)) app.log.warn({ listen: actual }, 'API listening beyond loopback: status, graph and stats are readable from the network');
  app.log.info({ listen: actual }, 'API listening');
  return actual;
}
