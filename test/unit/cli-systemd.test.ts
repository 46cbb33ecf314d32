import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

const repo = path.resolve(__dirname, '..', '..', '..');
const unitText = fs.readFileSync(path.join(repo, 'systemd', 'slipstream.service'), 'utf8');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-unit-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function verify(text: string): { status: number | null; output: string } {
  const dir = tmp();
  const file = path.join(dir, 'slipstream.service');
  fs.writeFileSync(file, text);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  // Lines about other units (the host's own) are not ours to judge.
  const output = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => l.includes('slipstream'))
    .join('\n');
  return { status: r.status, output };
}

// verify insists that ExecStart exists, so point it at this checkout's launcher.
const rendered = unitText.replace(/\/usr\/local\/bin\/slipstream/g, path.join(repo, 'bin', 'slipstream'));

t.test('systemd-analyze verify accepts the unit', { skip: haveAnalyze ? false : 'no systemd-analyze' }, async (t) => {
  const r = verify(rendered);
  t.equal(r.status, 0);
  t.equal(r.output, '', 'no warnings about the unit');
  // The check can fail: a typo and a bad value are reported.
  const broken = verify(rendered.replace('NoNewPrivileges=yes', 'NoNewPrivilegez=yes').replace('WatchdogSec=30s', 'WatchdogSec=soon'));
  t.match(broken.output, /Unknown key 'NoNewPrivilegez'/);
  t.match(broken.output, /soon/);
});

t.test('the unit says what the daemon relies on', async (t) => {
  const get = (key: string): string[] => [...unitText.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
  t.same(get('Type'), ['notify']);
  t.same(get('Restart'), ['on-failure']);
  t.same(get('ExecStart'), ['/usr/local/bin/slipstream run']);
  t.same(get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  t.ok(get('WatchdogSec').length === 1);
  const caps = get('CapabilityBoundingSet')[0].split(/\s+/).sort();
  t.same(caps, ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON']);
  t.same(get('AmbientCapabilities')[0].split(/\s+/).sort(), caps);
  t.same(get('MemoryDenyWriteExecute'), ['no'], "Node's JIT needs W+X memory");
  t.same(get('ProtectSystem'), ['strict']);
  t.match(get('ReadWritePaths')[0], /\/sys\/fs\/bpf/);
  t.same(get('RestrictAddressFamilies')[0].split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'LockPersonality']) t.same(get(k), ['yes'], k);
  t.same(get('SystemCallArchitectures'), ['native']);
  t.ok(get('StateDirectory').length && get('RuntimeDirectory').length);
});

const built = fs.existsSync(path.join(repo, 'dist', 'controller', 'cli', 'main.js'));
t.test('install.sh stages a working install', { skip: built ? false : 'not built' }, async (t) => {
  const dest = tmp();
  const r = spawnSync('bash', [path.join(repo, 'scripts', 'install.sh'), '--destdir', dest, '--prefix', '/opt/ss', '--no-systemctl'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const unit = fs.readFileSync(path.join(dest, 'etc/systemd/system/slipstream.service'), 'utf8');
  t.match(unit, /^ExecStart=\/opt\/ss\/bin\/slipstream run$/m);
  t.equal(fs.readFileSync(path.join(dest, 'etc/slipstream/config.yaml'), 'utf8'), fs.readFileSync(path.join(repo, 'config/default.yaml'), 'utf8'));
  const wrapper = fs.readFileSync(path.join(dest, 'opt/ss/bin/slipstream'), 'utf8');
  t.match(wrapper, /exec ".*node" "\/opt\/ss\/lib\/slipstream\/bin\/slipstream" "\$@"/);
  t.equal(fs.statSync(path.join(dest, 'opt/ss/bin/slipstream')).mode & 0o777, 0o755);
  t.ok(fs.existsSync(path.join(dest, 'opt/ss/share/doc/slipstream/operations.md')));
  const lib = path.join(dest, 'opt/ss/lib/slipstream');
  t.ok(fs.existsSync(path.join(lib, 'node_modules/fastify/package.json')), 'production deps copied');
  t.notOk(fs.existsSync(path.join(lib, 'node_modules/tap')), 'dev deps left out');
  t.notOk(fs.existsSync(path.join(lib, 'dist/test')), 'tests left out');
  // The staged copy runs on its own (the wrapper's path only exists after a real install).
  const help = spawnSync(process.execPath, [path.join(lib, 'bin/slipstream'), 'check-config', '--config', path.join(dest, 'etc/slipstream/config.yaml')], { encoding: 'utf8' });
  t.equal(help.status, 0, help.stderr);
  t.match(help.stdout, /: ok\n$/);
  const api = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(lib, 'dist/controller/api'))})`], { encoding: 'utf8', cwd: dest });
  t.equal(api.status, 0, api.stderr);

  // A second run keeps an edited config.
  fs.writeFileSync(path.join(dest, 'etc/slipstream/config.yaml'), 'log_level: debug\n');
  const again = spawnSync('bash', [path.join(repo, 'scripts', 'install.sh'), '--destdir', dest, '--prefix', '/opt/ss', '--no-systemctl', '--link'], { encoding: 'utf8' });
  t.equal(again.status, 0, again.stderr);
  t.equal(fs.readFileSync(path.join(dest, 'etc/slipstream/config.yaml'), 'utf8'), 'log_level: debug\n');
  t.match(fs.readFileSync(path.join(dest, 'opt/ss/bin/slipstream'), 'utf8'), new RegExp(`"${repo}/bin/slipstream"`), '--link runs the checkout');
  const un = spawnSync('bash', [path.join(repo, 'scripts', 'install.sh'), '--destdir', dest, '--prefix', '/opt/ss', '--no-systemctl', '--uninstall'], { encoding: 'utf8' });
  t.equal(un.status, 0);
  t.notOk(fs.existsSync(path.join(dest, 'opt/ss/bin/slipstream')));
  t.notOk(fs.existsSync(path.join(lib)));
  t.ok(fs.existsSync(path.join(dest, 'etc/slipstream/config.yaml')), 'config kept');
});
