// HTTP routes of the latency monitor: a fastify plugin over an EppingService.
import type { FastifyInstance } from 'fastify';
import { formatSample, SAMPLE_FORMATS, type SampleFormat } from './format';
import type { AggregateReport } from './aggregate';
import type { RttSample } from './sample';
import type { SampleFilter } from './store';

// What the routes need from the service (EppingService satisfies it; tests may fake it).
export interface EppingSource {
  samples(filter: SampleFilter): RttSample[];
  aggregates(): AggregateReport;
}

const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const int = { type: 'integer' } as const;
const protoEnum = { type: 'string', enum: ['tcp', 'icmp', 'icmpv6'] } as const;

const filterProps = {
  limit: { type: 'integer', minimum: 1, maximum: 100000, default: 100, description: 'newest N samples, returned oldest first' },
  src: { type: 'string', maxLength: 64, description: 'address or CIDR of the end that sent the timestamped message' },
  dst: { type: 'string', maxLength: 64, description: 'address or CIDR of the end that replied' },
  host: { type: 'string', maxLength: 64, description: 'address or CIDR matching either end' },
  proto: protoEnum,
  device: { type: 'string', pattern: '^[^/:\\s]{1,15}$', description: 'device the reply came in on' },
  side: { type: 'string', maxLength: 64, description: 'side label of that device (e.g. wan, lan)' },
} as const;

export const rttFilterQuery = { type: 'object', additionalProperties: false, properties: filterProps } as const;
export const rttLinesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...filterProps, format: { type: 'string', enum: SAMPLE_FORMATS, default: 'standard' } },
} as const;

export const rttSampleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['time', 'time_us', 'src', 'dst', 'sport', 'dport', 'proto', 'rtt_us', 'min_rtt_us', 'srtt_us', 'device', 'side', 'req_device', 'id'],
  properties: {
    time: { type: 'string', description: 'ISO 8601, reply arrival' },
    time_us: { type: 'number', description: 'Unix time in microseconds' },
    src: str,
    dst: str,
    sport: int,
    dport: int,
    proto: protoEnum,
    rtt_us: num,
    min_rtt_us: num,
    srtt_us: num,
    device: str,
    side: str,
    req_device: str,
    id: { type: 'integer', description: 'TCP TSval or ICMP echo sequence that matched' },
  },
} as const;

export const rttSamplesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['samples'],
  properties: { samples: { type: 'array', items: rttSampleSchema } },
} as const;

export const aggregatesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['interval_s', 'start', 'end', 'prefixes'],
  properties: {
    interval_s: num,
    start: { type: ['string', 'null'] },
    end: { type: ['string', 'null'] },
    prefixes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['prefix', 'ipv', 'device', 'side', 'count', 'min_us', 'mean_us', 'p50_us', 'p95_us', 'max_us', 'histogram'],
        properties: {
          prefix: str,
          ipv: { type: 'integer', enum: [4, 6] },
          device: str,
          side: str,
          count: int,
          min_us: num,
          mean_us: num,
          p50_us: num,
          p95_us: num,
          max_us: num,
          histogram: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['ge_us', 'lt_us', 'count'],
              properties: { ge_us: num, lt_us: num, count: int },
            },
          },
        },
      },
    },
  },
} as const;

const errorSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { statusCode: int, error: str, message: str },
  required: ['statusCode', 'error', 'message'],
} as const;

export interface EppingRoutesOptions {
  // Register GET /v1/rtt. Off when the API server already serves it through its RttSource.
  samples?: boolean;
}

type FilterQuery = SampleFilter;

// Adds GET /v1/rtt, GET /v1/rtt/lines and GET /v1/rtt/aggregates. Bad filters answer 400.
export function registerEppingRoutes(app: FastifyInstance, svc: EppingSource, opts: EppingRoutesOptions = {}): void {
  const errors = { 400: errorSchema, 500: errorSchema };
  if (opts.samples !== false) {
    app.get<{ Querystring: FilterQuery }>(
      '/v1/rtt',
      {
        schema: {
          summary: 'Recent passive RTT samples (latency monitor)',
          querystring: rttFilterQuery,
          response: { 200: rttSamplesSchema, ...errors },
        },
      },
      async (req) => ({ samples: svc.samples(req.query) }),
    );
  }
  app.get<{ Querystring: FilterQuery & { format: SampleFormat } }>(
    '/v1/rtt/lines',
    {
      schema: {
        summary: 'Recent RTT samples as text, one per line (standard, json or ppviz, as pping)',
        querystring: rttLinesQuery,
        response: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors },
      },
    },
    async (req, reply) => {
      const { format, ...filter } = req.query;
      const lines = svc.samples(filter).map((s) => formatSample(s, format));
      return reply.type('text/plain; charset=utf-8').send(lines.length ? `${lines.join('\n')}\n` : '');
    },
  );
  app.get(
    '/v1/rtt/aggregates',
    {
      schema: {
        summary: 'Per-prefix RTT histograms of the last aggregation interval',
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: aggregatesSchema, ...errors },
      },
    },
    async () => svc.aggregates(),
  );
}
