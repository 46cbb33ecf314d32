// `slipstream demo` / `npm run demo`: a gateway in network namespaces, measured with the kernel
// alone, then accelerated by the real daemon, with what the daemon decided and counted, one
// live configuration change, and a full clean-up (also on failure and Ctrl-C).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ApiClient } from '../cli/client';
import { table, count } from '../cli/table';
import type { DeviceStats, PipelineView } from '../daemon/view';
import type { Graph } from '../graph/types';
import { counterTable } from '../deployer/counters';
import { DaemonChild } from './daemon-child';
import { repoRoot } from '../util/paths';
import { cpuPerGiB, gbit, pingAvgMs, ratio, withCpu, type Throughput } from './measure';
import {
  heading, renderChains, renderCounters, renderServices, serviceLine, share, statsDelta, sumDelta, topReasons, type CounterDelta,
} from './report';

type LabModule = typeof import('../../test/lab');
type Lab = import('../../test/lab').Lab;
type GatewayLabTopo = import('../../test/lab').GatewayLabTopo;

const BPFFS_ROOT = '/sys/fs/bpf/slipstream';
const NFT_TABLE = 'slipstream_demo';
const DROP_PORT = 9009;
const TOOLS = ['ip', 'ethtool', 'nsenter', 'ping', 'iperf3', 'nft', 'sysctl'];

export interface DemoIo {
  out: (s: string) => void;
}

class DemoError extends Error {}

// The lab harness ships with a clone (dist/test/lab); installed copies leave it out.
function loadLab(): LabModule {
  const file = path.join(__dirname, '..', '..', 'test', 'lab');
  try {
    return require(file) as LabModule;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new DemoError(`the demo needs the lab harness (${path.relative(process.cwd(), file)}.js), which a built clone of the repository has; run it from a clone after "npm run build"`);
    }
    throw e;
  }
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new DemoError('the demo creates network namespaces and loads BPF programs: run it as root');
  const missing = TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new DemoError(`missing tools: ${missing.join(', ')} (scripts/setup.sh installs them)`);
  let bpffs = false;
  try {
    bpffs = fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf');
  } catch {
    /* treated as not mounted */
  }
  if (!bpffs) throw new DemoError('bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf, or run scripts/setup.sh)');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new DemoError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(100);
  }
}

function receivedBytes(raw: unknown): number {
  const end = raw && typeof raw === 'object' ? (raw as { end?: { sum_received?: { bytes?: unknown } } }).end : undefined;
  const b = end?.sum_received?.bytes;
  return typeof b === 'number' ? b : 0;
}

interface Before {
  tcp: Throughput;
  rttMs: number | null;
}

export async function runDemo(io: DemoIo = { out: (s) => void process.stdout.write(s) }): Promise<number> {
  const t0 = Date.now();
  const say = (msg: string): void => io.out(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
  let lab: Lab | null = null;
  let daemon: DaemonChild | null = null;

  // Runs before the lab's own signal hook: the daemon must stop before its namespace goes.
  const onSignal = (sig: NodeJS.Signals): void => {
    io.out(`\n${sig}: stopping the daemon and deleting the lab\n`);
    daemon?.stopSync();
    lab?.destroy();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    io.out('slipstream demo: a small gateway in network namespaces, first with the kernel alone, then accelerated\n\n');
    preflight();
    const L = loadLab();

    lab = new L.Lab();
    say(`building the lab (namespaces ${lab.prefix}-*)`);
    const topo = L.gatewayLab(lab, { lanHosts: 2 });
    const [l1, l2] = topo.lanHosts;
    const wan = topo.wanHost;
    io.out(`        gateway ${topo.gw}: bridge br0 ${topo.bridge.ip4}/24 over lan1, lan2; wan0 ${topo.wan.ip4}/24; IPv4 and IPv6 forwarding on\n`);
    io.out(`        LAN hosts ${l1.ns} (${l1.ip4}), ${l2.ns} (${l2.ip4}); WAN host ${wan.ns} (${wan.ip4})\n`);
    io.out(`        lab namespaces: ${lab.namespaceNames.join(' ')}\n`);
    await warmUp(L, topo);

    say('measuring with the kernel alone: ping LAN -> WAN, iperf3 TCP LAN -> WAN for 3 s');
    const before = await measureForwarding(L, lab, topo, 5201);
    say(`kernel alone: ${gbit(before.tcp.bitsPerSecond)}, ping ${before.rttMs?.toFixed(3) ?? '?'} ms`);

    say(`starting the daemon: bin/slipstream run --netns ${topo.gw}`);
    daemon = new DaemonChild(topo.gw);
    const listen = await daemon.start();
    const api = new ApiClient(listen, fs.readFileSync(daemon.tokenFile, 'utf8').trim());
    const get = async <T>(p: string): Promise<T> => (await api.json('GET', p)).data as T;
    const pipes0 = (await get<{ pipelines: PipelineView[] }>('/v1/pipelines')).pipelines;
    say(`daemon ready (pid ${daemon.pid}, API ${listen}): ${pipes0.map((p) => `${p.ifname} ${p.programs.join('>')}`).join(', ')}`);
    const stats = async (): Promise<DeviceStats[]> => (await get<{ devices: DeviceStats[] }>('/v1/stats')).devices;

    const runs: Array<{ name: string; result: string; d: CounterDelta }> = [];
    const traffic = async (name: string, fn: () => Promise<string>): Promise<void> => {
      say(`traffic: ${name}`);
      const a = await stats();
      const result = await fn();
      await sleep(100);
      runs.push({ name, result, d: sumDelta(statsDelta(a, await stats())) });
    };
    const start = await stats();
    let after: Before | null = null;
    await traffic('ping LAN -> WAN and LAN -> LAN, IPv4 and IPv6', async () => {
      const rs = await Promise.all([
        L.ping(l1.ns, wan.ip4, { count: 20, interval: 0.02 }),
        L.ping(l1.ns, wan.ip6, { count: 20, interval: 0.02 }),
        L.ping(l1.ns, l2.ip4, { count: 20, interval: 0.02 }),
      ]);
      return `${rs.reduce((n, r) => n + r.received, 0)}/${rs.reduce((n, r) => n + r.transmitted, 0)} replies`;
    });
    await traffic('iperf3 TCP LAN -> WAN, 3 s (routed)', async () => {
      after = await measureForwarding(L, lab!, topo, 5202);
      return `${gbit(after.tcp.bitsPerSecond)}`;
    });
    await traffic('iperf3 TCP LAN -> LAN, 2 s (bridged)', async () => {
      const srv = L.iperf3Server(lab!, l2.ns, 5203);
      await srv.ready;
      const r = await L.iperf3Client(l1.ns, l2.ip4, { port: 5203, seconds: 2 });
      return gbit(r.bitsPerSecond);
    });
    await traffic('UDP LAN -> WAN, 2000 datagrams at 10k/s (IPv6)', async () => {
      const sink = L.udpSink(lab!, wan.ns, 7000, '::');
      await sink.ready;
      await L.udpSend(l2.ns, wan.ip6, 7000, { count: 2000, size: 200, pps: 10000 });
      await sleep(200);
      return `${(await sink.stop()).packets}/2000 delivered`;
    });
    const end = await stats();

    const g = await get<Graph>('/v1/graph');
    const pipes = (await get<{ pipelines: PipelineView[] }>('/v1/pipelines')).pipelines;
    io.out(heading('What slipstream decided (GET /v1/graph)'));
    io.out(renderServices(g));
    io.out(heading('Pipelines per device (GET /v1/pipelines)'));
    io.out(renderChains(pipes));
    io.out(heading('Fast path vs slow path during the demo traffic (GET /v1/stats)'));
    const perDev = statsDelta(start, end);
    io.out(renderCounters(perDev));
    io.out('\n');
    io.out(table(['TRAFFIC', 'RESULT', 'FAST-PATH PKTS', 'SLOW-PATH PKTS', 'FAST %', 'TOP SLOW-PATH REASONS'],
      runs.map((r) => [r.name, r.result, count(r.d.fast), count(r.d.slow), share(r.d.fast, r.d.slow), topReasons(r.d.reasons)]),
      [false, false, true, true, true, false]));
    io.out('\nSlow path means XDP_PASS: the kernel handles the packet exactly as without slipstream, and the reason is counted.\n');
    const seen = Object.keys(sumDelta(perDev).reasons).sort();
    if (seen.length) {
      const defs = counterTable().byName;
      io.out('Reasons seen here:\n');
      for (const r of seen) io.out(`  ${r.padEnd(24)} ${defs.get(r)?.text ?? ''}\n`);
    }

    const a = after as Before | null;
    io.out(heading('Before / after (same lab, same traffic)'));
    if (a) io.out(compare(before, a));
    io.out([
      '',
      'Read these numbers with care: a veth lab understates the fast path, and for bulk TCP it can',
      'even reverse the result. The hosts\' TCP stacks hand the gateway 64 KiB GSO/GRO super-packets,',
      'which the kernel forwards as one unit, while XDP works frame by frame; and a veth must copy',
      'each frame that comes from a socket into an XDP buffer, a cost physical NICs do not have. All',
      'of it shares the same CPUs as iperf3. The per-core forwarding rate of the fast path against',
      'the kernel is what `npm run bench` measures (live frames injected at the gateway\'s port, no',
      'sockets involved), e.g. `npm run bench -- --scenario gateway --quick`.',
      '',
    ].join('\n'));

    await liveChange(L, lab, topo, get, say, io);

    const totals = sumDelta(perDev);
    if (totals.fast === 0) throw new DemoError('no packet took the fast path; see the slow-path reasons above');

    say('stopping the daemon (SIGTERM)');
    const code = await daemon.stop();
    const pinsLeft = fs.existsSync(path.join(BPFFS_ROOT, topo.gw));
    daemon = null;
    say(`daemon stopped (exit ${code}); its programs are detached${pinsLeft ? ', pins left behind (the lab clean-up removes them)' : ' and its pins removed'}`);

    io.out(heading('Per-core forwarding capacity (npm run bench -- --scenario gateway --quick)'));
    say('measuring: live frames injected at a gateway\'s WAN port, routed into the LAN bridge, one core');
    io.out(perCoreGateway());
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.out(`\ndemo failed: ${msg}\n`);
    if (daemon) io.out(`daemon said: ${daemon.lastWords()}\n`);
    return 1;
  } finally {
    if (daemon) await daemon.stop(5000);
    if (lab) {
      const names = [...lab.namespaceNames];
      lab.destroy();
      const left = names.filter((n) => fs.existsSync(`/var/run/netns/${n}`) || fs.existsSync(path.join(BPFFS_ROOT, n)));
      say(left.length ? `clean-up incomplete: ${left.join(' ')} still present` : `cleaned up: ${names.length} namespaces deleted, no pins left`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    say('done');
  }
}

// What the veth TCP numbers hide: frames injected at the gateway's WAN port on one core
// (the bench builds its own lab), Linux vs slipstream vs a hand-written reference program.
function perCoreGateway(): string {
  try {
    const out = execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'bench', 'main.js'), '--scenario', 'gateway', '--quick', '--json'], {
      encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"scenario":"gateway"'));
    if (!line) return 'the benchmark printed no result\n';
    const r = JSON.parse(line) as Record<string, unknown>;
    const mpps = (k: string): string => (typeof r[k] === 'number' ? `${(r[k] as number).toFixed(2)} Mpps` : '-');
    return table(['PATH', 'RATE', ''], [
      ['Linux (XDP_PASS: the kernel routes and bridges)', mpps('linux_mpps'), ''],
      ['slipstream pipeline', mpps('slipstream_mpps'), `x${Number(r.speedup_vs_linux).toFixed(2)} Linux`],
      ['hand-written single XDP program', mpps('reference_mpps'), `slipstream = ${(Number(r.fraction_of_reference) * 100).toFixed(0)}% of it`],
    ]) + '64-byte frames, one flow, a short run; `npm run bench` does it properly (docs/benchmarks.md).\n';
  } catch (e) {
    return `could not run the benchmark: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`;
  }
}

// ARP/ND and the bridge FDB settle before anything is measured. A busy machine may lose the
// very first echo, so each pair gets a few tries.
async function warmUp(L: LabModule, topo: GatewayLabTopo): Promise<void> {
  const [l1, l2] = topo.lanHosts;
  const w = topo.wanHost;
  const pairs: Array<[string, string]> = [[l1.ns, w.ip4], [l2.ns, w.ip4], [l1.ns, l2.ip4], [l1.ns, w.ip6], [l2.ns, w.ip6], [l2.ns, l1.ip4]];
  await Promise.all(pairs.map(async ([ns, dst]) => {
    for (let i = 0; ; i++) {
      const r = await L.ping(ns, dst, { count: 2, interval: 0.1, timeout: 1 });
      if (r.received > 0) return;
      if (i === 4) throw new DemoError(`the lab does not work: no ping reply from ${dst} to ${ns}`);
    }
  }));
}

async function measureForwarding(L: LabModule, lab: Lab, topo: GatewayLabTopo, port: number): Promise<Before> {
  const l1 = topo.lanHosts[0];
  const w = topo.wanHost;
  const p = await L.ping(l1.ns, w.ip4, { count: 20, interval: 0.02 });
  const srv = L.iperf3Server(lab, w.ns, port);
  await srv.ready;
  const { result, cpuSeconds, seconds } = await withCpu(() => L.iperf3Client(l1.ns, w.ip4, { port, seconds: 3 }));
  return { tcp: { bitsPerSecond: result.bitsPerSecond, bytes: receivedBytes(result.raw), cpuSeconds, seconds }, rttMs: pingAvgMs(p.output) };
}

function compare(b: Before, a: Before): string {
  const cb = cpuPerGiB(b.tcp);
  const ca = cpuPerGiB(a.tcp);
  const rows = [
    ['TCP LAN -> WAN throughput (iperf3, 3 s)', gbit(b.tcp.bitsPerSecond), gbit(a.tcp.bitsPerSecond), ratio(a.tcp.bitsPerSecond, b.tcp.bitsPerSecond)],
    ['CPU time per GiB moved (whole machine)', cb === null ? '-' : `${cb.toFixed(2)} s`, ca === null ? '-' : `${ca.toFixed(2)} s`, cb && ca ? ratio(ca, cb) : '-'],
    ['ping LAN -> WAN, average RTT', b.rttMs === null ? '-' : `${b.rttMs.toFixed(3)} ms`, a.rttMs === null ? '-' : `${a.rttMs.toFixed(3)} ms`, b.rttMs && a.rttMs ? ratio(a.rttMs, b.rttMs) : '-'],
  ];
  return table(['MEASURE', 'KERNEL ALONE', 'WITH SLIPSTREAM', 'CHANGE'], rows, [false, true, true, true]);
}

// Transparency: a firewall rule in the forward path must be obeyed, so routing leaves the fast path;
// a rule bounded to one port only takes that port's traffic off it.
async function liveChange(
  L: LabModule,
  lab: Lab,
  topo: GatewayLabTopo,
  get: <T>(p: string) => Promise<T>,
  say: (m: string) => void,
  io: DemoIo,
): Promise<void> {
  const l3 = async (): Promise<Graph['services'][number] | undefined> => (await get<Graph>('/v1/graph')).services.find((s) => s.id === 'l3-router');
  const l2 = async (): Promise<Graph['services'][number] | undefined> => (await get<Graph>('/v1/graph')).services.find((s) => s.kind === 'l2-bridge');
  const wanPipe = async (): Promise<string> => {
    const ps = (await get<{ pipelines: PipelineView[] }>('/v1/pipelines')).pipelines;
    return ps.length ? ps.map((p) => `${p.ifname} ${p.programs.join('>') || '-'}`).join(', ') : 'none (every device is back with the kernel alone)';
  };
  const lan = topo.lanHosts[0];
  const deliver = async (port: number, from = lan, to: { ns: string; ip4: string } = topo.wanHost): Promise<number> => {
    const sink = L.udpSink(lab, to.ns, port);
    await sink.ready;
    await L.udpSend(from.ns, to.ip4, port, { count: 200, pps: 4000 });
    await sleep(150);
    return (await sink.stop()).packets;
  };
  const fastPackets = async (fn: () => Promise<number>): Promise<{ delivered: number; fast: number }> => {
    const devices = async (): Promise<DeviceStats[]> => (await get<{ devices: DeviceStats[] }>('/v1/stats')).devices;
    const a = await devices();
    const delivered = await fn();
    return { delivered, fast: sumDelta(statsDelta(a, await devices())).fast };
  };

  io.out(heading('A live configuration change'));
  const rule = `nft add table inet ${NFT_TABLE}; nft add chain inet ${NFT_TABLE} forward_demo '{ type filter hook forward priority 0; policy accept; }'; nft add rule inet ${NFT_TABLE} forward_demo udp dport ${DROP_PORT} drop`;
  say(`operator adds a forward rule in ${topo.gw}: udp dport ${DROP_PORT} drop`);
  lab.sh(topo.gw, rule);
  const t1 = Date.now();
  const slow = await waitFor('l3-router to leave the fast path', async () => {
    const s = await l3();
    return s?.verdict === 'slow-path' ? s : undefined;
  }, 20000);
  say(`after ${((Date.now() - t1) / 1000).toFixed(1)} s: l3-router is ${serviceLine(slow)}`);
  io.out(`        l2-bridge is now ${serviceLine(await l2())}\n`);
  io.out(`        pipelines now: ${await wanPipe()}\n`);
  const dropped = await deliver(DROP_PORT);
  const other = await deliver(DROP_PORT + 1);
  say(`UDP to port ${DROP_PORT}: ${dropped}/200 delivered (the rule is obeyed); port ${DROP_PORT + 1}: ${other}/200 delivered by the kernel`);
  if (dropped !== 0) throw new DemoError(`${dropped} datagrams bypassed the drop rule`);

  // A rule bounded to one port only takes the traffic entering it off the fast path.
  const wanPort = topo.wan.ifname;
  say(`operator narrows it to traffic from the WAN: iifname "${wanPort}" udp dport ${DROP_PORT} drop`);
  lab.sh(topo.gw, `nft flush chain inet ${NFT_TABLE} forward_demo; nft add rule inet ${NFT_TABLE} forward_demo iifname "${wanPort}" udp dport ${DROP_PORT} drop`);
  const t3 = Date.now();
  const narrowed = await waitFor('l3-router to be accelerated without the WAN port', async () => {
    const s = await l3();
    return s?.verdict === 'accelerated' && !s.devices.includes(wanPort) ? s : undefined;
  }, 20000);
  say(`after ${((Date.now() - t3) / 1000).toFixed(1)} s: l3-router is ${narrowed.verdict} on ${narrowed.devices.join(', ')}; l2-bridge is ${(await l2())?.verdict}`);
  io.out(`        ${narrowed.reasons.filter((r) => r.includes(wanPort)).join('\n        ')}\n`);
  io.out(`        pipelines now: ${await wanPipe()}\n`);
  const inbound = await deliver(DROP_PORT, topo.wanHost, lan);
  const outbound = await fastPackets(() => deliver(DROP_PORT));
  say(`UDP WAN -> LAN to port ${DROP_PORT}: ${inbound}/200 delivered (the rule is obeyed); LAN -> WAN: ${outbound.delivered}/200 delivered, ${outbound.fast} on the fast path`);
  if (inbound !== 0) throw new DemoError(`${inbound} datagrams bypassed the bounded drop rule`);
  say(`operator deletes the rule (nft delete table inet ${NFT_TABLE})`);
  lab.sh(topo.gw, `nft delete table inet ${NFT_TABLE}`);
  const t2 = Date.now();
  const back = await waitFor('l3-router to be accelerated again on every port', async () => {
    const s = await l3();
    const live = (await get<{ pipelines: PipelineView[] }>('/v1/pipelines')).pipelines.some((p) => p.ifname === wanPort);
    return s?.verdict === 'accelerated' && s.devices.includes(wanPort) && live ? s : undefined;
  }, 20000);
  say(`after ${((Date.now() - t2) / 1000).toFixed(1)} s: l3-router is ${back.verdict} again; pipelines: ${await wanPipe()}`);
}
