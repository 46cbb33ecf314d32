// Scale probe for the benchmark: how long start() takes and how much memory the model
// needs in a namespace with many routes, FDB entries and devices. Run it in a fresh process
// for a clean RSS figure:  node dist/controller/model/scale.js <netns>
import { Introspector } from './introspector';

export interface ScaleResult {
  netns: string;
  startMs: number;
  rssBytes: number; // process RSS after start() (includes Node itself, ~40 MB)
  rssDeltaBytes: number; // RSS growth across start()
  heapUsedBytes: number;
  links: number;
  routes: number;
  fdb: number;
  neighbours: number;
  graphNodes: number;
}

export async function probeIntrospectionScale(netns: string): Promise<ScaleResult> {
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const intro = new Introspector({ netns, netfilterIntervalMs: 60_000, sysctlIntervalMs: 60_000 });
  try {
    await intro.start();
    const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const mem = process.memoryUsage();
    const m = intro.model;
    return {
      netns,
      startMs,
      rssBytes: mem.rss,
      rssDeltaBytes: mem.rss - rss0,
      heapUsedBytes: mem.heapUsed,
      links: m.links.size,
      routes: m.routes.size,
      fdb: m.fdb.size,
      neighbours: m.neighbours.size,
      graphNodes: intro.graph.nodes.length,
    };
  } finally {
    intro.stop();
  }
}

if (require.main === module) {
  const ns = process.argv[2];
  if (!ns) {
    console.error('usage: scale.js <netns>');
    process.exit(2);
  }
  probeIntrospectionScale(ns).then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error((e as Error).message);
      process.exit(1);
    },
  );
}
