import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { reloadConfig, ConfigStore, defaultConfig, loadConfig, applyOverrides } from '../../controller/config';

t.test('reload keeps the running config when the file is bad', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, 'debounce_ms: 20\n');
  const current = loadConfig(file);
  t.equal(current.debounce_ms, 20);

  fs.writeFileSync(file, 'debounce_ms: 20\nheartbeat:\n  interval_ms: fast\n');
  const bad = reloadConfig(current, file);
  t.equal(bad.ok, false);
  t.equal(bad.config, current, 'the very same config object stays');
  t.match(bad.message, /keeping the running one/);
  t.match(bad.message, new RegExp(`config\\.yaml:3:16: /heartbeat/interval_ms must be integer`));

  fs.writeFileSync(file, 'debounce_ms: [\n');
  const broken = reloadConfig(current, file);
  t.equal(broken.ok, false);
  t.match(broken.message, /invalid YAML/);

  fs.writeFileSync(file, 'debounce_ms: 30\napi:\n  listen: 127.0.0.1:9999\n');
  const good = reloadConfig(current, file);
  t.equal(good.ok, true);
  t.equal(good.config.debounce_ms, 30);
  t.same(good.changed, ['api.listen', 'debounce_ms']);
  t.same(good.restartRequired, ['api.listen']);
  t.match(good.message, /changed api.listen, debounce_ms; api.listen take effect after a restart/);

  const same = reloadConfig(good.config, file);
  t.same(same.changed, []);
  t.match(same.message, /no changes/);
});

t.test('command-line overrides survive a reload', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, 'log_level: warn\n');
  const overrides = { logLevel: 'debug' as const, apiListen: '127.0.0.1:1234' };
  const store = new ConfigStore(file, applyOverrides(loadConfig(file), overrides), overrides);
  t.equal(store.current.log_level, 'debug');
  fs.writeFileSync(file, 'log_level: error\nfdb_refresh_ms: 500\n');
  const r = store.reload();
  t.equal(r.ok, true);
  t.equal(store.current.log_level, 'debug');
  t.equal(store.current.api.listen, '127.0.0.1:1234');
  t.equal(store.current.fdb_refresh_ms, 500);
  fs.writeFileSync(file, 'fdb_refresh_ms: lots\n');
  const before = store.current;
  t.equal(store.reload().ok, false);
  t.equal(store.current, before);
  // A deleted file means the defaults again (ENOENT), still with the overrides.
  fs.rmSync(file);
  t.equal(store.reload().ok, true);
  t.equal(store.current.fdb_refresh_ms, defaultConfig().fdb_refresh_ms);
  t.equal(store.current.log_level, 'debug');
});
