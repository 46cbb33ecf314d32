// Child process of the control-plane-scale scenario, for a clean RSS figure:
//   node --expose-gc dist/bench/scale-probe.js <netns> <burst-routes> <first-index>
// Starts an Introspector on the namespace (start-up time, RSS), then applies a burst of
// route additions with `ip -batch` and reports how long until the model held all of them.
import { spawn } from 'child_process';
import { Introspector } from '../controller/model';

export function scaleRoute(i: number, via: string): string {
  return `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 via ${via}`;
}

async function main(): Promise<void> {
  const [ns, burstArg, firstArg] = process.argv.slice(2);
  const burst = Number(burstArg);
  const first = Number(firstArg);
  global.gc?.();
  const t0 = process.hrtime.bigint();
  const intro = new Introspector({ netns: ns, netfilterIntervalMs: 60_000, sysctlIntervalMs: 60_000 });
  await intro.start();
  const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = process.memoryUsage().rss;
  const base = intro.model.routes.size;
  const lines = Array.from({ length: burst }, (_, i) => `route add ${scaleRoute(first + i, '198.19.255.2')}`).join('\n') + '\n';
  const b0 = process.hrtime.bigint();
  const child = spawn('nsenter', [`--net=/var/run/netns/${ns}`, '--', 'ip', '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
  let batchMs = 0;
  const done = new Promise<void>((resolve) => child.on('exit', () => {
    batchMs = Number(process.hrtime.bigint() - b0) / 1e6;
    resolve();
  }));
  child.stdin.end(lines);
  const deadline = Date.now() + 60_000;
  while (intro.model.routes.size < base + burst && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const burstMs = Number(process.hrtime.bigint() - b0) / 1e6;
  await done;
  const m = intro.model;
  const out = {
    startMs,
    rssBytes: rss,
    burstMs,
    batchMs,
    absorbed: m.routes.size - base,
    rssAfterBurstBytes: process.memoryUsage().rss,
    links: m.links.size,
    routes: m.routes.size,
    fdb: m.fdb.size,
    overflows: m.stats.overflows,
  };
  intro.stop();
  process.stdout.write(JSON.stringify(out) + '\n');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
