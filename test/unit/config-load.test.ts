import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import {
  parseConfig,
  loadConfig,
  defaultConfig,
  ConfigError,
  configSchema,
  deviceSelected,
  globMatch,
  parseListen,
  type Config,
} from '../../controller/config';

const repo = path.resolve(__dirname, '..', '..', '..');

function issuesOf(text: string): ConfigError {
  try {
    parseConfig(text, 'config.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError for:\n' + text);
}

t.test('config/default.yaml holds exactly the built-in defaults', async (t) => {
  const text = fs.readFileSync(path.join(repo, 'config', 'default.yaml'), 'utf8');
  t.same(parseConfig(text, 'default.yaml'), defaultConfig());
  // Every key spelled out, so the file documents them all.
  t.same(parseYaml(text), defaultConfig());
});

t.test('defaults have the documented values', async (t) => {
  const c = defaultConfig();
  t.same(c.devices, { include: ['*'], exclude: ['lo'] });
  t.equal(c.xdp_mode, 'auto');
  t.same(c.heartbeat, { interval_ms: 1000, timeout_ms: 5000 });
  t.equal(c.on_exit, 'detach');
  t.same(c.api, { listen: '127.0.0.1:8740', token_file: '/etc/slipstream/token' });
  t.equal(c.debounce_ms, 50);
  t.equal(c.log_level, 'info');
  t.equal(c.bpffs_root, '/sys/fs/bpf/slipstream');
  t.equal(c.fdb_refresh_ms, 1000);
  t.same(c.epping.protocols, ['tcp', 'icmp']);
  t.equal(c.epping.rtt_basis, 'min');
  t.same(c.epping.map_sizes, { flows: 16384, timestamps: 16384 });
  t.same(c.epping.aggregation, { ipv4_prefix: 24, ipv6_prefix: 48, interval_s: 10 });
  t.equal(c.epping.ringbuf_bytes, 262144);
  t.same(c.queueing, { enabled: false, devices: [] });
  // Each call is a fresh object: mutating one must not leak into the next.
  c.devices.include.push('eth*');
  t.same(defaultConfig().devices.include, ['*']);
});

t.test('the schema and the Config type agree, and every object forbids unknown keys', async (t) => {
  // Walk the schema: each property must exist in defaultConfig() (which the TS type describes).
  const walk = (schema: Record<string, unknown>, value: unknown, at: string): void => {
    if (schema.type === 'object') {
      t.equal(schema.additionalProperties, false, `${at || '/'} has additionalProperties: false`);
      const props = schema.properties as Record<string, Record<string, unknown>>;
      t.same(Object.keys(value as object).sort(), Object.keys(props).sort(), `keys at ${at || '/'}`);
      for (const [k, sub] of Object.entries(props)) walk(sub, (value as Record<string, unknown>)[k], `${at}/${k}`);
    }
  };
  walk(configSchema as Record<string, unknown>, defaultConfig(), '');
  // Compile-time check that defaultConfig() is a Config with these exact literal types.
  const c: Config = defaultConfig();
  const mode: 'auto' | 'native' | 'generic' = c.xdp_mode;
  t.ok(mode);
});

t.test('partial files are completed with defaults', async (t) => {
  const c = parseConfig('heartbeat:\n  interval_ms: 200\nepping:\n  enabled: true\n  aggregation: {ipv4_prefix: 16}\n', 'c.yaml');
  t.equal(c.heartbeat.interval_ms, 200);
  t.equal(c.heartbeat.timeout_ms, 5000);
  t.equal(c.epping.enabled, true);
  t.equal(c.epping.aggregation.ipv4_prefix, 16);
  t.equal(c.epping.aggregation.ipv6_prefix, 48);
  t.equal(c.epping.rate_limit_ms, 100);
  t.same(parseConfig('', 'c.yaml'), defaultConfig(), 'empty file');
  t.same(parseConfig('# nothing but a comment\n', 'c.yaml'), defaultConfig(), 'comment-only file');
});

t.test('wrong types name the key path and the line:column', async (t) => {
  const e = issuesOf('log_level: info\nheartbeat:\n  interval_ms: 1000\n  timeout_ms: "soon"\n');
  t.equal(e.issues.length, 1);
  t.match(e.issues[0], { path: '/heartbeat/timeout_ms', line: 4, column: 15, message: 'must be integer' });
  t.equal(e.message, 'config.yaml:4:15: /heartbeat/timeout_ms must be integer');

  const f = issuesOf('xdp_mode: turbo\n');
  t.equal(f.message, 'config.yaml:1:11: /xdp_mode must be one of: auto, native, generic');

  const g = issuesOf('epping:\n  protocols: [tcp, udp]\n');
  t.match(g.issues[0], { path: '/epping/protocols/1', line: 2, column: 20 });

  const h = issuesOf('heartbeat: 5\n');
  t.match(h.issues[0], { path: '/heartbeat', line: 1, column: 12, message: 'must be object' });

  const i = issuesOf('- just\n- a list\n');
  t.match(i.issues[0], { path: '', line: 1, column: 1, message: 'must be object' });

  const j = issuesOf('bpffs_root: relative/dir\n');
  t.match(j.issues[0], { path: '/bpffs_root', message: 'must be an absolute path' });
});

t.test('unknown keys are named, with their own position', async (t) => {
  const e = issuesOf('devices:\n  include: [eth*]\n  exlcude: [lo]\nfoo: 1\n');
  t.equal(e.issues.length, 2);
  t.match(e.issues[0], { path: '/devices/exlcude', line: 3, column: 3 });
  t.match(e.issues[0].message, /is not a known key \(known keys here: include, exclude\)/);
  t.match(e.issues[1], { path: '/foo', line: 4, column: 1 });
  t.match(e.message, /^config\.yaml:3:3: \/devices\/exlcude is not a known key/);
  const q = issuesOf('queueing:\n  enabled: true\n  scheduler: pifo\n');
  t.match(q.issues[0], { path: '/queueing/scheduler', line: 3, column: 3 });
});

t.test('malformed YAML gives a line:column', async (t) => {
  const e = issuesOf('devices:\n  include: [eth0\nxdp_mode: auto\n');
  t.ok(e.issues.length >= 1);
  t.ok(e.issues[0].line >= 2, `line ${e.issues[0].line}`);
  t.ok(e.issues[0].column >= 1);
  t.match(e.issues[0].message, /^invalid YAML: /);
  t.notMatch(e.message, /\n\s*\^/, 'no source excerpt in the message');
  const d = issuesOf('log_level: info\nlog_level: debug\n');
  t.match(d.issues[0], { line: 2, message: /unique/ });
  const tab = issuesOf('heartbeat:\n\tinterval_ms: 5\n');
  t.equal(tab.issues[0].line, 2);
});

t.test('checks beyond the schema', async (t) => {
  const e = issuesOf('heartbeat:\n  interval_ms: 1000\n  timeout_ms: 500\n');
  t.match(e.issues[0], { path: '/heartbeat/timeout_ms', line: 3, column: 15, message: /greater than heartbeat.interval_ms/ });
  const l = issuesOf("api:\n  listen: ':8740'\n");
  t.match(l.issues[0], { path: '/api/listen', line: 2, message: /empty host/ });
  const r = issuesOf('epping:\n  ringbuf_bytes: 300000\n');
  t.match(r.issues[0], { path: '/epping/ringbuf_bytes', message: /power of two/ });
  t.equal(parseConfig("api:\n  listen: '[::1]:9000'\n", 'c').api.listen, '[::1]:9000');
});

t.test('loadConfig: absent file gives defaults; other read errors are errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-cfg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.same(loadConfig(path.join(dir, 'absent.yaml')), defaultConfig());
  t.throws(() => loadConfig(path.join(dir, 'absent.yaml'), { mustExist: true }), { name: 'ConfigError', message: /no such file/ });
  // A directory: EISDIR, not ENOENT, so no silent fallback.
  t.throws(() => loadConfig(dir), { name: 'ConfigError', message: /EISDIR/ });
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f, 'debounce_ms: -1\n');
  const err = t.throws(() => loadConfig(f)) as unknown;
  t.ok(err instanceof ConfigError);
  t.match((err as ConfigError).message, new RegExp(`^${f.replace(/[.]/g, '\\.')}:1:14: /debounce_ms must be >= 0$`));
});

t.test('device globs', async (t) => {
  t.ok(globMatch('eth*', 'eth0'));
  t.notOk(globMatch('eth*', 'veth0'));
  t.ok(globMatch('en?1', 'enp1'));
  t.ok(globMatch('eth[01]', 'eth1'));
  t.notOk(globMatch('eth[!01]', 'eth1'));
  t.ok(globMatch('br.lan', 'br.lan'));
  t.notOk(globMatch('br.lan', 'brxlan'), 'dots are literal');
  const sel = defaultConfig().devices;
  t.ok(deviceSelected(sel, 'eth0'));
  t.notOk(deviceSelected(sel, 'lo'));
  t.notOk(deviceSelected({ include: ['eth*'], exclude: ['eth9'] }, 'eth9'));
  t.notOk(deviceSelected({ include: ['eth*'], exclude: [] }, 'wlan0'));
});

t.test('listen addresses', async (t) => {
  t.same(parseListen('127.0.0.1:8740'), { host: '127.0.0.1', port: 8740 });
  t.same(parseListen('[::1]:80'), { host: '::1', port: 80 });
  t.throws(() => parseListen(':8740'), /empty host/);
  t.throws(() => parseListen('127.0.0.1'), /HOST:PORT/);
  t.throws(() => parseListen('127.0.0.1:70000'), /out of range/);
});
