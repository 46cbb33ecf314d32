// `slipstream demo` end to end, as a user runs it: exits 0, prints every section with real
// fast-path counts, and leaves no namespace, pin, marker or daemon behind.
import t from 'tap';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { alive } from '../../controller/demo/daemon-child';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

// Rows of the first table after `title`, up to the first blank line.
function section(out: string, title: string): string[] {
  const start = out.indexOf(title);
  if (start < 0) return [];
  const lines = out.slice(start).split('\n').slice(1);
  const end = lines.indexOf('');
  return lines.slice(0, end < 0 ? lines.length : end);
}

t.test('npm run demo', async (t) => {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'slipstream'), 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGINT');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const t0 = Date.now();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const seconds = (Date.now() - t0) / 1000;
  t.comment(out);

  t.equal(code, 0, `exit 0 (stderr: ${err.slice(-500)})`);
  t.ok(seconds < 90, `finished in ${seconds.toFixed(1)} s`);

  const services = section(out, '== What slipstream decided');
  t.match(services.join('\n'), /^l2-bridge:br0\s+accelerated\s+lan1, lan2$/m, 'the bridge service is accelerated on both LAN ports');
  t.match(services.join('\n'), /^l3-router\s+accelerated\s+lan1, lan2, wan0$/m, 'routing is accelerated on every port');

  const pipes = section(out, '== Pipelines per device');
  t.equal(pipes[0]?.split(/\s{2,}/)[0], 'DEVICE', 'pipelines table header');
  // The programs really chained: parse runs right before l3-router, folded into it.
  for (const [dev, chain] of [['lan1', 'l2-bridge > parse\\+l3-router'], ['lan2', 'l2-bridge > parse\\+l3-router'], ['wan0', 'parse\\+l3-router']]) {
    t.match(pipes.join('\n'), new RegExp(`^${dev}\\s+native\\s+\\d+\\s+${chain}$`, 'm'), `${dev}: native, ${chain}`);
  }

  const counters = section(out, '== Fast path vs slow path').slice(1);
  t.equal(counters.length, 3, 'one counter row per device');
  for (const row of counters) {
    const [dev, fast, slow] = row.split(/\s{2,}/);
    const f = Number(fast.replace(/,/g, ''));
    t.ok(f > 0, `${dev}: ${fast} fast-path packets`);
    t.ok(Number(slow.replace(/,/g, '')) < f, `${dev}: fewer slow-path (${slow}) than fast-path packets`);
  }
  const lan1 = counters.find((r) => r.startsWith('lan1'));
  t.ok(Number(lan1?.split(/\s{2,}/)[1].replace(/,/g, '')) > 10000, 'the TCP runs crossed lan1 on the fast path');
  t.match(out, /60\/60 replies/, 'every ping answered');
  t.match(out, /2000\/2000 delivered/, 'every UDP datagram delivered');

  t.match(section(out, '== Before / after').join('\n'), /TCP LAN -> WAN throughput .*Gbit\/s.*Gbit\/s/, 'before/after throughput');
  t.match(out, /veth lab understates/, 'says what a veth lab can and cannot show');

  t.match(out, /l3-router is slow-path \(netfilter has rules in the forward path/, 'the rule sends routing to the slow path, with the reason');
  t.match(out, /UDP to port \d+: 0\/200 delivered \(the rule is obeyed\)/, 'nothing bypasses the rule');
  t.match(out, /l3-router is accelerated on lan1, lan2; l2-bridge is accelerated/, 'a rule bounded to wan0 only takes wan0 off the fast path');
  t.match(out, /UDP WAN -> LAN to port \d+: 0\/200 delivered \(the rule is obeyed\); LAN -> WAN: 200\/200 delivered, (\d+) on the fast path/, 'obeyed inbound, fast outbound');
  const outFast = Number(/LAN -> WAN: 200\/200 delivered, (\d+) on the fast path/.exec(out)?.[1] ?? 0);
  t.ok(outFast >= 200, `LAN -> WAN stayed on the fast path (${outFast})`);
  t.match(out, /l3-router is accelerated again; pipelines: .*wan0/, 'and back on every port once the rule is gone');

  const ns = /lab namespaces: (.*)$/m.exec(out)?.[1].trim().split(/\s+/) ?? [];
  t.equal(ns.length, 4, `the lab had 4 namespaces (${ns.join(' ')})`);
  for (const n of ns) {
    t.notOk(fs.existsSync(`/var/run/netns/${n}`), `${n} deleted`);
    t.notOk(fs.existsSync(`/sys/fs/bpf/slipstream/${n}`), `no pins for ${n}`);
  }
  const prefix = ns[0]?.split('-')[0];
  t.notOk(prefix && fs.existsSync(`/run/slipstream-lab/${prefix}.json`), 'lab marker removed');
  const pid = Number(/daemon ready \(pid (\d+)/.exec(out)?.[1]);
  t.ok(pid > 0 && !alive(pid), `daemon ${pid} is gone`);
  t.match(out, /daemon stopped \(exit 0\); its programs are detached and its pins removed/, 'the daemon cleaned up after itself');
  t.match(out, /cleaned up: 4 namespaces deleted, no pins left/);
});

t.test('Ctrl-C while the daemon runs cleans up too', async (t) => {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'slipstream'), 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/traffic: iperf3 TCP LAN -> WAN/.test(out)) resolve();
    });
    void exited.then(() => reject(new Error(`demo exited early: ${out}`)));
  });
  process.kill(child.pid!, 'SIGINT');
  t.equal(await exited, 130, 'exit status 130 after SIGINT');
  t.match(out, /SIGINT: stopping the daemon and deleting the lab/);
  const ns = /lab namespaces: (.*)$/m.exec(out)?.[1].trim().split(/\s+/) ?? [];
  t.equal(ns.length, 4);
  for (const n of ns) {
    t.notOk(fs.existsSync(`/var/run/netns/${n}`), `${n} deleted`);
    t.notOk(fs.existsSync(`/sys/fs/bpf/slipstream/${n}`), `no pins for ${n}`);
  }
  const pid = Number(/daemon ready \(pid (\d+)/.exec(out)?.[1]);
  t.ok(pid > 0 && !alive(pid), `daemon ${pid} is gone`);
});
