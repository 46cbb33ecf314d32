import t from 'tap';
import { assemble, type DeviceRole, type FpmStage } from '../../controller/assembler/plan';
import type { FpmManifest } from '../../controller/assembler/manifest';
import { programStages } from '../../controller/deployer/generation';

function manifest(name: string, order: number, services: FpmManifest['services'], knobs: string[], extra: Partial<FpmManifest> = {}): FpmManifest {
  return {
    name, description: '', object: `fpm/${name}.bpf.o`, program: `ss_fpm_${name}`, services, order,
    requires: name === 'parse' ? [] : ['parse'],
    capabilities: { helpers: [], map_types: [], kfuncs: [] },
    knobs: knobs.map((k) => ({ name: k, type: 'bool', default: false, description: '' })),
    maps: [], counters: [], inlineParse: false, folds: [], ...extra,
  };
}

const lib = new Map<string, FpmManifest>([
  ['parse', manifest('parse', 10, [], ['cfg_ipv4', 'cfg_ipv6', 'cfg_l4'])],
  ['latency-monitor', manifest('latency-monitor', 20, ['latency-monitor'], ['rate_limit_ms'])],
  ['l2-bridge', manifest('l2-bridge', 30, ['l2-bridge'], ['cfg_local_next'])],
  ['l3-router', manifest('l3-router', 40, ['l3-router'], ['cfg_ipv4', 'cfg_ipv6', 'cfg_port_rules'], { capabilities: { helpers: ['bpf_fib_lookup'], map_types: [], kfuncs: [] } })],
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
  t.same(p.fpms[2].knobs, { cfg_ipv4: true, cfg_ipv6: false, cfg_port_rules: false });
  t.equal(p.fpms[0].knobs.cfg_ipv6, false, 'IPv6 not routed: not parsed');
});

t.test('policy rules matching ports: the parser reads ports and l3-router says so', async (t) => {
  const { plans } = assemble({ roles: [role({ l3: { v4: true, v6: true }, portRules: true })], manifests: lib });
  const p = plans.get('eth0')!;
  t.equal(p.fpms[0].knobs.cfg_l4, true);
  t.equal(p.fpms[1].knobs.cfg_port_rules, true);
  const bridged = assemble({ roles: [role({ l2Bridge: 'br0', portRules: true })], manifests: lib }).plans.get('eth0')!;
  t.equal(bridged.fpms[0].knobs.cfg_l4, false, 'a bridge port that routes nothing parses no ports');
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

// As shipped: l2-bridge reads only Ethernet (requires nothing); router and monitor parse
// inline; bridge and router have variants with parse and the monitor folded in.
const monitorFold = (obj: string) => ({ folds: [{ fpms: ['parse', 'latency-monitor'], object: obj }] });
const shipped = new Map<string, FpmManifest>([
  ['parse', manifest('parse', 10, [], ['cfg_ipv4', 'cfg_ipv6', 'cfg_l4'])],
  ['latency-monitor', manifest('latency-monitor', 20, ['latency-monitor'], ['rate_limit_ms'], { inlineParse: true })],
  ['l2-bridge', manifest('l2-bridge', 30, ['l2-bridge'], ['cfg_local_next'], { requires: [], ...monitorFold('fpm/l2_bridge_ep.bpf.o') })],
  ['l3-router', manifest('l3-router', 40, ['l3-router'], ['cfg_ipv4', 'cfg_ipv6', 'cfg_port_rules'], { inlineParse: true, ...monitorFold('fpm/l3_router_ep.bpf.o') })],
  ['nop', manifest('nop', 50, [], [])],
]);

t.test('parse runs right before the first FPM that needs it', async (t) => {
  const plan = (r: Partial<DeviceRole>): string[] => assemble({ roles: [role(r)], manifests: shipped }).plans.get('eth0')!.fpms.map((f) => f.name);
  t.same(plan({ l2Bridge: 'br0' }), ['l2-bridge'], 'a pure switch port parses nothing');
  t.same(plan({ l2Bridge: 'br0', l3: { v4: true, v6: false } }), ['l2-bridge', 'parse', 'l3-router'], 'bridged frames never reach the parser');
  t.same(plan({ l2Bridge: 'br0', l3: { v4: true, v6: false }, epping: true }), ['parse', 'latency-monitor', 'l2-bridge', 'l3-router'], 'the monitor sees every frame, so parse goes first');
  t.same(plan({ l3: { v4: true, v6: true } }), ['parse', 'l3-router']);
});

t.test('parse is folded into an inline_parse FPM right after it, with its knobs renamed', async (t) => {
  const gw = assemble({ roles: [role({ l2Bridge: 'br0', l3: { v4: true, v6: false } })], manifests: shipped }).plans.get('eth0')!;
  const progs = programStages(gw.fpms, shipped);
  t.same(progs.map((p) => [p.fpm, p.label]), [['l2-bridge', 'l2-bridge'], ['l3-router', 'parse+l3-router']]);
  t.same(progs[1].rodata, { cfg_ipv4: true, cfg_ipv6: false, cfg_port_rules: false, parse_cfg_ipv4: true, parse_cfg_ipv6: false, parse_cfg_l4: false, ss_self_parse: true });
  const monitored: FpmStage[] = [{ name: 'parse', knobs: { cfg_ipv4: true } }, { name: 'latency-monitor', knobs: { cfg_tcp: true } }, { name: 'nop', knobs: {} }];
  t.same(programStages(monitored, shipped).map((p) => p.label), ['parse+latency-monitor', 'nop'], 'only the FPM right after parse takes it in');
  const plain: FpmStage[] = [{ name: 'parse', knobs: { cfg_ipv4: true } }, { name: 'nop', knobs: {} }];
  t.same(programStages(plain, shipped).map((p) => p.label), ['parse', 'nop'], 'an FPM that cannot parse keeps parse as its own stage');
});

t.test('parse and the monitor are folded into the bridge or router right after them', async (t) => {
  const mon = assemble({ roles: [role({ l3: { v4: true, v6: false }, epping: true })], manifests: shipped, configKnobs: new Map([['latency-monitor', { rate_limit_ms: 250 }]]) }).plans.get('eth0')!;
  const router = programStages(mon.fpms, shipped);
  t.same(router.map((p) => [p.fpm, p.label, p.object]), [['l3-router', 'parse+latency-monitor+l3-router', 'fpm/l3_router_ep.bpf.o']], 'one program');
  const knobs = router[0].rodata;
  t.equal(knobs.ss_self_parse, true, 'it parses itself');
  t.equal(knobs.parse_cfg_l4, true, "with parse's knobs renamed");
  t.equal(knobs.rate_limit_ms, 250, "the monitor's knobs under their own names, with the configured value");
  t.equal(knobs.cfg_ipv4, true, "and the router's");
  const gw = assemble({ roles: [role({ l2Bridge: 'br0', l3: { v4: true, v6: false }, epping: true })], manifests: shipped }).plans.get('eth0')!;
  const lan = programStages(gw.fpms, shipped);
  t.same(lan.map((p) => [p.label, p.object]), [['parse+latency-monitor+l2-bridge', 'fpm/l2_bridge_ep.bpf.o'], ['l3-router', undefined]], 'the router behind the bridge reads what the fold parsed');
  t.notOk('ss_self_parse' in lan[1].rodata, 'and does not parse again');
  // The longest run offered wins; a run nobody offers stays separate.
  const fold = (fpms: string[], object: string) => ({ fpms, object });
  const lib2 = new Map(lib);
  lib2.set('l3-router', { ...lib.get('l3-router')!, inlineParse: true, folds: [fold(['latency-monitor'], 'a.bpf.o'), fold(['parse', 'latency-monitor'], 'b.bpf.o')] });
  const st = (...names: string[]): FpmStage[] => names.map((name) => ({ name, knobs: {} }));
  t.same(programStages(st('parse', 'latency-monitor', 'l3-router'), lib2).map((p) => [p.label, p.object]), [['parse+latency-monitor+l3-router', 'b.bpf.o']]);
  t.same(programStages(st('latency-monitor', 'l3-router'), lib2).map((p) => [p.label, p.object]), [['latency-monitor+l3-router', 'a.bpf.o']]);
  t.same(programStages(st('parse', 'l3-router'), lib2).map((p) => [p.label, p.object]), [['parse+l3-router', undefined]], 'inline_parse uses the own object');
  t.same(programStages(st('parse', 'latency-monitor', 'l2-bridge'), lib2).map((p) => p.label), ['parse', 'latency-monitor', 'l2-bridge']);
});
