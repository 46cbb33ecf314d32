// Netfilter presence: which hooks on the forwarding path carry rules. Read with the real
// tools (nft, iptables-save) in the target namespace; parsing is pure and unit-tested.
import { execFile } from 'node:child_process';
import type { IptablesSummary, NetfilterState, NfChain, NfFamily } from './types';

const FAMILIES: readonly NfFamily[] = ['ip', 'ip6', 'inet', 'bridge', 'arp', 'netdev'];

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// Base chains (those attached to a hook) with their rule counts, from `nft -j list ruleset`.
export function parseNftJson(text: string): NfChain[] {
  const doc: unknown = JSON.parse(text);
  if (!isRecord(doc) || !Array.isArray(doc.nftables)) throw new Error('nft -j: no "nftables" array');
  const chains = new Map<string, NfChain>();
  const rules = new Map<string, number>();
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
      rules.set(key, (rules.get(key) ?? 0) + 1);
    }
  }
  const out: NfChain[] = [];
  for (const [key, c] of chains) out.push({ ...c, rules: rules.get(key) ?? 0 });
  return out.sort((a, b) => `${a.family} ${a.table} ${a.name}`.localeCompare(`${b.family} ${b.table} ${b.name}`));
}

// Chains of the classic tables that see forwarded packets.
const FORWARD_PATH: Record<string, string[]> = {
  filter: ['FORWARD'],
  mangle: ['PREROUTING', 'FORWARD', 'POSTROUTING'],
  raw: ['PREROUTING'],
  security: ['FORWARD'],
};

export function parseIptablesSave(text: string): IptablesSummary {
  const s: IptablesSummary = { forward: {}, nat: 0 };
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
      const chain = line.split(/\s+/)[1];
      if (table === 'nat') s.nat++;
      else if (FORWARD_PATH[table]?.includes(chain)) {
        const k = `${table} ${chain}`;
        s.forward[k] = (s.forward[k] ?? 0) + 1;
      }
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
  const merge = (a: IptablesSummary | null, b: IptablesSummary): IptablesSummary => {
    if (!a) return b;
    const f = { ...a.forward };
    for (const [k, n] of Object.entries(b.forward)) f[k] = (f[k] ?? 0) + n;
    return { forward: f, nat: a.nat + b.nat };
  };
  if (v4.status === 'fulfilled') state.iptables.v4 = parseIptablesSave(v4.value);
  else state.errors.push((v4.reason as Error).message);
  if (v6.status === 'fulfilled') state.iptables.v6 = parseIptablesSave(v6.value);
  else state.errors.push((v6.reason as Error).message);
  if (l4.status === 'fulfilled' && l4.value) state.iptables.v4 = merge(state.iptables.v4, parseIptablesSave(l4.value));
  if (l6.status === 'fulfilled' && l6.value) state.iptables.v6 = merge(state.iptables.v6, parseIptablesSave(l6.value));
  return state;
}
