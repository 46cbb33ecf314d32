import t from 'tap';
import { assemble, type DeviceRole } from '../../controller/assembler/plan';
import type { FpmManifest } from '../../controller/assembler/manifest';

function manifest(name: string, order: number, services: FpmManifest['services'], knobs: string[], extra: Partial<FpmManifest> = {}): FpmManifest {
  return {
    name, description: '', object: `fpm/${name}.bpf.o`, program: `ss_fpm_${name}`, services, order,
    requires: name === 'parse' ? [] : ['parse'],
    capabilities: { helpers: [], map_types: [], kfuncs: [] },
    knobs: knobs.map((k) => ({ name: k, type: 'bool', default: false, description: '' })),
    maps: [], counters: [], ...extra,
  };
}

const lib = new Map<string, FpmManifest>([
  ['parse', manifest('parse', 10, [], ['cfg_ipv4', 'cfg_ipv6', 'cfg_l4'])],
  ['latency-monitor', manifest('latency-monitor', 20, ['latency-monitor'], ['rate_limit_ms'])],
  ['l2-bridge', manifest('l2-bridge', 30, ['l2-bridge'], ['cfg_local_next'])],
  ['l3-router', manifest('l3-router', 40, ['l3-router'], ['cfg_ipv4', 'cfg_ipv6'], { capabilities: { helpers: ['bpf_fib_lookup'], map_types: [], kfuncs: [] } })],
]);

const role = (r: Partial<DeviceRole>): DeviceRole => ({ ifname: 'eth0', ifindex: 2, l2Bridge: null, l3: { v4: false, v6: false }, epping: false, ...r });

t.test('a pure bridge port gets parse + l2 and parses no IP', async (t) => {
  const { plans } = assemble({ roles: [role({ l2Bridge: 'br0' })], manifests: lib });
  const p = plans.get('eth0')!;
  t.same(p.fpms.map((f) => f.name), ['parse', 'l2-bridge']);
  t.same(p.fpms[0].knobs, { cfg_ipv4: false, cfg_ipv6: false, cfg_l4: false });
  t.same(p.fpms[1].knobs, { cfg_local_next: false });
});

t.test('a gateway port chains l2 then l3 and hands local frames on', async (t) => {
  const { plans } = assemble({ roles: [role({ l2Bridge: 'br0', l3: { v4: true, v6: false } })], manifests: lib });
  const p = plans.get('eth0')!;
  t.same(p.fpms.map((f) => f.name), ['parse', 'l2-bridge', 'l3-router']);
  t.equal(p.fpms[1].knobs.cfg_local_next, true);
  t.same(p.fpms[2].knobs, { cfg_ipv4: true, cfg_ipv6: false });
  t.equal(p.fpms[0].knobs.cfg_ipv6, false, 'IPv6 not routed: not parsed');
});

t.test('nothing to accelerate means no pipeline at all', async (t) => {
  const { plans } = assemble({ roles: [role({})], manifests: lib });
  t.equal(plans.size, 0);
});

t.test('a missing capability drops the service and says why', async (t) => {
  const { plans, problems } = assemble({ roles: [role({ l3: { v4: true, v6: true } })], manifests: lib, missingCapabilities: new Set(['bpf_fib_lookup']) });
  t.equal(plans.size, 0);
  t.match(problems[0], /l3-router needs bpf_fib_lookup/);
});

t.test('equal inputs give equal keys; a knob change gives a new key', async (t) => {
  const a = assemble({ roles: [role({ l3: { v4: true, v6: false } })], manifests: lib }).plans.get('eth0')!;
  const b = assemble({ roles: [role({ l3: { v4: true, v6: false } })], manifests: lib }).plans.get('eth0')!;
  const c = assemble({ roles: [role({ l3: { v4: true, v6: true } })], manifests: lib }).plans.get('eth0')!;
  t.equal(a.key, b.key);
  t.not(a.key, c.key);
});

t.test('config knobs reach the FPM that declares them', async (t) => {
  const { plans } = assemble({
    roles: [role({ epping: true })], manifests: lib,
    configKnobs: new Map([['latency-monitor', { rate_limit_ms: 250 }]]),
  });
  const p = plans.get('eth0')!;
  t.same(p.fpms.map((f) => f.name), ['parse', 'latency-monitor']);
  t.equal(p.fpms[1].knobs.rate_limit_ms, 250);
  t.equal(p.fpms[0].knobs.cfg_l4, true);
});
