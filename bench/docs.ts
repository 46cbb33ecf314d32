// docs/benchmarks.md and its plots, generated from a run's results (JSON lines).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../controller/util/paths';
import type { BenchOptions, ScenarioResult } from './context';
import type { CaseResult } from './forwarding';
import { barChart, lineChart, writeChart, type BarGroup } from './plot';

const DOCS = path.join(repoRoot, 'docs');
const IMG = path.join(DOCS, 'img');

export interface Host {
  cpu: string;
  cores: number;
  kernel: string;
  memGb: number;
  // /sys/devices/system/cpu/vulnerabilities lines that change what a packet costs: retpolines
  // make every indirect jump (a BPF tail call among them) dearer, SRSO's safe RET every return.
  mitigations: Record<string, string>;
  offCore?: boolean; // the bench's other threads and the processes it started ran off the measuring core (absent in older runs)
}

const COSTLY = ['spectre_v2', 'spec_rstack_overflow', 'retbleed'];

export function machine(): Host {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  const cores = info.match(/^processor\s*:/gm)?.length ?? os.cpus().length;
  const mitigations: Record<string, string> = {};
  for (const v of COSTLY) {
    try {
      mitigations[v] = fs.readFileSync(`/sys/devices/system/cpu/vulnerabilities/${v}`, 'utf8').trim();
    } catch {
      /* not reported by this kernel */
    }
  }
  return { cpu, cores, kernel: os.release(), memGb: Math.round(os.totalmem() / 2 ** 30), mitigations };
}

// The host a run was measured on: recorded in its results, else (older files) this one.
function hostOf(rs: ScenarioResult[]): { host: Host; recorded: boolean } {
  const h = rs.find((r) => r.host && typeof r.host === 'object')?.host as Host | undefined;
  return h ? { host: h, recorded: true } : { host: machine(), recorded: false };
}

// "spectre_v2 Retpolines, spec_rstack_overflow Safe RET": the mode, without the details.
function mitigationShort(h: Host): string {
  const parts = Object.entries(h.mitigations ?? {})
    .filter(([, v]) => !/^Not affected/.test(v))
    .map(([k, v]) => `${k} ${v.split(/[;,]/)[0].replace(/^(Mitigation|Vulnerable): /, '')}`);
  return parts.length ? parts.join(', ') : 'none';
}

function mitigationText(h: Host): string {
  const parts = Object.entries(h.mitigations ?? {}).map(([k, v]) => `${k}: ${v}`);
  return parts.length ? parts.join('; ') : 'not reported';
}

const n = (x: unknown, d = 2): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x: unknown, d = 0): string => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(d)}%` : '–');
const range = (s: { min: number; max: number } | null | undefined): string => (s ? `${n(s.min)}–${n(s.max)}` : '–');

function byName(rs: ScenarioResult[], name: string): ScenarioResult | undefined {
  return rs.find((r) => r.scenario === name && !r.status);
}

function goals(rs: ScenarioResult[]): string[] {
  const rows: string[] = ['| goal (issue) | measured here | met? |', '|---|---|---|'];
  const add = (goal: string, value: string, ok: boolean | null | 'context'): void => {
    rows.push(`| ${goal} | ${value} | ${ok === 'context' ? '(no goal)' : ok === null ? 'not measured' : ok ? 'yes' : '**no**'} |`);
  };
  const br = byName(rs, 'bridge');
  add('bridge ≥ 5× Linux (64 B) (4)', br ? `${n(br.speedup_vs_linux)}×` : '–', br ? Number(br.speedup_vs_linux) >= 5 : null);
  const r4 = byName(rs, 'router-v4');
  add('router-v4 ≥ 2.2× Linux (64 B) (4)', r4 ? `${n(r4.speedup_vs_linux)}×` : '–', r4 ? Number(r4.speedup_vs_linux) >= 2.2 : null);
  // Issue 4 sets 2.2x for IPv4 forwarding; the same bar for IPv6 is ours.
  const r6 = byName(rs, 'router-v6');
  const ref6 = r6 && typeof r6.reference_mpps === 'number' && typeof r6.linux_mpps === 'number' ? r6.reference_mpps / r6.linux_mpps : null;
  add(`router-v6 ≥ 2.2× Linux (64 B) (our own bar; 4 sets it for IPv4${ref6 === null ? '' : `; the reference itself reaches ${n(ref6)}×`})`,
    r6 ? `${n(r6.speedup_vs_linux)}×` : '–', r6 ? Number(r6.speedup_vs_linux) >= 2.2 : null);
  for (const name of ['bridge', 'router-v4', 'router-v6', 'gateway']) {
    const r = byName(rs, name);
    // One decimal: 89.6% must not read as the 90% it misses.
    add(`${name}: pipeline within 10% of the reference (4)`, r ? `${pct(r.fraction_of_reference, 1)} of reference` : '–', r ? Number(r.fraction_of_reference) >= 0.9 : null);
  }
  const tc = byName(rs, 'tailcall-hops');
  add('tail-call hop ≤ 5 ns (our own bar; 4 asks for the number)', tc ? `${n(tc.ns_per_hop)} ns` : '–', tc ? Number(tc.ns_per_hop) <= 5 : null);
  const sw = byName(rs, 'swap-latency');
  add('swap p99 < 50 ms (4)', sw ? `p99 ${n(sw.p99_ms, 0)} ms (p50 ${n(sw.p50_ms, 0)} ms)` : '–', sw ? Number(sw.p99_ms) < 50 : null);
  const swe = byName(rs, 'swap-latency-epping');
  add('swap p99 < 50 ms, monitor on (4, 6)', swe ? `p99 ${n(swe.p99_ms, 0)} ms (p50 ${n(swe.p50_ms, 0)} ms)` : '–', swe ? Number(swe.p99_ms) < 50 : null);
  for (const [kind, name] of [['router', 'epping-1000'], ['bridge', 'epping-bridge-1000']]) {
    const ep = byName(rs, name);
    add(`ePPing cost at 1000 flows ≤ 15%, ${kind} (100 ms sampling) (6)`, ep ? `${n(ep.cost_sampled_pct, 1)}%` : '–', ep ? Number(ep.cost_sampled_pct) <= 15 : null);
    add(`ePPing cost at 1000 flows ≤ 30%, ${kind} (unlimited) (6)`, ep ? `${n(ep.cost_unlimited_pct, 1)}%` : '–', ep ? Number(ep.cost_unlimited_pct) <= 30 : null);
  }
  const ek = byName(rs, 'epping-1000');
  add('(context) ePPing cost at 1000 flows in front of Linux forwarding, sampled / unlimited (the published reference: 41% unlimited)',
    ek && typeof ek.cost_linux_sampled_pct === 'number' ? `${n(ek.cost_linux_sampled_pct, 1)}% / ${n(ek.cost_linux_unlimited_pct, 1)}%` : '–', 'context');
  const eps = EPPING_SCENARIOS.map((x) => byName(rs, x.name)).filter((r): r is ScenarioResult => !!r);
  const missed = eps.reduce((a, r) => a + missedFrames(r), 0);
  const drops = eps.reduce((a, r) => a + Number(r.ringbuf_drops ?? 0), 0);
  add('ePPing: every packet processed, ring-buffer drops reported (6)', eps.length ? `${missed} frames uninspected, ${drops} ring-buffer drops` : '–', eps.length ? missed === 0 : null);
  const cp = byName(rs, 'control-plane-scale');
  add('control plane start < 2 s (100k routes, 10k FDB, 200 devices) (3)', cp ? `introspector ${n(cp.introspector_start_ms, 0)} ms; daemon ready ${n(cp.daemon_start_ms, 0)} ms` : '–', cp ? Number(cp.daemon_start_ms) < 2000 : null);
  add('control plane RSS < 150 MB (3)', cp ? `introspector ${n(cp.introspector_rss_mb, 0)} MB; daemon ${n(cp.daemon_rss_mb, 0)} MB` : '–', cp ? Number(cp.daemon_rss_mb) < 150 : null);
  return rows;
}

// A monitor row's sampled figures at 1000 flows as the ePPing prose quotes them.
function monitorNs(rs: ScenarioResult[], name: string): string {
  const r = byName(rs, name);
  return r ? `${n(r.monitor_ns_sampled, 1)} ns` : 'not measured';
}

function monitorRow(rs: ScenarioResult[], name: string): string {
  const r = byName(rs, name);
  return r ? `${n(r.monitor_ns_sampled, 1)} ns, ${n(r.cost_sampled_pct, 1)}%` : 'not measured';
}

const RUNS = path.join(DOCS, 'bench-runs');

// Earlier full runs kept in docs/bench-runs/ (JSON lines as `--out` writes them), oldest first.
function earlierRuns(): Array<{ file: string; rs: ScenarioResult[] }> {
  if (!fs.existsSync(RUNS)) return [];
  return fs
    .readdirSync(RUNS)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => ({
      file: f,
      rs: fs.readFileSync(path.join(RUNS, f), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as ScenarioResult),
    }));
}

// The headline ratios of this run beside the kept ones: the same code measured on hosts that
// differ mostly in what their CPU mitigations make the kernel pay.
function hostsTable(rs: ScenarioResult[]): string[] {
  const rows = [
    '| run | kernel | mitigations | Linux router-v4 Mpps | bridge × Linux / of ref. | router-v4 × Linux / of ref. | router-v6 of ref. | gateway of ref. | ePPing 1000 flows, router: sampled / unlimited | ePPing 1000 flows, bridge: sampled / unlimited | tail-call hop |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const row = (label: string, r: ScenarioResult[]): void => {
    const { host } = hostOf(r);
    const get = (name: string): ScenarioResult | undefined => byName(r, name);
    const xr = (name: string): string => {
      const x = get(name);
      return x ? `${n(x.speedup_vs_linux)}× / ${pct(x.fraction_of_reference, 1)}` : '–';
    };
    const ep = get('epping-1000');
    const epb = get('epping-bridge-1000');
    const cost = (x: ScenarioResult | undefined): string => (x ? `${n(x.cost_sampled_pct, 1)}% / ${n(x.cost_unlimited_pct, 1)}%` : '–');
    const tc = get('tailcall-hops');
    const mit = Object.keys(host.mitigations ?? {}).length ? mitigationShort(host) : 'not recorded';
    rows.push(
      `| ${label} | ${host.kernel} | ${mit} | ${n(get('router-v4')?.linux_mpps)} | ${xr('bridge')} | ${xr('router-v4')} | ${pct(get('router-v6')?.fraction_of_reference, 1)} | ${pct(get('gateway')?.fraction_of_reference, 1)} | ${cost(ep)} | ${cost(epb)} | ${tc ? `${n(tc.ns_per_hop)} ns` : '–'} |`,
    );
  };
  for (const e of earlierRuns()) row(`\`docs/bench-runs/${e.file}\``, e.rs);
  row('this report', rs);
  return rows;
}

function forwardingTable(rs: ScenarioResult[]): string[] {
  const rows = [
    '| scenario | frame | flows | Linux Mpps (min–max) | slipstream Mpps (min–max) | reference Mpps (min–max) | × Linux | of reference | slipstream delivered |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const name of ['bridge', 'router-v4', 'router-v6', 'gateway']) {
    const r = byName(rs, name);
    if (!r) continue;
    for (const c of (r.cases as CaseResult[]) ?? []) {
      rows.push(`| ${name} | ${c.frame_size} B | ${c.flows} | ${n(c.linux_mpps)} (${range(c.linux)}) | ${n(c.slipstream_mpps)} (${range(c.slipstream)}) | ${n(c.reference_mpps)} (${range(c.reference)}) | ${n(c.speedup_vs_linux)} | ${pct(c.fraction_of_reference)} | ${pct(c.slipstream_delivered_fraction)} |`);
    }
  }
  return rows;
}

const EPPING_SCENARIOS = (['router', 'bridge'] as const).flatMap((kind) =>
  [1, 100, 1000].map((flows) => ({ kind, flows, name: kind === 'router' ? `epping-${flows}` : `epping-bridge-${flows}` })),
);

// Frames injected into a monitored pipeline that the monitor did not count as inspected.
function missedFrames(r: ScenarioResult): number {
  const m = r.monitor_missed as Record<string, number> | undefined;
  return m ? Object.values(m).reduce((a, x) => a + Math.abs(x), 0) : 0;
}

// The monitor-only pipeline in front of the kernel's forwarding (absent in older results).
function linuxMonitored(r: ScenarioResult): string {
  const s = r.linux_monitored_sampled as { median?: number } | undefined;
  const u = r.linux_monitored_unlimited as { median?: number } | undefined;
  if (!s || !u) return '– | –';
  return `${n(s.median)}, ${n(u.median)} | ${n(r.cost_linux_sampled_pct, 1)}%, ${n(r.cost_linux_unlimited_pct, 1)}%`;
}

// Share of the sampled run's frames that found their flow direction quiet (absent in older results).
function quietShare(r: ScenarioResult): string {
  const m = r.monitor_sampled as Record<string, number> | undefined;
  return m && m.quiet !== undefined && m.packets ? `${n((100 * m.quiet) / m.packets, 1)}%` : '–';
}

function eppingTable(rs: ScenarioResult[]): string[] {
  const rows = [
    '| pipeline | flows | Linux | epping off | on, 100 ms sampling | on, unlimited | cost sampled | cost unlimited | monitor ns/frame (sampled, unlimited) | quiet (sampled) | Linux + monitor (sampled, unlimited) | cost on Linux (sampled, unlimited) | uninspected | ring-buffer drops |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { kind, flows, name } of EPPING_SCENARIOS) {
    const r = byName(rs, name);
    if (!r) continue;
    rows.push(`| ${kind} | ${flows} | ${n(r.linux_mpps)} | ${n(r.epping_off_mpps)} | ${n(r.epping_sampled_mpps)} | ${n(r.epping_unlimited_mpps)} | ${n(r.cost_sampled_pct, 1)}% | ${n(r.cost_unlimited_pct, 1)}% | ${n(r.monitor_ns_sampled, 1)}, ${n(r.monitor_ns_unlimited, 1)} | ${quietShare(r)} | ${linuxMonitored(r)} | ${missedFrames(r)} | ${n(r.ringbuf_drops, 0)} |`);
  }
  return rows;
}

function otherTable(rs: ScenarioResult[]): string[] {
  const out: string[] = [];
  const tc = byName(rs, 'tailcall-hops');
  if (tc) {
    const pts = (tc.points as Array<{ hops: number; ns_per_frame: number }>).map((p) => `${p.hops}: ${n(p.ns_per_frame, 1)}`).join(', ');
    out.push(`* **tailcall-hops**: ${n(tc.ns_per_hop)} ns per hop (least-squares slope, r² ${n(tc.r2, 3)}); ns per frame by number of nop FPMs — ${pts}.`);
  }
  for (const name of ['swap-latency', 'swap-latency-epping']) {
    const sw = byName(rs, name);
    if (!sw) continue;
    const progs = Array.isArray(sw.pipelines) ? ` Generations swapped in: ${(sw.pipelines as string[]).map((x) => `\`${x}\``).join(', ')}.` : '';
    out.push(`* **${name}**: ${sw.swaps} swaps of ${sw.changes} changes: p50 ${n(sw.p50_ms, 1)} ms, p90 ${n(sw.p90_ms, 1)} ms, p99 ${n(sw.p99_ms, 1)} ms, max ${n(sw.max_ms, 1)} ms (the daemon's own histogram agrees: mean ${n(sw.metrics_mean_ms, 1)} ms over ${sw.metrics_count}).${progs}`);
  }
  const cp = byName(rs, 'control-plane-scale');
  if (cp) {
    out.push(`* **control-plane-scale**: ~100k routes, 10k static FDB entries, 200 veths + bridge (the model held ${cp.routes} routes, ${cp.fdb_entries} FDB entries and ${cp.devices} links after the burst). Introspector (fresh process): start ${n(cp.introspector_start_ms, 0)} ms, RSS ${n(cp.introspector_rss_mb, 0)} MB; a burst of ${cp.burst_routes} route additions (\`ip -batch\`, itself ${n(cp.burst_ip_batch_ms, 0)} ms) was fully in the model after ${n(cp.burst_ms, 0)} ms. Daemon: spawn to "ready" ${n(cp.daemon_start_ms, 0)} ms, RSS ${n(cp.daemon_rss_mb, 0)} MB.`);
  }
  for (const r of rs.filter((x) => x.status)) out.push(`* **${r.scenario}**: ${String(r.status)}${r.note ? ` (${String(r.note)})` : ''}.`);
  return out;
}

function loadAverage(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

export function renderDocs(rs: ScenarioResult[], cmd: string, opts: Pick<BenchOptions, 'cpu' | 'reps' | 'frames' | 'batchSize' | 'quick'>, when: Date): string {
  const { host: m, recorded } = hostOf(rs);
  return [
    '# Benchmarks',
    '',
    `Latest results, generated by the bench itself (\`bench/docs.ts\`) from its JSON output on ${when.toISOString().slice(0, 10)}.`,
    '',
    `* Machine: ${m.cores} cores, ${m.cpu} (from /proc/cpuinfo), ${m.memGb} GB RAM, a VM; kernel ${m.kernel}${recorded ? '' : ' (read when the report was written)'}.`,
    `* CPU mitigations (/sys/devices/system/cpu/vulnerabilities): ${mitigationText(m)}. They move every number here:`,
    '  see "Two hosts" below.',
    `* Command: \`${cmd}\` (as root, from the repository, after \`npm run build\`).`,
    `* Generator pinned to CPU ${opts.cpu}${m.offCore ? ", the bench's other threads and the processes it starts (its garbage collector, the daemons) kept off it" : ''}; ${opts.frames.toLocaleString('en')} frames per run, live-frame batches of ${opts.batchSize}; each variant ${opts.reps}× interleaved (A B C A B C …); medians, with min–max.`,
    `* Load average when the report was written: ${loadAverage()}. On a shared machine single runs scatter widely`,
    '  (see min–max) even though the bench runs at nice −20. Compare ratios measured in one run, not absolute Mpps',
    '  across runs; treat differences under ~20% as noise.',
    '',
    '![Mpps by scenario](img/bench-mpps.png)',
    '',
    '## Goals and today\'s values',
    '',
    ...goals(rs),
    '',
    'Headline rows are 64-byte frames, one flow. Misses are misses. Where the time goes, from ablations of the',
    'programs alone (`BPF_PROG_TEST_RUN` without live frames, one flow, all behind the same frame-restoring wrapper)',
    'and of variants swapped into live runs:',
    '',
    '* **Bridge.** Forwarding a bridged frame takes two FDB lookups (the destination, and the source, which the',
    '  kernel\'s learning needs; the reference skips it) and both ports\' checks: about 30 ns of program time',
    '  against 14 for the reference. l2-bridge now caches, per CPU, the port-level verdict of each flow it forwarded',
    '  (8192 slots keyed by ingress and both MACs), valid while the mirrors\' generation (bumped by the controller',
    '  after every change to the FDB mirror or the device table) is unchanged and for 25 jiffies. A hit is one array',
    '  read and a compare, then the per-frame checks (EtherType, MTU, br_netfilter) and the redirect: one flow runs',
    '  at the reference\'s speed. With 1000 flows about a tenth of them collide in the table and take the full path.',
    '  The root reads the clock at most once per tick and CPU (a per-CPU copy of the last fresh heartbeat, checked',
    '  against jiffies, which the verifier inlines).',
    '* **Router.** Program time (each variant run by `BPF_PROG_TEST_RUN` without live frames, behind the same',
    '  frame-restoring injector, so the kernel\'s work after the verdict is left out; v595 host, 2026-11-25): the',
    '  injector alone 39 ns a frame, with the reference 143, with slipstream 174 before and 166 after the change',
    '  below. The root and its tail call are about 3 ns of the difference. Since 2026-11-25 l3-router parses the',
    '  common frame (untagged unicast IPv4 without options or fragmentation, IPv6 without extension headers) in a',
    '  lane of its own whose offsets and flags the compiler knows as constants (`ss_parse_plain_ipv4/ipv6`,',
    '  docs/fpm-contract.md §1); the general parser\'s offsets depend on VLAN tags, and every check after it paid for',
    '  that. In quick live runs this took router-v4 from about 89.5% to 92% of the reference, router-v6 from 92% to',
    '  94%, the gateway from 88% to 90%; test/unit/bpf-parse-lanes checks the lane against the general parser frame',
    '  by frame. The price is verification: l3-router, which the verifier now walks once per lane and once for the',
    '  general path, takes about 13 ms to load instead of 6 (10.5k instructions processed instead of 6.3k, the manifest\'s',
    '  default knobs), most of the rise in swap latency from p50 13 to 20 ms between the 2026-11-25a and b runs.',
    '  Of what remains, the next-hop mark, the martian and local-source checks, the header checksum and',
    '  the counter together are about 6 ns (removed for measurement only); each is something the kernel does. The',
    '  rest is spread over the device-table reads and the MTU, ICMP and bridge checks. One program can read several',
    '  ns apart from one load to the next (its JIT image lands somewhere else each time), so a small change needs',
    '  several loads to judge: one combined flag test for the egress device read 4 ns better once and 10 ns worse',
    '  three times, and is not in. An earlier `perf record -e cpu-clock` profile of live runs (2026-11-24) had',
    '  l3-router\'s own code at about 52 ns a frame against 16 for the reference; an out-of-line `ss_pass` made no',
    '  measurable change.',
    '  Built and measured on 2026-11-24, not kept (git branch `exp/no-root-dispatcher`): no root, the heartbeat',
    '  check in each generation\'s first FPM, swaps as `bpf_link` updates. Router-v4 gained about 4 ns a frame (1.5%),',
    '  but every swap then waits for the kernel\'s XDP dispatcher to be rebuilt (`synchronize_rcu` in',
    '  `bpf_dispatcher_update`, on every change of an attached XDP program): swap latency p50 14 → 27 ms, p99',
    '  19 → 38–41 ms, paid once per device, one after another. A prog-array update, the root\'s swap, waits for no',
    '  grace period. The kernel\'s FIB answer is not cached: a route or neighbour change must reach the next packet,',
    '  and only the live lookup guarantees that.',
    '* **Gateway.** Routed into a bridge, l3-router must find the port behind the next hop\'s MAC, because XDP cannot',
    '  transmit on the bridge device: one `ss_fdb` hash lookup per packet, which the reference makes too. Here a hash',
    '  lookup is about 20 ns of program time (the reference takes 168 ns in the gateway against 143 in the router).',
    '  Since 2026-11-25 (after the b run) l3-router caches the port per CPU and (bridge, MAC), 1024 slots, trusted',
    '  only while the mirrors\' generation is unchanged, like l2-bridge\'s flow cache; the port\'s own checks still',
    '  run on every frame. Program time 194 → 175 ns (reference 168); quick live runs about 90% → 97% of the',
    '  reference. A gateway\'s LAN neighbours are few, so the slots rarely collide; a collision costs the lookup.',
    '* **× Linux.** On the v595 host the kernel baselines match ../shared/NOTES.md (Linux bridge about 0.9',
    '  Mpps, IPv4 forwarding about 1.5, the hand-written references about 5.3 and 3.7). On the earlier v769 host the',
    '  kernel forwarded about 3× faster and the pipelines gained less, so its ratios were lower (see "Two hosts").',
    '* **ePPing.** The monitor costs about the same time per frame in the router and the bridge pipeline (the',
    '  table\'s ns/frame column), so its cost in % is larger in the faster bridge pipeline. With a rate limit',
    '  almost every frame belongs to a flow direction inside its window whose other direction has nothing',
    '  outstanding: such a frame can neither be timestamped nor be a reply. Since 2026-11-24 (after the f run)',
    '  the first frame that finds its direction so marks it quiet until the window ends, in a compact table of',
    '  8-byte ways (tag and end jiffy; docs/epping.md), and later frames read the TCP ports and flags, hash the tuple,',
    '  read one way, count and go on to the next FPM. A timestamp the other way wakes the direction, and so does',
    '  a closing flow. Before, every frame read its flow entry in the flow table (an array of sets of eight',
    '  152-byte slots), and at 1000 flows that entry is cold: in a profile of the bridge pipeline a quarter of the',
    '  monitor\'s samples sat on the tuple compare right after that read, and the monitor took about 50 to 57 ns a',
    '  frame (about 33 with one flow). A first, direct-mapped quiet table left 13% of the frames on the full path',
    '  (flows colliding in it, quiet times ending a tick early) and saved nothing: the flow entries, now read rarely,',
    '  came from further away each',
    '  time. With sets of four ways and quiet times that end at the window\'s last tick, 99% of the frames are',
    '  quiet (the table\'s "quiet" column), and in quick runs the monitor took about 30 to 35 ns a frame at 1000',
    '  flows in both pipelines. The two full runs with it (2026-11-24g and h) read 65 and 46 ns in the',
    '  router pipeline and 46 and 40 in the bridge pipeline: the machine scattered more than usual that hour (the',
    '  bridge scenario with one flow, run twice in a row, read 28 and 41 ns). What remains per frame is the quiet',
    '  way\'s own read, still a cache miss at 1000 flows (about 9 ns in a profile),',
    '  the hash (about 5), parsing and one counter (since the folds a quiet frame no longer also counts as a',
    '  packet in the map, and skips the TCP options). Unlimited sampling has no windows and still',
    '  reads the flow entry on every frame. Earlier changes: the flow table replaced a hash map whose lookup is a',
    '  call with its own hash and bucket walk (about 30 ns a frame at 1000 flows on the v595 host, where SRSO',
    '  makes every return cost); the hash\'s five multiplies are independent, so a read waits for one multiply, not',
    '  five in a row; the clock is read like the root\'s, once per tick and CPU. Fusing the monitor with the next',
    '  FPM into one program, measured side by side before the quiet table, saved about 4 ns a frame in the router',
    '  pipeline and nothing measurable in the bridge pipeline. Once the quiet table had made the monitor cheap it',
    '  paid: since 2026-11-24 (after the h run) l2-bridge and l3-router have variants with parse and the monitor',
    '  compiled in (manifest `folds`, docs/fpm-contract.md), and in alternating quick runs at 1000 flows (100 ms',
    '  sampling, 6 × 5 runs each) the monitor\'s time fell from 40.2 to 34.1 ns a frame in the bridge pipeline and',
    '  from 38.2 to 36.9 (within noise) in the router pipeline; checking for quiet before the TCP options and one',
    '  counter per frame took the bridge figure from 33.4 to 27.8 (6 × 5). Full runs of the same code read the',
    '  1000-flow sampled rows up to 5 points apart (2026-11-24j: 37.1 ns, 15.8% in the bridge pipeline, 29.6 ns, 8.7% in',
    '  the router pipeline; 2026-11-25a, after the 2026-11-25 verifier changes, which A/B quick runs found a few ns',
    '  cheaper if anything: 31.6 ns, 13.8% and 43.2 ns, 12.4%; the run after it, the same monitor code: 27.3 ns,',
    '  11.7% and 42.3 ns, 12.3%; 2026-11-25c: 24.0 ns, 10.0% and 50.6 ns, 14.5%, where alternating quick',
    '  runs of this and the previous l3-router read 9.1 and 13.8% against 13.5 and 16.6% (quick runs later that day of',
    '  the same code: 10.1–12.6% in the router pipeline); 2026-11-25d: 35.0 ns, 15.3% and 50.5 ns, 14.5%);',
    '  five reps of the sampled variant, whose reps',
    '  spread wide, do not pin the median down. Runs of the ePPing scenarios alone read less than full runs in the',
    '  same hour (2026-11-24: 24.8 ns, 11.0% for the bridge); scenario order was ruled out, the cause is not known',
    '  (time-dependent load on the shared host is the guess left). One more full run (7 reps) is not kept: in it about 200 of the 1000 bridge',
    '  flows failed to open in some runs of the sampled variant, so 21% of its frames took the full path (quiet',
    '  79%, not 99%).',
    '  That did not happen again. The path it fits, a claim giving way to a slot being made for the same tuple,',
    '  counted nothing; it is now `flow_claim_lost`, and the bench reports it with `flow_collision`, `not_newer`,',
    '  `id_resync` and `local_skipped` per variant,',
    '  so the next such run says why. In front of the kernel\'s own',
    '  forwarding (the monitor-only pipeline slipstream runs on a port it does not accelerate, e.g. a NAT',
    '  gateway\'s; the published reference\'s setting) the same nanoseconds are a smaller share.',
    '  Since 2026-11-25 (after the d run) the monitor\'s program tries parse\'s plain lanes first and, on their TCP',
    '  segments, makes the quiet check at constant offsets from the header words, without building the tuple',
    '  (docs/epping.md, "The quiet lane"); a quiet frame then skips the monitor proper. Program time of the',
    '  bridge\'s monitor 28 → 13 ns, the router\'s 22 → 19; in four alternating pairs of quick runs at 1000 flows',
    '  the sampled cost went from 12.5–17.1% to 7.6–8.8% in the bridge pipeline and from 8.6–11.3% to 5.5–9.2% in',
    `  the router pipeline; this run: ${monitorRow(rs, 'epping-bridge-1000')} and ${monitorRow(rs, 'epping-1000')}. With one flow the monitor now`,
    `  takes ${monitorNs(rs, 'epping-bridge-1')} and ${monitorNs(rs, 'epping-1')} a frame: what the 1000-flow rows add is mostly the quiet way\'s read, a`,
    '  cache miss at that many flows, and their reps spread widest.',
    '* **Swap latency** is a 5 ms settle for the first change after a quiet period (changes that keep coming wait',
    '  for the 50 ms debounce), a sysctl re-read, the graph rebuild and loading a whole new generation (every FPM',
    '  object through the verifier, a few ms each) before the one-map-update swap. With the monitor on, each',
    '  generation of a monitored device carries it, and its verification is most of the difference between the two',
    '  swap rows (docs/epping.md, "Every generation of a monitored device carries the monitor").',
    '* **Control plane.** RSS is dominated by the model of 100k routes; the daemon adds the API server, probes and',
    '  the BPF objects.',
    '',
    '## Two hosts',
    '',
    'Measured with the same command on two hosts of this workplace, and more than once on one of them. The kept',
    'runs measured the same code as this one except the ePPing flow table, a hash map up to the 2026-11-24c run (see',
    'ePPing above), the bench\'s own threads and daemons, free to run on the measuring core up to the 2026-11-24d',
    'run, two small changes to l3-router made after the 2026-11-24e run (see Router above), and the ePPing quiet',
    'table, added after the 2026-11-24f run (see ePPing above), and the monitor\'s verifier changes and l3-router\'s',
    '16-byte reverse-lookup request, made after the 2026-11-24j run (docs/epping.md), and l3-router\'s plain lanes, made after',
    'the 2026-11-25a run (see Router above), and its bridge-port cache, made after the 2026-11-25b run (see Gateway',
    'above), and the ePPing quiet lane, made after the 2026-11-25d run (see ePPing above). The 2026-11-25c and d runs',
    'measured the same datapath (only the controller\'s route model changed between them).',
    'Earlier runs are kept in `docs/bench-runs/`',
    'as the bench wrote them (the two oldest got their host',
    'record afterwards: the kernel from the report they made, the mitigations, where known, read on the same host);',
    'the goal table above reads this report\'s run only. Runs on one host scatter too, most in the ePPing rows,',
    'whose "monitor off" baseline moves with the other tenants\' load: compare within a row, not across runs.',
    '',
    ...hostsTable(rs),
    '',
    'The v595 host has retpolines against Spectre v2 and SRSO\'s "safe RET": every indirect jump and every return',
    'in the kernel goes through a thunk. The kernel\'s forwarding path makes many calls per packet and slows the most;',
    'the pipelines and the references (straight-line BPF around two helper calls) slow less, so × Linux and',
    '"of reference" both come out higher than on the v769 host, and a tail call costs more. The v769 host\'s',
    'mitigations were not recorded (the bench records them since). Neither host is the odd one out: these mitigations',
    'are what Linux picks by default on the affected AMD CPUs. Goals that are met on one host and missed on the other',
    'are not met.',
    '',
    '## Forwarding capacity (one core)',
    '',
    ...forwardingTable(rs),
    '',
    '## Latency monitor (ePPing) cost',
    '',
    `Router (IPv4) and bridge pipelines with TCP segments carrying the timestamp option (${byName(rs, 'epping-1')?.frame_size ?? 96}-byte frames, every segment a fresh TSval, one direction).`,
    'Mpps are medians. The monitor\'s time per frame (1/on − 1/off) is about the same in both pipelines; the cost in %',
    'is larger in the faster one. "Linux + monitor" is the monitor alone (parse folded in, then `XDP_PASS`) in front of',
    'the kernel\'s forwarding, against Linux alone. "Quiet" is the share of the sampled run\'s frames whose flow direction',
    'was marked quiet (inside its window, nothing outstanding the other way: only counted). "Uninspected" is frames',
    'injected minus packets the monitor counted.',
    '',
    ...eppingTable(rs),
    '',
    '![Mpps by flow count with ePPing](img/bench-epping.png)',
    '',
    '## Control plane and pipeline mechanics',
    '',
    ...otherTable(rs),
    '',
    '## How it is measured',
    '',
    '* Frames are generated in the kernel with `BPF_PROG_TEST_RUN` and `BPF_F_TEST_XDP_LIVE_FRAMES`, run in the',
    '  lab router\'s namespace with `ingress_ifindex` = its ingress port, the worker thread pinned to one CPU. Their',
    '  verdicts are executed for real: `XDP_PASS` hands a frame to the Linux stack as if the port had received it,',
    '  `XDP_REDIRECT` transmits it. Everything — generator, forwarding, the far host\'s receive path — runs on that one core.',
    '* The program run is `bpf/bench/inject.bpf.c`: it restores the frame\'s headers from a map first (live-frame',
    '  pages are recycled with whatever the last run wrote: TTL and MAC rewrites would accumulate), picks the next of',
    '  K precomputed flows (distinct source MACs/addresses/ports), optionally stamps a fresh TCP TSval, then',
    '  tail-calls the program under test. An empty slot returns `XDP_PASS`: that is the **Linux** baseline (bridge,',
    '  IPv4/IPv6 forwarding in the kernel). **slipstream** is the root program the daemon attached to the ingress',
    '  port (heartbeat check, stats, every fidelity check of the FPMs), with the daemon running. **reference** is a',
    '  hand-written minimal program (`bpf/ref/ref_l2`, `bpf/ref/ref_fib`, `bpf/bench/ref_gw`): the practical limit.',
    '  The wrapper\'s cost is in all three.',
    '* Delivery is counted by `bpf/bench/count.bpf.c` on the far host\'s veth: only the test flow, dropped after',
    '  counting; ARP/ND pass. Mpps = frames delivered / wall time of the run.',
    '* The epping variants (off / 100 ms / unlimited, and the monitor alone at 100 ms / unlimited) are loaded by the bench with the deployer\'s classes',
    '  (`bench/pipeline.ts`: assembler plan, `Generation`, its own root with the heartbeat check) next to a running',
    '  daemon whose maps they share, because one daemon runs one `epping:` configuration and the variants must be',
    '  measured side by side in one run. Their knobs repeat the daemon\'s for the port (the router\'s source check,',
    '  the bridge\'s br_netfilter checks).',
    '  Traffic is one-directional, so the monitor creates flows and timestamps but never matches a reply; matching',
    '  costs are not in these numbers. Without a rate limit the timestamp map fills up (16384 entries) and later',
    '  inserts fail.',
    '* tailcall-hops: chains of 0–8 `fpm/nop.bpf.o` (real `ss_next`) before `bpf/bench/drop.bpf.c`; the slope of ns per',
    '  frame over chain length.',
    '* swap-latency: each change flips `net.ipv4.conf.<ingress>.forwarding` (an RTM_NEWNETCONF event), 100 ms apart, which changes',
    '  the ingress device\'s pipeline; the daemon reports first event → slot updated (includes the settle/debounce).',
    '* swap-latency-epping: the same with `epping.enabled`, so every generation carries the monitor, folded into',
    '  l3-router (the port still routes IPv6; the change flips the IPv4 knob). Most of the time is the verifier\'s: the monitor\'s',
    '  rare paths (flow claim, quiet wake-ups, flow events, histograms) are global functions, which it checks once',
    '  each (docs/epping.md, "Every generation of a monitored device carries the monitor").',
    '* `queueing` is not available yet (no queueing FPM).',
    '',
    '## What the ratios mean, and why veth labs differ from real NICs',
    '',
    '* **× Linux** is slipstream\'s rate over the kernel\'s on the same core in the same run; **of reference** is how',
    '  close the full pipeline (root + parse + the service FPM, with statistics and every check that keeps it',
    '  exactly like the kernel) comes to the least an XDP program could do.',
    '* On veth there is no DMA, no driver RX ring and no interrupt: the generator hands frames straight to XDP, and a',
    '  redirect into a veth is a pointer handoff to the peer\'s NAPI. Both paths skip costs a real NIC has, but the',
    '  kernel path skips proportionally less (it still allocates an skb per frame, runs the bridge/IP stack and the',
    '  qdisc), so XDP\'s advantage looks larger here than the per-packet driver costs of a real NIC would leave it, while',
    '  the *absolute* Mpps are higher than a NIC at the same clock would sustain. Real NICs add cache misses on',
    '  descriptors and payload; large frames cost almost nothing extra here (no copy) but do on the wire.',
    '* Everything shares one core with the receiving host\'s veth, so the far host\'s counter is part of every',
    '  number (the same for all variants).',
    '',
  ].join('\n');
}

function forwardingGroups(rs: ScenarioResult[]): BarGroup[] {
  const g: BarGroup[] = [];
  for (const name of ['bridge', 'router-v4', 'router-v6', 'gateway']) {
    const r = byName(rs, name);
    if (!r) continue;
    for (const c of (r.cases as CaseResult[]) ?? []) {
      g.push({ label: `${name} ${c.frame_size}B/${c.flows}fl`, values: [c.linux_mpps, c.slipstream_mpps, c.reference_mpps] });
    }
  }
  return g;
}

export async function writeDocs(rs: ScenarioResult[], cmd: string, opts: Pick<BenchOptions, 'cpu' | 'reps' | 'frames' | 'batchSize' | 'quick'>): Promise<string[]> {
  fs.mkdirSync(IMG, { recursive: true });
  const files: string[] = [];
  const groups = forwardingGroups(rs);
  if (groups.length) files.push(...writeChart(barChart('Forwarding capacity on one core (Mpps)', 'Mpps', ['Linux', 'slipstream', 'reference'], groups), path.join(IMG, 'bench-mpps.png')));
  const flows = [1, 100, 1000].filter((f) => byName(rs, `epping-${f}`));
  if (flows.length) {
    const get = (f: number, k: string): number | null => {
      const v = byName(rs, `epping-${f}`)?.[k];
      return typeof v === 'number' ? v : null;
    };
    const svg = lineChart('Router pipeline with ePPing, by flow count', 'Mpps', 'TCP flows', flows.map(String), [
      { name: 'Linux', points: flows.map((f) => get(f, 'linux_mpps')) },
      { name: 'epping off', points: flows.map((f) => get(f, 'epping_off_mpps')) },
      { name: 'on, 100 ms', points: flows.map((f) => get(f, 'epping_sampled_mpps')) },
      { name: 'on, unlimited', points: flows.map((f) => get(f, 'epping_unlimited_mpps')) },
    ]);
    files.push(...writeChart(svg, path.join(IMG, 'bench-epping.png')));
  }
  const json = path.join(DOCS, 'benchmarks.json');
  fs.writeFileSync(json, rs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  files.push(json);
  const md = path.join(DOCS, 'benchmarks.md');
  fs.writeFileSync(md, renderDocs(rs, cmd, opts, new Date()));
  files.push(md);
  return files;
}
