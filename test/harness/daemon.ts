// Runs the real daemon (compiled CLI) as a child process against a lab namespace.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import YAML from 'yaml';
import { eachLine } from '../../controller/util/lines';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(repoRoot, 'bin', 'slipstream');

export interface LogLine {
  level?: number;
  msg?: string;
  [k: string]: unknown;
}

export interface DaemonHandle {
  pid: number;
  api: string; // http://127.0.0.1:PORT
  logs: LogLine[];
  tokenFile: string;
  configFile: string;
  get<T = unknown>(p: string): Promise<T>;
  post(p: string, token?: string | null): Promise<{ status: number; body: unknown }>;
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number, fromIndex?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface DaemonOptions {
  netns: string;
  config?: Record<string, unknown>;
  bpffsRoot?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
});

export async function startDaemon(opts: DaemonOptions): Promise<DaemonHandle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-daemon-'));
  const tokenFile = path.join(dir, 'token');
  const configFile = path.join(dir, 'config.yaml');
  const config = {
    api: { listen: '127.0.0.1:0', token_file: tokenFile },
    bpffs_root: opts.bpffsRoot ?? '/sys/fs/bpf/slipstream',
    heartbeat: { interval_ms: 200, timeout_ms: 1000 },
    ...(opts.config ?? {}),
  };
  fs.writeFileSync(configFile, YAML.stringify(config));
  const child = spawn(process.execPath, [cli, 'run', '--config', configFile, '--netns', opts.netns, ...(opts.extraArgs ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  running.add(child);
  const logs: LogLine[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  eachLine(child.stdout!, (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ msg: line });
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
    running.delete(child);
    exitCode = code ?? (signal ? -1 : null);
    for (const w of waiters.splice(0)) w();
    resolve(code);
  }));

  const waitLog = (pred: (l: LogLine) => boolean, timeoutMs = 20000, fromIndex = 0): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const hit = logs.slice(fromIndex).find(pred);
        if (hit) return resolve(hit);
        if (exitCode !== undefined) return reject(new Error(`daemon exited (${exitCode}): ${stderr.slice(-2000)} ${JSON.stringify(logs.slice(-5))}`));
        if (Date.now() > deadline) return reject(new Error(`timed out waiting for daemon log; last: ${JSON.stringify(logs.slice(-5))} ${stderr.slice(-1000)}`));
        waiters.push(check);
        setTimeout(check, 200);
      };
      check();
    });

  const listening = await waitLog((l) => typeof l.api === 'string' && /listening/.test(String(l.msg)));
  const api = String(listening.api);
  await waitLog((l) => l.msg === 'ready');
  const handle: DaemonHandle = {
    pid: child.pid!,
    api,
    logs,
    tokenFile,
    configFile,
    exited,
    waitLog,
    async get<T>(p: string): Promise<T> {
      const r = await fetch(api + p);
      if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    },
    async post(p: string, token?: string | null) {
      const tok = token === undefined ? fs.readFileSync(tokenFile, 'utf8').trim() : token;
      const r = await fetch(api + p, { method: 'POST', headers: tok ? { authorization: `Bearer ${tok}` } : {} });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode === undefined && child.pid) child.kill(signal);
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10000))]);
      if (exitCode === undefined && child.pid) {
        child.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return handle;
}
