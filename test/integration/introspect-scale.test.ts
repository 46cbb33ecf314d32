// ENOBUFS storm: with a tiny receive buffer the event socket overflows; the Introspector
// re-dumps and must end up equal to a fresh dump. And the scale probe: 100k routes, 10k FDB
// entries, 200 devices.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Introspector, countDiff, diffModels, type ResyncEvent } from '../../controller/model';
import { Lab } from '../lab';
import { settle } from './introspect-helpers';

function batch(ns: string, tool: 'ip' | 'bridge', lines: string[]): void {
  execFileSync('nsenter', [`--net=/var/run/netns/${ns}`, '--', tool, '-force', '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
}

function route(i: number, via: string): string {
  return `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 via ${via}`;
}

t.test('ENOBUFS storm: resync makes the model equal to a fresh dump', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('storm');
  lab.sh(ns, 'ip link add s0 type veth peer name s1 && ip link set s0 up && ip link set s1 up && ip addr add 198.19.255.1/24 dev s0 && ip link add br0 type bridge && ip link set br0 up');
  const intro = new Introspector({ netns: ns, rcvbuf: 4096, debounceMs: 20 });
  t.teardown(() => intro.stop());
  await intro.start();
  const resyncs: ResyncEvent[] = [];
  intro.on('resync', (r) => resyncs.push(r));

  // Thousands of changes, applied by another process while we read.
  const adds = Array.from({ length: 6000 }, (_, i) => `route add ${route(i + 256, '198.19.255.2')}`);
  batch(ns, 'ip', adds);
  batch(ns, 'bridge', Array.from({ length: 2000 }, (_, i) => `fdb add 02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} dev br0 self local`));
  batch(ns, 'ip', Array.from({ length: 3000 }, (_, i) => `route del ${route(i * 2 + 256, '198.19.255.2')}`));
  await settle(intro, 500);
  // On a loaded machine the re-dump can still be running when the burst looks settled.
  for (const end = Date.now() + 20000; resyncs.length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  await settle(intro, 500);
  t.ok(intro.model.stats.overflows > 0, `the socket overflowed (${intro.model.stats.overflows} times)`);
  t.ok(resyncs.length > 0 && resyncs.every((r) => r.reason === 'overflow'), `${resyncs.length} resyncs`);
  t.ok(resyncs.some((r) => r.changes > 0), 'a resync found changes the lost events carried');

  const fresh = new Introspector({ netns: ns });
  t.teardown(() => fresh.stop());
  await fresh.start();
  const d = diffModels(intro.model, fresh.model);
  t.equal(countDiff(d), 0, `no drift: ${JSON.stringify(d).slice(0, 500)}`);
  t.equal([...intro.model.routes.values()].filter((r) => r.dstLen === 32 && r.family === 4 && r.table === 254).length, 3000);
  t.equal(JSON.stringify(intro.graph.services), JSON.stringify(fresh.graph.services), 'same services and verdicts');
});

t.test('scale probe: 100k routes, 10k FDB entries, 200 devices', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('scale');
  const links: string[] = ['link add br0 type bridge', 'link set br0 up'];
  for (let i = 0; i < 100; i++) {
    links.push(`link add sa${i} type veth peer name sb${i}`);
    links.push(`link set sa${i} master br0`, `link set sa${i} up`, `link set sb${i} up`);
  }
  links.push('link add r0 type veth peer name r1', 'link set r0 up', 'link set r1 up', 'addr add 198.19.255.1/24 dev r0');
  batch(ns, 'ip', links);
  batch(ns, 'ip', Array.from({ length: 100_000 }, (_, i) => `route add ${route(i + 256, '198.19.255.2')}`));
  const fdb: string[] = [];
  for (let i = 0; i < 10_000; i++) fdb.push(`fdb add 02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} dev sa${i % 100} master static`);
  batch(ns, 'bridge', fdb);
  const script = path.resolve(__dirname, '..', '..', 'controller', 'model', 'scale.js');
  const out = execFileSync(process.execPath, ['--expose-gc', script, ns], { encoding: 'utf8' });
  const r = JSON.parse(out) as { startMs: number; rssBytes: number; routes: number; fdb: number; links: number };
  t.comment(`scale: ${out.trim()}`);
  t.ok(r.routes >= 100_000, `${r.routes} routes`);
  t.ok(r.fdb >= 10_000, `${r.fdb} fdb entries`);
  t.ok(r.links >= 200, `${r.links} links`);
  // ~1.2-1.7 s on this 2-core VM when idle; tap runs two files at once, so the guard is looser.
  t.ok(r.startMs < 4000, `start() took ${r.startMs.toFixed(0)} ms (goal < 2000, guard < 4000)`);
  // Measured here: ~180 MB (Node's own ~50 MB + ~80 MB retained model + GC headroom); the
  // 150 MB goal is not met yet, so this guards against regressions only.
  t.ok(r.rssBytes < 220 * 1024 * 1024, `RSS ${(r.rssBytes / 1048576).toFixed(0)} MB (goal < 150, guard < 220)`);
});
