// JSON Schemas of every API response. Fastify serializes with them, OpenAPI is generated from
// them, and the unit tests validate real responses against them.

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const strList = { type: 'array', items: str } as const;

function obj(properties: Record<string, unknown>, required: string[] = Object.keys(properties)): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties, required };
}

export const errorSchema = obj({ statusCode: int, error: str, message: str });

const attrValue = {
  anyOf: [str, num, bool, { type: 'null' }, strList, { type: 'array', items: num }],
};

export const graphSchema = obj({
  version: int,
  nodes: {
    type: 'array',
    items: obj({
      id: str,
      kind: { enum: ['device', 'bridge', 'port', 'fdb', 'addresses', 'routes', 'neighbours', 'qdisc', 'netfilter', 'xfrm', 'sysctl', 'capabilities'] },
      name: str,
      attrs: { type: 'object', additionalProperties: attrValue },
    }),
  },
  edges: { type: 'array', items: obj({ from: str, to: str, kind: { enum: ['member-of', 'depends-on', 'egress-via'] } }) },
  services: {
    type: 'array',
    items: obj({
      id: str,
      kind: { enum: ['l2-bridge', 'l3-router', 'latency-monitor', 'queueing'] },
      devices: strList,
      verdict: { enum: ['accelerated', 'slow-path'] },
      reasons: strList,
      // l3-router: ipv4, ipv6 (accelerated per family), ipv4_devices, ipv6_devices
      attrs: { type: 'object', additionalProperties: attrValue },
    }, ['id', 'kind', 'devices', 'verdict', 'reasons']),
  },
});

export const graphDiffSchema = obj({ version: int, added: strList, removed: strList, changed: strList, causes: strList });

const errorInfo = obj({ time: str, message: str, detail: str }, ['time', 'message']);

export const statusSchema = obj({
  version: str,
  netns: { anyOf: [str, { type: 'null' }] },
  uptime_s: num,
  generation: int,
  managed_devices: strList,
  capabilities: obj({
    kernel: str,
    btf: bool,
    bpffs: bool,
    missing: strList,
    devices: { type: 'object', additionalProperties: obj({ driver: str, xdp_native: bool }) },
  }),
  last_error: { anyOf: [{ type: 'null' }, errorInfo] },
});

export const pipelineSchema = obj({
  ifname: str,
  ifindex: int,
  mode: { enum: ['native', 'generic', 'none'] },
  generation: int,
  fpms: strList,
  programs: strList,
  knobs: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { anyOf: [num, bool] } } },
});
export const pipelinesSchema = obj({ pipelines: { type: 'array', items: pipelineSchema } });

const counterValue = obj({ packets: num, bytes: num });
export const deviceStatsSchema = obj({
  ifname: str,
  ifindex: int,
  fastpath_packets: num,
  fastpath_bytes: num,
  slowpath_packets: num,
  slowpath_bytes: num,
  pass_reasons: { type: 'object', additionalProperties: num },
  fpms: { type: 'array', items: obj({ name: str, counters: { type: 'object', additionalProperties: counterValue } }) },
});
export const statsSchema = obj({ devices: { type: 'array', items: deviceStatsSchema } });

export const healthSchema = obj({ status: { enum: ['ok'] }, uptime_s: num });
export const reloadSchema = obj({ ok: bool, message: str });
export const deviceToggleSchema = obj({ ok: bool, device: str, enabled: bool });
export const rttSchema = obj({ samples: { type: 'array', items: { type: 'object', additionalProperties: true } } });

export const eventTypes = ['graph', 'swap', 'error', 'reload', 'rtt'] as const;
export const daemonEventSchema = {
  oneOf: [
    obj({ type: { const: 'graph' }, version: int, diff: graphDiffSchema }),
    obj({ type: { const: 'swap' }, device: str, generation: int, latency_ms: num, fpms: strList }),
    obj({ type: { const: 'error' }, message: str, detail: str }, ['type', 'message']),
    obj({ type: { const: 'reload' }, ok: bool, message: str }),
    obj({ type: { const: 'rtt' }, sample: { type: 'object', additionalProperties: true } }),
  ],
};

// Querystrings and params: no unknown keys (the server's ajv does not strip them, it refuses them).
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
export const graphQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { format: { type: 'string', enum: ['json', 'dot'], default: 'json' } },
} as const;
export const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    types: { type: 'string', pattern: `^(${eventTypes.join('|')})(,(${eventTypes.join('|')}))*$`, description: 'comma-separated event types to receive (default: all)' },
  },
} as const;
export const rttQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 100000, default: 100 } },
} as const;
// Linux: 1-15 bytes, no '/', ':' or whitespace.
export const ifnameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['ifname'],
  properties: { ifname: { type: 'string', pattern: '^[^/:\\s]{1,15}$' } },
} as const;
