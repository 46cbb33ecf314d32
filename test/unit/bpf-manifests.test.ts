// The FPM library against the objects it describes: every manifest validates, names a
// program that exists, declares knobs that exist in .rodata and counters the C code really
// emits; and every object passes the verifier under every combination of its bool knobs
// (the verifier prunes on rodata, so each combination is a different program).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import Ajv from 'ajv';
import YAML from 'yaml';
import { native } from '../../controller/native';
import { loadManifests, type FpmManifest } from '../../controller/assembler/manifest';
import { counterTable } from '../../controller/deployer/counters';
import { bpfObjectPath, fpmLibraryDir, repoRoot } from '../../controller/util/paths';
import { SS_SLOT_NONE } from '../../controller/deployer/layout';

// The FPMs this data path ships; other FPMs of the library have their own tests.
const OURS = ['parse', 'l2-bridge', 'l3-router', 'nop'];
const library = loadManifests();
const manifests = new Map([...library].filter(([name]) => OURS.includes(name)));

t.test('the library holds the data-path FPMs in chain order', async (tt) => {
  const byOrder = [...manifests.values()].sort((a, b) => a.order - b.order).map((m) => m.name);
  tt.same(byOrder, OURS);
  tt.same(
    OURS.map((n) => library.get(n)?.order),
    [10, 30, 40, 50],
    'orders leave room for latency-monitor (20) between parse and l2-bridge',
  );
  // An FPM that reads the parsed context (ss_pkt_get) needs the parser before it; one that
  // reads only its own headers must not drag it into a chain.
  for (const m of manifests.values()) {
    if (m.name === 'parse') continue;
    const src = fs.readFileSync(path.join(repoRoot, 'bpf', m.object.replace(/\.o$/, '.c')), 'utf8');
    if (/\bss_pkt_get\(/.test(src)) tt.ok(m.requires.includes('parse'), `${m.name} reads ss_pkt: requires parse`);
  }
  tt.same(library.get('l2-bridge')?.requires, [], 'l2-bridge reads only its own headers: a pure switch chain has no parser');
});

t.test('the schema rejects broken manifests', async (tt) => {
  const schema = JSON.parse(fs.readFileSync(path.join(fpmLibraryDir, 'schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const good = YAML.parse(fs.readFileSync(path.join(fpmLibraryDir, 'l2-bridge.yaml'), 'utf8')) as Record<string, unknown>;
  tt.ok(validate(good), 'a shipped manifest is valid');
  const bad: Array<[string, Record<string, unknown>]> = [
    ['unknown service', { ...good, services: ['teleport'] }],
    ['missing program', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'program'))],
    ['object outside build/bpf', { ...good, object: '../../etc/x.bpf.o' }],
    ['knob with a bad type', { ...good, knobs: [{ name: 'cfg_x', type: 'float', default: 0, description: 'x' }] }],
    ['bool knob with a number default', { ...good, knobs: [{ name: 'cfg_x', type: 'bool', default: 3, description: 'x' }] }],
    ['u8 knob out of range', { ...good, knobs: [{ name: 'cfg_x', type: 'u8', default: 300, description: 'x' }] }],
    ['reserved knob name', { ...good, knobs: [{ name: 'ss_next_slot', type: 'u32', default: 0, description: 'x' }] }],
    ['map name outside the ss_ namespace', { ...good, maps: ['fdb'] }],
    ['unknown field', { ...good, colour: 'blue' }],
  ];
  for (const [why, m] of bad) tt.notOk(validate(m), why);
});

t.test('a fold that names an unknown FPM or merges clashing knobs is refused at load', async (tt) => {
  const dir = fs.mkdtempSync(path.join(fs.mkdtempSync('/tmp/ss-manifests-'), 'lib-'));
  tt.teardown(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));
  for (const f of fs.readdirSync(fpmLibraryDir)) fs.copyFileSync(path.join(fpmLibraryDir, f), path.join(dir, f));
  const bridge = YAML.parse(fs.readFileSync(path.join(fpmLibraryDir, 'l2-bridge.yaml'), 'utf8')) as Record<string, unknown>;
  const write = (m: Record<string, unknown>): void => fs.writeFileSync(path.join(dir, 'l2-bridge.yaml'), YAML.stringify(m));
  tt.doesNotThrow(() => loadManifests(dir), 'the copy loads');
  write({ ...bridge, folds: [{ fpms: ['parse', 'teleport'], object: 'fpm/x.bpf.o' }] });
  tt.throws(() => loadManifests(dir), /folds parse,teleport: no FPM teleport in the library/);
  const knobs = bridge.knobs as Array<Record<string, unknown>>;
  write({ ...bridge, knobs: [...knobs, { name: 'cfg_tcp', type: 'bool', default: false, description: 'x' }] });
  tt.throws(() => loadManifests(dir), /knob cfg_tcp of latency-monitor clashes with l2-bridge's/);
});

// Counter names a C source can emit: SS_P_/SS_C_ ids it mentions, plus what ss_next emits.
function emitted(m: FpmManifest): Set<string> {
  const src = fs.readFileSync(path.join(repoRoot, 'bpf', m.object.replace(/\.o$/, '.c')), 'utf8');
  const table = counterTable();
  const ids = new Map<string, string>();
  const header = fs.readFileSync(path.join(repoRoot, 'bpf', 'include', 'ss_reasons.h'), 'utf8');
  for (const x of header.matchAll(/SS_COUNTER\(\s*(SS_[A-Z0-9_]+)\s*,\s*(\d+)/g)) {
    ids.set(x[1], table.defs.find((d) => d.id === Number(x[2]))!.name);
  }
  const out = new Set<string>();
  for (const x of src.matchAll(/\b(SS_[PC]_[A-Z0-9_]+)\b/g)) {
    const name = ids.get(x[1]);
    if (name) out.add(name);
  }
  if (/\bss_next\(/.test(src)) ['end_of_chain', 'tailcall_miss'].forEach((n) => out.add(n));
  // The parser's own reasons, wherever it runs: in parse, or folded into an inline_parse FPM.
  if (/\bss_parse_frame\(|\bss_pkt_begin\(/.test(src)) {
    const parser = fs.readFileSync(path.join(repoRoot, 'bpf', 'include', 'ss_parse_frame.h'), 'utf8');
    for (const x of parser.matchAll(/\b(SS_P_[A-Z0-9_]+)\b/g)) {
      const name = ids.get(x[1]);
      if (name) out.add(name);
    }
  }
  if (/\bss_pkt_get\(/.test(src)) out.add('other');
  return out;
}

for (const m of manifests.values()) {
  t.test(`${m.name}: manifest matches ${m.object}`, async (tt) => {
    const objPath = bpfObjectPath(m.object);
    tt.ok(fs.existsSync(objPath), 'object built');
    const names = new Set(counterTable().defs.map((d) => d.name));
    for (const c of m.counters) tt.ok(names.has(c), `counter ${c} exists in ss_reasons.h`);
    tt.same([...emitted(m)].sort(), [...m.counters].sort(), 'declared counters are exactly those the code emits');

    const obj = native.openObject(objPath);
    try {
      tt.ok(obj.programs().some((p) => p.name === m.program), `program ${m.program} in the object`);
      const maps = new Set(obj.maps().map((x) => x.name));
      for (const x of m.maps) tt.ok(maps.has(x), `map ${x} in the object`);
      const values: Record<string, number | boolean> = {};
      for (const k of m.knobs) values[k.name] = k.default;
      tt.doesNotThrow(() => obj.setRodata(values), 'every knob is a .rodata variable');
      tt.throws(() => obj.setRodata({ cfg_no_such_knob: 1 }), 'unknown knobs are refused');
      if (m.inlineParse) {
        // What the deployer sets when it folds parse in (deployer/generation.ts, programStages).
        const folded: Record<string, number | boolean> = { ss_self_parse: true };
        for (const k of library.get('parse')!.knobs) folded[`parse_${k.name}`] = k.default;
        tt.doesNotThrow(() => obj.setRodata(folded), 'inline_parse: ss_self_parse and every parse knob as parse_<knob>');
      }
    } finally {
      obj.close();
    }
  });
}

// Maps are created once and reused by every later load, as the deployer does: creating the
// FDB and stats maps for each of dozens of loads would dominate the run time.
const sharedFds = new Map<string, number>();
t.teardown(() => {
  for (const fd of sharedFds.values()) native.closeFd(fd);
});

function loads(rel: string, rodata: Record<string, number | boolean>): string | null {
  const obj = native.openObject(bpfObjectPath(rel));
  try {
    if (Object.keys(rodata).length) obj.setRodata(rodata);
    for (const m of obj.maps()) {
      const fd = sharedFds.get(m.name);
      if (fd !== undefined) obj.reuseMap(m.name, fd);
    }
    obj.load();
    for (const m of obj.maps()) {
      if (!m.name.includes('.') && !sharedFds.has(m.name)) sharedFds.set(m.name, native.dupFd(m.fd));
    }
    return null;
  } catch (e) {
    const log = (e as { verifierLog?: string }).verifierLog ?? '';
    return `${(e as Error).message}\n${log.split('\n').slice(-20).join('\n')}`;
  } finally {
    obj.close();
  }
}

t.test('every FPM passes the verifier under every knob combination', async (tt) => {
  for (const m of manifests.values()) {
    const bools = m.knobs.filter((k) => k.type === 'bool').map((k) => k.name);
    for (let mask = 0; mask < 1 << bools.length; mask++) {
      for (const next of [1, SS_SLOT_NONE]) {
        const rodata: Record<string, number | boolean> = { ss_dev_slot: 255, ss_next_slot: next };
        bools.forEach((k, i) => (rodata[k] = (mask & (1 << i)) !== 0));
        const err = loads(m.object, rodata);
        tt.equal(err, null, `${m.name} ${JSON.stringify(rodata)}`);
      }
    }
  }
});

t.test('an inline_parse FPM passes the verifier with parse folded in, under every parse knob combination', async (tt) => {
  const parseBools = library.get('parse')!.knobs.filter((k) => k.type === 'bool').map((k) => `parse_${k.name}`);
  for (const m of manifests.values()) {
    if (!m.inlineParse) continue;
    const own = m.knobs.filter((k) => k.type === 'bool').map((k) => k.name);
    const bools = [...own, ...parseBools];
    for (let mask = 0; mask < 1 << bools.length; mask++) {
      const rodata: Record<string, number | boolean> = { ss_dev_slot: 255, ss_next_slot: SS_SLOT_NONE, ss_self_parse: true };
      bools.forEach((k, i) => (rodata[k] = (mask & (1 << i)) !== 0));
      const err = loads(m.object, rodata);
      tt.equal(err, null, `${m.name} ${JSON.stringify(rodata)}`);
    }
  }
});

t.test('the root and the reference programs pass the verifier', async (tt) => {
  tt.equal(loads('xdp_root.bpf.o', { ss_dev_slot: 255 }), null, 'root');
  tt.equal(loads('ref/ref_l2.bpf.o', {}), null, 'ref_l2');
  tt.equal(loads('ref/ref_fib.bpf.o', {}), null, 'ref_fib');
});

// What a fold variant is loaded with: the host's and every member's knobs (parse's renamed).
function foldRodata(host: FpmManifest, members: string[], pick: (name: string, dflt: number | boolean) => number | boolean): Record<string, number | boolean> {
  const rodata: Record<string, number | boolean> = { ss_dev_slot: 255, ss_next_slot: SS_SLOT_NONE };
  for (const name of members) {
    const m = library.get(name)!;
    for (const k of m.knobs) {
      const key = name === 'parse' ? `parse_${k.name}` : k.name;
      rodata[key] = pick(key, k.default);
    }
    if (name === 'parse') rodata.ss_self_parse = true;
  }
  for (const k of host.knobs) rodata[k.name] = pick(k.name, k.default);
  return rodata;
}

t.test('fold variants: the host program with every member knob, and the verifier takes them', async (tt) => {
  let n = 0;
  // A fixed pseudo-random walk over the bool knobs: all combinations would be thousands of loads.
  let x = 0x2545f491;
  const coin = (): boolean => ((x = (x * 1103515245 + 12345) >>> 0) & 0x10000) !== 0;
  for (const host of manifests.values()) {
    for (const fold of host.folds) {
      n++;
      const obj = native.openObject(bpfObjectPath(fold.object));
      try {
        tt.ok(obj.programs().some((p) => p.name === host.program), `${fold.object}: program ${host.program}`);
        tt.doesNotThrow(() => obj.setRodata(foldRodata(host, fold.fpms, (_k, d) => d)), `${fold.object}: takes ${[...fold.fpms, host.name].join(', ')} knobs`);
      } finally {
        obj.close();
      }
      const bools = (k: string, d: number | boolean): boolean => typeof d === 'boolean';
      const variants: Array<[string, (k: string, d: number | boolean) => number | boolean]> = [
        ['defaults', (_k, d) => d],
        ['every bool on', (k, d) => (bools(k, d) ? true : d)],
        ['every bool off', (k, d) => (bools(k, d) ? false : d)],
        ['no rate limit', (k, d) => (k === 'cfg_rate_limit_ms' ? 0 : d)],
      ];
      for (let i = 0; i < 12; i++) variants.push([`mix ${i}`, (k, d) => (bools(k, d) ? coin() : d)]);
      for (const [why, pick] of variants) {
        const rodata = foldRodata(host, fold.fpms, pick);
        tt.equal(loads(fold.object, rodata), null, `${fold.object} ${why}`);
      }
    }
  }
  tt.equal(n, 2, 'l2-bridge and l3-router each fold parse and the monitor');
});
