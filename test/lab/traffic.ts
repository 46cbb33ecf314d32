// Traffic helpers for lab namespaces: ping, iperf3, UDP.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inNs, LabCommandError, runAsync, type Lab } from './lab';

export interface PingOptions {
  count?: number; // default 3
  interval?: number; // seconds, default 0.2 (root may go down to 0.002)
  deadline?: number; // seconds for the whole run (ping -w), default count*interval+3
  size?: number; // payload bytes
  timeout?: number; // per-reply wait in seconds (ping -W), default 1
}

export interface PingResult {
  transmitted: number;
  received: number;
  lost: number;
  output: string;
}

export function parsePing(output: string): PingResult {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  if (!m) throw new Error(`cannot parse ping output: ${output.trim()}`);
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  return { transmitted, received, lost: transmitted - received, output };
}

// Pings dst from inside ns. IPv6 destinations use ping -6. Never throws for lost replies.
export async function ping(ns: string, dst: string, opts: PingOptions = {}): Promise<PingResult> {
  const count = opts.count ?? 3;
  const interval = opts.interval ?? 0.2;
  const deadline = opts.deadline ?? Math.ceil(count * interval + 3);
  const argv = ['ping', dst.includes(':') ? '-6' : '-4', '-q', '-n', '-c', String(count), '-i', String(interval)];
  argv.push('-W', String(opts.timeout ?? 1), '-w', String(deadline));
  if (opts.size !== undefined) argv.push('-s', String(opts.size));
  argv.push(dst);
  try {
    return parsePing(await runAsync(inNs(ns, argv)));
  } catch (err) {
    if (err instanceof LabCommandError && /packets transmitted/.test(err.stdout)) return parsePing(err.stdout);
    throw err;
  }
}

// Resolves once every ping of a short burst got its reply; throws otherwise.
export async function pingOk(ns: string, dst: string, count = 2): Promise<void> {
  const r = await ping(ns, dst, { count, interval: 0.1 });
  if (r.received !== r.transmitted) throw new Error(`ping ${dst} from ${ns}: ${r.received}/${r.transmitted} replies`);
}

export interface Iperf3Server {
  child: ChildProcess;
  port: number;
  ready: Promise<void>;
}

// One-shot iperf3 server (-1) in ns; the lab kills it on destroy. `ready` resolves once the
// port is listening (iperf3 buffers its banner when stdout is a pipe, so poll with ss).
export function iperf3Server(lab: Lab, ns: string, port = 5201): Iperf3Server {
  const child = lab.spawn(ns, ['iperf3', '-s', '-1', '-p', String(port)]);
  let exited = false;
  child.once('exit', () => (exited = true));
  const ready = (async () => {
    const end = Date.now() + 5000;
    for (;;) {
      const out = await runAsync(inNs(ns, ['ss', '-Hltn', `sport = :${port}`]));
      if (out.trim() !== '') return;
      if (exited) throw new Error(`iperf3 server in ${ns} exited`);
      if (Date.now() > end) throw new Error(`iperf3 server in ${ns} not listening on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { child, port, ready };
}

export interface Iperf3Options {
  port?: number;
  seconds?: number; // default 2
  udp?: boolean;
  bitrate?: string; // e.g. '100M' (UDP default is 1M in iperf3)
  length?: number; // UDP datagram / TCP write size
  reverse?: boolean;
}

export interface Iperf3Result {
  bitsPerSecond: number; // receiver side
  lostPercent?: number; // UDP only
  raw: unknown;
}

export async function iperf3Client(ns: string, dst: string, opts: Iperf3Options = {}): Promise<Iperf3Result> {
  const seconds = opts.seconds ?? 2;
  const argv = ['iperf3', '-c', dst, '-p', String(opts.port ?? 5201), '-t', String(seconds), '-J'];
  if (opts.udp) argv.push('-u');
  if (opts.bitrate) argv.push('-b', opts.bitrate);
  if (opts.length) argv.push('-l', String(opts.length));
  if (opts.reverse) argv.push('-R');
  const out = await runAsync(inNs(ns, argv), { timeoutMs: (seconds + 15) * 1000 });
  const raw = JSON.parse(out) as {
    error?: string;
    end?: { sum_received?: { bits_per_second: number }; sum?: { bits_per_second: number; lost_percent?: number } };
  };
  if (raw.error) throw new Error(`iperf3: ${raw.error}`);
  if (opts.udp) {
    const sum = raw.end?.sum;
    return { bitsPerSecond: sum?.bits_per_second ?? 0, lostPercent: sum?.lost_percent, raw };
  }
  return { bitsPerSecond: raw.end?.sum_received?.bits_per_second ?? 0, raw };
}

const UDP_TOOL = path.join(__dirname, 'udp-tool.js');

export interface UdpSink {
  ready: Promise<void>;
  // Stops the sink and returns what it received.
  stop(): Promise<{ packets: number; bytes: number }>;
}

export function udpSink(lab: Lab, ns: string, port: number, bind = '0.0.0.0'): UdpSink {
  const child = lab.spawn(ns, [process.execPath, UDP_TOOL, 'sink', bind, String(port)]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('ready')) resolve();
    };
    child.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`udp sink in ${ns} exited before ready: ${out}`)));
  });
  return {
    ready,
    async stop() {
      lab.kill(child, 'SIGTERM');
      await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`udp sink in ${ns} printed no result: ${out}`);
      return JSON.parse(line) as { packets: number; bytes: number };
    },
  };
}

export async function udpSend(
  ns: string,
  dst: string,
  port: number,
  opts: { count?: number; size?: number; pps?: number } = {},
): Promise<number> {
  const argv = [process.execPath, UDP_TOOL, 'send', dst, String(port), String(opts.count ?? 100), String(opts.size ?? 64)];
  if (opts.pps) argv.push(String(opts.pps));
  const out = await runAsync(inNs(ns, argv), { timeoutMs: 120_000 });
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sent: number }).sent;
}
