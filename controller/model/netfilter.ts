// Netfilter presence: which hooks on the forwarding path carry rules. Read with the real
// tools (nft, iptables-save) in the target namespace; parsing is pure and unit-tested.
import { execFile } from 'node:child_process';
import type { IptablesSummary, NetfilterState, NfChain, NfFamily, NfRuleScope } from './types';

const FAMILIES: readonly NfFamily[] = ['ip', 'ip6', 'inet', 'bridge', 'arp', 'netdev'];

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// Anything in these makes a rule depend on connection tracking, which forwarded packets
// only pass through in the kernel: its state (and NAT) must see every packet of a flow.
const STATEFUL_KEYS = new Set([
  'ct', 'ct helper', 'ct timeout', 'ct expectation', 'ct count', 'flow', 'synproxy',
  'snat', 'dnat', 'masquerade', 'redirect', 'xt',
]);
const NO_EFFECT_VERDICTS = new Set(['accept', 'continue', 'return']);

interface RawRule {
  scope: NfRuleScope; // stateful: the rule's own expressions only
  jumps: string[];
}

// A named set's elements, by "@name", when they can only change through nft (which
// reports it): interface-name sets no rule adds to from the packet path. Else null.
type SetElements = (ref: string) => unknown[] | null;

function ifaceBound(m: Record<string, unknown>, sets: SetElements): { dir: 'iif' | 'oif'; names: string[] } | null {
  if (m.op !== '==' && m.op !== 'in') return null;
  const left = m.left;
  if (!isRecord(left) || !isRecord(left.meta)) return null;
  const key = left.meta.key;
  const dir = key === 'iifname' || key === 'iif' ? 'iif' : key === 'oifname' || key === 'oif' ? 'oif' : null;
  if (!dir) return null;
  const right = m.right;
  const names = typeof right === 'string' ? (right.startsWith('@') ? sets(right) : [right])
    : isRecord(right) && Array.isArray(right.set) ? right.set : null;
  // Numbers (an ifindex whose device is gone), ranges, sets updated from the packet path
  // and escaped characters: no bound we can use.
  const usable = (n: unknown): n is string => typeof n === 'string' && n !== '' && !n.startsWith('@') && !n.includes('\\');
  if (!names || !names.length || !names.every(usable)) return null;
  return { dir, names: [...names].sort() };
}

// The family a match confines a rule to: a field of the ip or ip6 header (nft puts a
// `meta nfproto` check before it in inet chains), or `meta nfproto` itself. In an inet chain
// such a rule never sees the other family. Transport headers are left out: their
// dependency is the L4 protocol number, which either family may carry.
function matchFamily(m: Record<string, unknown>): 4 | 6 | null {
  const left = m.left;
  if (!isRecord(left)) return null;
  if (isRecord(left.payload)) {
    const p = left.payload.protocol;
    return p === 'ip' ? 4 : p === 'ip6' ? 6 : null;
  }
  if (isRecord(left.meta) && left.meta.key === 'nfproto' && m.op === '==') {
    return m.right === 'ipv4' ? 4 : m.right === 'ipv6' ? 6 : null;
  }
  return null;
}

function scan(x: unknown, found: { stateful: boolean; jumps: string[] }): void {
  if (Array.isArray(x)) {
    for (const y of x) scan(y, found);
    return;
  }
  if (!isRecord(x)) return;
  for (const [k, v] of Object.entries(x)) {
    if (STATEFUL_KEYS.has(k)) found.stateful = true;
    if ((k === 'jump' || k === 'goto') && isRecord(v) && typeof v.target === 'string') found.jumps.push(v.target);
    scan(v, found);
  }
}

// A rule's bound comes from the matches before its first statement: a statement ahead of
// them (a counter, a mark) acts on every packet that reaches the rule.
function rawRule(expr: unknown, sets: SetElements): RawRule {
  const list = Array.isArray(expr) ? expr : [];
  const scope: NfRuleScope = { iif: null, oif: null, effect: false, stateful: false };
  let leading = true;
  list.forEach((e, i) => {
    if (isRecord(e) && isRecord(e.match)) {
      const b = leading ? ifaceBound(e.match, sets) : null;
      if (b && scope[b.dir] === null) scope[b.dir] = b.names;
      const fam = leading ? matchFamily(e.match) : null;
      if (fam && scope.family === undefined) scope.family = fam;
      return;
    }
    leading = false;
    const keys = isRecord(e) ? Object.keys(e) : [];
    if (!(i === list.length - 1 && keys.length === 1 && NO_EFFECT_VERDICTS.has(keys[0]))) scope.effect = true;
  });
  const found = { stateful: false, jumps: [] as string[] };
  scan(list, found);
  scope.stateful = found.stateful;
  return { scope, jumps: found.jumps };
}

// Base chains (those attached to a hook) with their rule counts and, per rule, what it can
// touch (NfRuleScope), from `nft -j list ruleset`. A rule is stateful when it or any chain
// it can jump to uses connection tracking.
export function parseNftJson(text: string): NfChain[] {
  const doc: unknown = JSON.parse(text);
  if (!isRecord(doc) || !Array.isArray(doc.nftables)) throw new Error('nft -j: no "nftables" array');
  const chains = new Map<string, NfChain>();
  const rules = new Map<string, RawRule[]>();
  // Named interface sets, and the sets some rule updates from the packet path (no event
  // tells of those changes).
  const ifSets = new Map<string, unknown[]>();
  const updated = new Set<string>();
  const noteUpdates = (x: unknown, prefix: string): void => {
    if (Array.isArray(x)) x.forEach((y) => noteUpdates(y, prefix));
    if (!isRecord(x)) return;
    for (const [k, v] of Object.entries(x)) {
      if ((k === 'set' || k === 'map') && isRecord(v) && typeof v.op === 'string') {
        const ref = v[k];
        if (typeof ref === 'string') updated.add(prefix + ref);
      }
      noteUpdates(v, prefix);
    }
  };
  for (const item of doc.nftables) {
    if (!isRecord(item)) continue;
    const s = item.set;
    if (isRecord(s) && (s.type === 'ifname' || s.type === 'iface_index')) {
      ifSets.set(`${String(s.family)}|${String(s.table)}|@${String(s.name)}`, Array.isArray(s.elem) ? s.elem : []);
    }
    if (isRecord(item.rule)) noteUpdates(item.rule.expr, `${String(item.rule.family)}|${String(item.rule.table)}|`);
  }
  for (const item of doc.nftables) {
    if (!isRecord(item)) continue;
    const c = item.chain;
    if (isRecord(c) && typeof c.hook === 'string') {
      const family = String(c.family) as NfFamily;
      if (!FAMILIES.includes(family)) continue;
      const devs = c.dev === undefined ? [] : Array.isArray(c.dev) ? c.dev.map(String) : [String(c.dev)];
      const key = `${family}|${String(c.table)}|${String(c.name)}`;
      chains.set(key, {
        family,
        table: String(c.table),
        name: String(c.name),
        hook: c.hook,
        type: String(c.type ?? 'filter'),
        priority: typeof c.prio === 'number' ? c.prio : 0,
        policy: String(c.policy ?? 'accept'),
        rules: 0,
        devices: devs.sort(),
      });
    }
    const r = item.rule;
    if (isRecord(r)) {
      const key = `${String(r.family)}|${String(r.table)}|${String(r.chain)}`;
      const list = rules.get(key) ?? [];
      const prefix = `${String(r.family)}|${String(r.table)}|`;
      list.push(rawRule(r.expr, (ref) => (updated.has(prefix + ref) ? null : ifSets.get(prefix + ref) ?? null)));
      rules.set(key, list);
    }
  }
  // Does any of these chains, or anything they jump to, use connection tracking? One
  // visited set per question: a chain seen before has already answered no.
  const reachesStateful = (keys: string[], seen: Set<string>): boolean => keys.some((k) => {
    if (seen.has(k)) return false;
    seen.add(k);
    const prefix = k.slice(0, k.lastIndexOf('|') + 1);
    return (rules.get(k) ?? []).some((r) => r.scope.stateful || reachesStateful(r.jumps.map((j) => prefix + j), seen));
  });
  const out: NfChain[] = [];
  for (const [key, c] of chains) {
    const list = rules.get(key) ?? [];
    const prefix = key.slice(0, key.lastIndexOf('|') + 1);
    const scopes = list.map((r) => ({
      ...r.scope,
      stateful: r.scope.stateful || reachesStateful(r.jumps.map((j) => prefix + j), new Set([key])),
    }));
    out.push({ ...c, rules: list.length, scopes });
  }
  return out.sort((a, b) => `${a.family} ${a.table} ${a.name}`.localeCompare(`${b.family} ${b.table} ${b.name}`));
}

// `nft list chains` text: the devices of each ingress/egress chain, by family|table|name.
// nft 1.0.6 leaves them out of its JSON; the text has `device "eth0"` or
// `devices = { eth0, eth1 }`.
export function parseNftChainDevices(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  let chain = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t) {
      table = `${t[1]}|${t[2]}`;
      continue;
    }
    const c = /^chain (\S+) \{$/.exec(line);
    if (c) {
      chain = c[1];
      continue;
    }
    const one = /\bhook \S+ device "?([^";\s]+)"?/.exec(line);
    const many = /\bhook \S+ devices = \{ ([^}]*) \}/.exec(line);
    const names = one ? [one[1]] : many ? many[1].split(',').map((n) => n.trim().replace(/^"|"$/g, '')).filter(Boolean) : null;
    if (names && table && chain) out.set(`${table}|${chain}`, names.sort());
  }
  return out;
}

// Chains of the classic tables that see forwarded packets.
const FORWARD_PATH: Record<string, string[]> = {
  filter: ['FORWARD'],
  mangle: ['PREROUTING', 'FORWARD', 'POSTROUTING'],
  raw: ['PREROUTING'],
  security: ['FORWARD'],
};

const IPT_STATEFUL_MATCHES = new Set(['conntrack', 'state', 'connmark', 'connlimit', 'helper', 'connbytes', 'connlabel', 'cluster']);
const IPT_STATEFUL_TARGETS = new Set(['CT', 'NOTRACK', 'CONNMARK', 'CONNSECMARK', 'SNAT', 'DNAT', 'MASQUERADE', 'NETMAP', 'REDIRECT', 'SYNPROXY']);

// iptables-save's words, with "quoted strings" (comments) kept whole.
function words(line: string): string[] {
  return line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

// `-i eth0`, `-o ppp+` (a trailing + is iptables' wildcard); `! -i` bounds nothing.
function iptIface(w: string[], flag: '-i' | '-o'): string[] | null {
  const i = w.indexOf(flag);
  if (i < 0 || i + 1 >= w.length || w[i - 1] === '!') return null;
  const name = w[i + 1];
  return [name.endsWith('+') ? `${name.slice(0, -1)}*` : name];
}

// Every iptables rule has counters, so each one counts as having an effect.
export function parseIptablesSave(text: string): IptablesSummary {
  const s: IptablesSummary = { forward: {}, nat: 0, scoped: [], stateful: 0 };
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      table = line.slice(1);
    } else if (line.startsWith(':')) {
      const [chain, policy] = line.slice(1).split(/\s+/);
      if (FORWARD_PATH[table]?.includes(chain) && policy !== 'ACCEPT' && policy !== '-') {
        const k = `${table} ${chain}`;
        s.forward[k] = (s.forward[k] ?? 0) + 1;
      }
    } else if (line.startsWith('-A ')) {
      const w = words(line);
      const chain = w[1];
      if (table === 'nat') {
        s.nat++;
        continue;
      }
      if (!FORWARD_PATH[table]) continue;
      const stateful = w.some((x, i) => (x === '-m' && IPT_STATEFUL_MATCHES.has(w[i + 1])) ||
        ((x === '-j' || x === '-g') && IPT_STATEFUL_TARGETS.has(w[i + 1])));
      if (stateful) s.stateful = (s.stateful ?? 0) + 1;
      if (!FORWARD_PATH[table].includes(chain)) continue;
      const k = `${table} ${chain}`;
      const iif = iptIface(w, '-i');
      const oif = iptIface(w, '-o');
      if (iif || oif) s.scoped?.push({ chain: k, iif, oif });
      else s.forward[k] = (s.forward[k] ?? 0) + 1;
    }
  }
  return s;
}

function run(cmd: string[], netns: string | undefined, timeoutMs: number): Promise<string> {
  const argv = netns ? ['nsenter', `--net=/var/run/netns/${netns}`, ...cmd] : cmd;
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface NetfilterCheckOptions {
  netns?: string;
  legacy: boolean; // legacy x_tables have tables in this namespace: also run iptables-legacy-save
  timeoutMs?: number;
}

export async function checkNetfilter(opts: NetfilterCheckOptions): Promise<NetfilterState> {
  const timeout = opts.timeoutMs ?? 5000;
  const state: NetfilterState = {
    checked: true, nftOk: false, chains: [], iptables: { v4: null, v6: null, legacy: opts.legacy }, errors: [],
  };
  const [nft, v4, v6, l4, l6] = await Promise.allSettled([
    run(['nft', '-j', 'list', 'ruleset'], opts.netns, timeout),
    run(['iptables-save'], opts.netns, timeout),
    run(['ip6tables-save'], opts.netns, timeout),
    opts.legacy ? run(['iptables-legacy-save'], opts.netns, timeout) : Promise.resolve(''),
    opts.legacy ? run(['ip6tables-legacy-save'], opts.netns, timeout) : Promise.resolve(''),
  ]);
  if (nft.status === 'fulfilled') {
    try {
      state.chains = parseNftJson(nft.value);
      state.nftOk = true;
    } catch (e) {
      state.errors.push((e as Error).message);
    }
  } else state.errors.push((nft.reason as Error).message);
  // Device chains whose devices the JSON left out: read them from the text, or assume every
  // device (a chain we cannot place must not be bypassed anywhere).
  const unplaced = state.chains.filter((c) => (c.hook === 'ingress' || c.hook === 'egress') && c.devices.length === 0);
  if (unplaced.length) {
    let devs = new Map<string, string[]>();
    try {
      devs = parseNftChainDevices(await run(['nft', 'list', 'chains'], opts.netns, timeout));
    } catch (e) {
      state.errors.push((e as Error).message);
    }
    for (const c of unplaced) c.devices = devs.get(`${c.family}|${c.table}|${c.name}`) ?? ['*'];
  }
  const merge = (a: IptablesSummary | null, b: IptablesSummary): IptablesSummary => {
    if (!a) return b;
    const f = { ...a.forward };
    for (const [k, n] of Object.entries(b.forward)) f[k] = (f[k] ?? 0) + n;
    return { forward: f, nat: a.nat + b.nat, scoped: [...(a.scoped ?? []), ...(b.scoped ?? [])], stateful: (a.stateful ?? 0) + (b.stateful ?? 0) };
  };
  if (v4.status === 'fulfilled') state.iptables.v4 = parseIptablesSave(v4.value);
  else state.errors.push((v4.reason as Error).message);
  if (v6.status === 'fulfilled') state.iptables.v6 = parseIptablesSave(v6.value);
  else state.errors.push((v6.reason as Error).message);
  if (l4.status === 'fulfilled' && l4.value) state.iptables.v4 = merge(state.iptables.v4, parseIptablesSave(l4.value));
  if (l6.status === 'fulfilled' && l6.value) state.iptables.v6 = merge(state.iptables.v6, parseIptablesSave(l6.value));
  return state;
}
