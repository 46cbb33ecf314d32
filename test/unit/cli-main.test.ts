import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as net from 'net';
import { execFile } from 'child_process';
import { main, type CliIo } from '../../controller/cli/main';
import { createApi, listenApi, Metrics } from '../../controller/api';
import { silentLogger } from '../../controller/util/log';
import { FakeView, FakeRttView, waitFor } from './api-fixtures';
import type { DaemonView } from '../../controller/daemon/view';
import { formatSample } from '../../controller/epping/format';
import type { RttSample } from '../../controller/epping/sample';

const repo = path.resolve(__dirname, '..', '..', '..');

interface Run {
  code: number;
  out: string;
  err: string;
}
async function cli(argv: string[], signal?: AbortSignal): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => (out += s), err: (s) => (err += s), signal };
  const code = await main(argv, io);
  return { code, out, err };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function daemon(t: { teardown(fn: () => unknown): void }, view: DaemonView, tokenFile: string | null = null): Promise<string> {
  const app = await createApi(view, { listen: '127.0.0.1:0', tokenFile, logger: silentLogger(), metrics: new Metrics({ defaultMetrics: false }) });
  t.teardown(() => app.close());
  return listenApi(app, '127.0.0.1:0');
}

function tmpdir(t: { teardown(fn: () => unknown): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-cli-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// Misalignments between a table's header and one row: left-aligned cells start under their
// header, right-aligned ones end under its end.
function misaligned(text: string, headers: string[], rowKey: string, cells: string[]): string[] {
  const lines = text.split('\n');
  const h = lines.find((l) => headers.every((c) => l.includes(c)) && l.startsWith(headers[0]));
  const row = lines.find((l) => l.startsWith(rowKey + ' '));
  if (!h || !row) return [`no header or no row ${rowKey}`];
  const bad: string[] = [];
  let from = 0;
  headers.forEach((c, i) => {
    const at = h.indexOf(c, from);
    from = at + c.length;
    const cell = cells[i];
    if (cell === undefined) return;
    const left = row.slice(at, at + cell.length) === cell;
    const right = row.slice(at + c.length - cell.length, at + c.length) === cell && (at + c.length === row.length || row[at + c.length] === ' ');
    if (!left && !right) bad.push(`"${cell}" not under ${c}`);
  });
  return bad;
}

t.test('an unreachable daemon: non-zero exit and one line', async (t) => {
  const port = await freePort();
  for (const argv of [['status'], ['graph'], ['graph', '--dot'], ['pipelines'], ['stats', '--json'], ['rtt'], ['rtt', '--follow'], ['reload'], ['enable', 'eth0'], ['disable', 'eth0']]) {
    const r = await cli([...argv, '--api', `127.0.0.1:${port}`, '--token-file', '/nonexistent/token']);
    t.equal(r.code, 1, argv.join(' '));
    t.equal(r.out, '');
    t.equal(r.err, `slipstream: cannot reach the daemon at 127.0.0.1:${port} (ECONNREFUSED); is slipstream running?\n`, argv.join(' '));
  }
});

t.test('the real launcher exits non-zero with that one line', async (t) => {
  const port = await freePort();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(repo, 'bin', 'slipstream'), 'status', '--api', `127.0.0.1:${port}`], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  t.match(r.stderr, /cannot reach the daemon at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); is slipstream running\?/);
});

t.test('tables render from the daemon data', async (t) => {
  const api = await daemon(t, new FakeView());
  const st = await cli(['status', '--api', api]);
  t.equal(st.code, 0, st.err);
  t.match(st.out, /^version\s+0\.1\.0$/m);
  t.match(st.out, /^uptime\s+1h 2m 5s$/m);
  t.match(st.out, /^generation\s+7$/m);
  t.match(st.out, /^managed devices\s+eth0, eth1$/m);
  t.match(st.out, /^kernel\s+6\.18\.0 \(BTF yes, bpffs yes\)$/m);
  t.match(st.out, /^last error\s+2026-01-01T00:00:00\.000Z verifier rejected l3_router$/m);
  t.match(st.out, /^ {4}R1 invalid mem access$/m);
  t.same(misaligned(st.out, ['DEVICE', 'DRIVER', 'NATIVE XDP'], 'eth1', ['eth1', 'e1000', 'no']), []);

  const pl = await cli(['pipelines', '--api', api]);
  t.equal(pl.code, 0);
  t.same(misaligned(pl.out, ['DEVICE', 'IFINDEX', 'MODE', 'GEN', 'MODULES', 'KNOBS'], 'eth0', ['eth0', '2', 'native', '7', 'parse > l2_bridge', 'l2_bridge.learning=true']), []);
  t.match(pl.out, /l2_bridge\.learning=true l2_bridge\.ageing_ms=300000/);
  t.match(pl.out, /^eth1\s+3\s+none\s+-\s+-\s+-$/m);

  const ss = await cli(['stats', '--api', api]);
  t.equal(ss.code, 0);
  t.same(misaligned(ss.out, ['DEVICE', 'FAST PKTS', 'FAST BYTES', 'SLOW PKTS', 'SLOW BYTES', 'FAST %'], 'eth0', ['eth0', '1,234,567', '941.9 MiB', '4,321', '639.0 KiB', '99.7']), []);
  t.same(misaligned(ss.out, ['DEVICE', 'FAST PKTS'], 'eth0', ['eth0', '4,321']), ['"4,321" not under FAST PKTS'], 'the check can fail');
  t.match(ss.out, /^eth0\s+1,234,567\s+941\.9 MiB\s+4,321\s+639\.0 KiB\s+99\.7$/m);
  t.match(ss.out, /^eth1\s+0\s+0 B\s+12\s+720 B\s+0\.0$/m);
  const reasons = ss.out.split('slow-path reasons\n')[1] ?? '';
  t.match(reasons, /^DEVICE\s+REASON\s+PACKETS\neth0\s+no_fdb_entry\s+4,000\neth0\s+arp\s+300\n/, 'reasons sorted by count');

  const gr = await cli(['graph', '--api', api]);
  t.equal(gr.code, 0);
  t.match(gr.out, /^graph version 3$/m);
  t.match(gr.out, /^l2-bridge:br0\s+accelerated\s+eth0, eth1\s+multicast stays on the slow path$/m);
  t.match(gr.out, /^device:eth0\s+device\s+eth0$/m);
  t.match(gr.out, /^device:eth0\s+member-of\s+bridge:br0$/m);

  const dot = await cli(['graph', '--dot', '--api', api]);
  t.equal(dot.code, 0);
  t.equal(dot.out, new FakeView().graphDot());
});

t.test('--json prints valid JSON equal to the API data', async (t) => {
  const view = new FakeView();
  const api = await daemon(t, view);
  t.same(JSON.parse((await cli(['status', '--json', '--api', api])).out), view.status());
  t.same(JSON.parse((await cli(['graph', '--json', '--api', api])).out), view.graph());
  t.same(JSON.parse((await cli(['pipelines', '--json', '--api', api])).out), { pipelines: view.pipelines() });
  t.same(JSON.parse((await cli(['stats', '--json', '--api', api])).out), { devices: view.stats() });
  t.same(JSON.parse((await cli(['enable', 'eth1', '--json', '--api', api])).out), { ok: true, device: 'eth1', enabled: true });
  t.same(JSON.parse((await cli(['reload', '--json', '--api', api])).out), view.reloadResult);
  const both = await cli(['graph', '--json', '--dot', '--api', api]);
  t.equal(both.code, 2);
});

t.test('control commands: token, errors, reload refused', async (t) => {
  const dir = tmpdir(t);
  const tokenFile = path.join(dir, 'token');
  const view = new FakeView();
  const api = await daemon(t, view, tokenFile);

  const ok = await cli(['disable', 'eth0', '--api', api, '--token-file', tokenFile]);
  t.equal(ok.code, 0, ok.err);
  t.equal(ok.out, 'eth0: acceleration disabled\n');
  t.equal(view.enabled.get('eth0'), false);

  const noTok = await cli(['enable', 'eth0', '--api', api, '--token-file', path.join(dir, 'absent')]);
  t.equal(noTok.code, 1);
  t.match(noTok.err, /^slipstream: the daemon refused the request: missing or wrong bearer token .*cannot read the token file .*absent \(ENOENT\); run as root or pass --token-file\n$/);
  t.equal(noTok.err.split('\n').length, 2, 'one line');
  t.equal(view.enabled.get('eth0'), false);

  const wrong = path.join(dir, 'wrong');
  fs.writeFileSync(wrong, 'x'.repeat(43) + '\n', { mode: 0o600 });
  const bad = await cli(['enable', 'eth0', '--api', api, '--token-file', wrong]);
  t.equal(bad.code, 1);
  t.match(bad.err, /^slipstream: the daemon refused the request: missing or wrong bearer token/);

  const unknown = await cli(['enable', 'eth7', '--api', api, '--token-file', tokenFile]);
  t.equal(unknown.code, 1);
  t.equal(unknown.err, 'slipstream: no managed device eth7 (HTTP 404 from /v1/devices/eth7/enable)\n');

  const rl = await cli(['reload', '--api', api, '--token-file', tokenFile]);
  t.equal(rl.code, 0);
  t.equal(rl.out, 'config reloaded: no changes\n');
  view.reloadResult = { ok: false, message: 'config not reloaded, keeping the running one: c.yaml:2:3: /x is not a known key' };
  const refused = await cli(['reload', '--api', api, '--token-file', tokenFile]);
  t.equal(refused.code, 1);
  t.equal(refused.err, `slipstream: ${view.reloadResult.message}\n`);
  t.equal(view.reloads, 2);

  // The token file named in the config is used when --token-file is absent.
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, `api:\n  listen: '${api}'\n  token_file: ${tokenFile}\n`);
  const viaCfg = await cli(['enable', 'eth0', '--config', cfg]);
  t.equal(viaCfg.code, 0, viaCfg.err);
  t.equal(view.enabled.get('eth0'), true);
});

t.test('the API address comes from --api, else the config file', async (t) => {
  const dir = tmpdir(t);
  const api = await daemon(t, new FakeView());
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, `api:\n  listen: '${api.replace('127.0.0.1', '0.0.0.0')}'\n`);
  const r = await cli(['status', '--json', '--config', cfg]);
  t.equal(r.code, 0, r.err);
  t.equal(JSON.parse(r.out).generation, 7, 'a daemon on 0.0.0.0 is reached over loopback');
  fs.writeFileSync(cfg, 'api: [broken\n');
  const broken = await cli(['status', '--config', cfg]);
  t.equal(broken.code, 1);
  t.match(broken.err, /config\.yaml:2:1: invalid YAML/);
  const badApi = await cli(['status', '--api', ':80']);
  t.equal(badApi.code, 2);
  t.match(badApi.err, /empty host/);
});

t.test('rtt: formats, follow, and a daemon without RTT', async (t) => {
  const view = new FakeRttView();
  const api = await daemon(t, view);
  const std = await cli(['rtt', '--api', api]);
  t.equal(std.code, 0, std.err);
  const lines = std.out.trim().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[0], /^\d\d:\d\d:\d\d\.123456 1\.234500 ms 1\.000000 ms TCP 198\.18\.0\.2:40000\+198\.18\.1\.2:80$/);
  t.match(lines[1], /^\d\d:\d\d:\d\d\.000000 0\.250000 ms 0\.250000 ms ICMPV6 \[2001:2::2\]:7\+\[2001:2:0:1::2\]:0$/);
  const js = await cli(['rtt', '--format', 'json', '--limit', '1', '--api', api]);
  t.same(js.out.trim().split('\n').map((l) => JSON.parse(l)), view.samples.slice(-1));
  const pv = await cli(['rtt', '--format', 'ppviz', '--api', api]);
  t.match(pv.out.split('\n')[0], /^1700000000\.12345\d{4} 0\.001234500 0\.001000000 198\.18\.0\.2:40000\+198\.18\.1\.2:80$/);
  t.equal(pv.out.split('\n')[1], '1700000001.000000000 0.000250000 0.000250000 [2001:2::2]:7+[2001:2:0:1::2]:0');
  // Same text as the latency monitor's own formatter (GET /v1/rtt/lines).
  for (const fmt of ['standard', 'ppviz', 'json'] as const) {
    const mine = (await cli(['rtt', '--format', fmt, '--api', api])).out;
    t.equal(mine, view.samples.map((x) => formatSample(x as unknown as RttSample, fmt) + '\n').join(''), `${fmt} matches controller/epping`);
  }
  t.equal((await cli(['rtt', '--format', 'csv', '--api', api])).code, 2);
  t.equal((await cli(['rtt', '--limit', '0', '--api', api])).code, 2);

  // --follow: streamed samples until --limit.
  const follow = cli(['rtt', '--follow', '--limit', '2', '--format', 'json', '--api', api]);
  await waitFor(() => view.listeners.size === 1);
  view.emit({ type: 'swap', device: 'eth0', generation: 9, latency_ms: 1, fpms: [] });
  view.emit({ type: 'rtt', sample: { rtt_us: 1000, proto: 'tcp', n: 1 } });
  view.emit({ type: 'rtt', sample: { rtt_us: 2000, proto: 'tcp', n: 2 } });
  view.emit({ type: 'rtt', sample: { rtt_us: 3000, proto: 'tcp', n: 3 } });
  const f = await follow;
  t.equal(f.code, 0, f.err);
  t.same(f.out.trim().split('\n').map((l) => JSON.parse(l).n), [1, 2]);
  await waitFor(() => view.listeners.size === 0);

  // --follow ends cleanly on the abort signal (Ctrl-C).
  const ac = new AbortController();
  const f2 = cli(['rtt', '--follow', '--api', api], ac.signal);
  await waitFor(() => view.listeners.size === 1);
  view.emit({ type: 'rtt', sample: { time_us: 1700000000000000, rtt_us: 5000, min_rtt_us: 4000, proto: 'icmp', src: '198.18.0.9', dst: '198.18.0.1', sport: 3, dport: 0 } });
  await new Promise((r) => setTimeout(r, 100));
  ac.abort();
  const r2 = await f2;
  t.equal(r2.code, 0);
  t.match(r2.out, /^\d\d:\d\d:\d\d\.000000 5\.000000 ms 4\.000000 ms ICMP 198\.18\.0\.9:3\+198\.18\.0\.1:0\n$/);

  const plain = await daemon(t, new FakeView());
  const none = await cli(['rtt', '--api', plain]);
  t.equal(none.code, 1);
  t.equal(none.err, 'slipstream: RTT monitoring is not available in this daemon (HTTP 409 from /v1/rtt?limit=100)\n');
});

t.test('usage errors exit 2 with one line', async (t) => {
  for (const argv of [['frobnicate'], ['status', '--bogus'], ['status', 'extra'], ['enable'], ['run', '--log-level', 'loud'], ['run', '--api', 'nohost'], ['status', '--api']]) {
    const r = await cli(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.equal(r.err.split('\n').length, 2, `${argv.join(' ')}: one line`);
    t.match(r.err, /^slipstream: /);
  }
  const help = await cli(['--help']);
  t.equal(help.code, 0);
  for (const c of ['run', 'status', 'graph', 'pipelines', 'stats', 'rtt', 'reload', 'enable', 'disable', 'demo', 'bench', 'check-config']) {
    t.match(help.out, new RegExp(`^  ${c}\\b`, 'm'), `help lists ${c}`);
  }
  const sub = await cli(['rtt', '--help']);
  t.equal(sub.code, 0);
  t.match(sub.out, /^Usage: slipstream rtt \[--format standard\|json\|ppviz\] \[--follow\] \[--limit N\]/);
  t.equal((await cli([])).code, 2);
  t.match((await cli(['--version'])).out, /^slipstream \d+\.\d+\.\d+\n$/);
});

t.test('run: config errors stop it before the daemon starts', async (t) => {
  const dir = tmpdir(t);
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, 'heartbeat:\n  interval_ms: 10000\n  timeot_ms: 1\n');
  const r = await cli(['run', '--config', cfg]);
  t.equal(r.code, 1);
  t.match(r.err, new RegExp(`${cfg.replace(/\./g, '\\.')}:3:3: /heartbeat/timeot_ms is not a known key`));
  const missing = await cli(['run', '--config', path.join(dir, 'nope.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.err, /nope\.yaml: no such file/);
  const check = await cli(['check-config', '--config', cfg]);
  t.equal(check.code, 1);
  fs.writeFileSync(cfg, 'log_level: debug\n');
  const good = await cli(['check-config', '--config', cfg, '--json']);
  t.equal(good.code, 0);
  t.equal(JSON.parse(good.out).log_level, 'debug');
});

t.test('demo, bench and run dispatch to modules that may be absent', async (t) => {
  const cases: [string[], string, string][] = [
    [['demo'], 'controller/demo/index.js', 'the demo'],
    [['bench', '--quick'], 'bench/main.js', 'the benchmark runner'],
  ];
  for (const [argv, file, what] of cases) {
    if (fs.existsSync(path.join(repo, 'dist', file))) {
      t.comment(`${file} exists; not running it from a unit test`);
      continue;
    }
    const r = await cli(argv);
    t.equal(r.code, 1);
    t.equal(r.err, `slipstream: ${what} is not available in this build (${file} is missing; run "npm run build")\n`);
  }
});
