// The demo's daemon: `bin/slipstream run --netns NS` as a child process with a throw-away
// config, its JSON log lines kept in memory. stopSync() exists for signal handlers, which must
// finish before the lab deletes the namespace under the daemon.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import YAML from 'yaml';
import { repoRoot } from '../util/paths';
import { eachLine } from '../util/lines';

export interface LogLine {
  msg?: string;
  level?: string | number;
  [k: string]: unknown;
}

export class DaemonChild {
  readonly logs: LogLine[] = [];
  readonly dir: string;
  readonly configFile: string;
  readonly tokenFile: string;
  private child: ChildProcess | null = null;
  private stderr = '';
  private exitCode: number | null | undefined = undefined;
  private readonly waiters = new Set<() => void>();
  private exitedP: Promise<void> = Promise.resolve();

  constructor(readonly netns: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipstream-demo-'));
    this.configFile = path.join(this.dir, 'config.yaml');
    this.tokenFile = path.join(this.dir, 'token');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  // Starts the daemon and resolves with its API address once it logged 'ready'.
  async start(timeoutMs = 30000): Promise<string> {
    const config = { api: { listen: '127.0.0.1:0', token_file: this.tokenFile } };
    fs.writeFileSync(this.configFile, YAML.stringify(config));
    const env = { ...process.env };
    // A demo started from a systemd unit must not talk to that unit's notify socket.
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'slipstream'), 'run', '--config', this.configFile, '--netns', this.netns], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    this.child = child;
    eachLine(child.stdout!, (line) => {
      this.logs.push(parseLine(line));
      this.wake();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.exitedP = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        this.wake();
        resolve();
      });
    });
    const listening = await this.waitLog((l) => typeof l.api === 'string' && /listening/.test(String(l.msg)), timeoutMs);
    await this.waitLog((l) => l.msg === 'ready', timeoutMs);
    return String(listening.api).replace(/^http:\/\//, '');
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 20000, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        this.waiters.delete(check);
        if (timer) clearTimeout(timer);
      };
      const check = (): void => {
        const hit = this.logs.slice(from).find(pred);
        if (hit) {
          done();
          resolve(hit);
        } else if (this.exitCode !== undefined) {
          done();
          reject(new Error(`the daemon exited (${this.exitCode}): ${this.lastWords()}`));
        } else if (Date.now() > deadline) {
          done();
          reject(new Error(`the daemon did not get there in ${Math.round(timeoutMs / 1000)} s: ${this.lastWords()}`));
        }
      };
      this.waiters.add(check);
      timer = setTimeout(check, timeoutMs + 10);
      check();
    });
  }

  // The error lines and stderr tail, for failure messages.
  lastWords(): string {
    const errs = this.logs.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 50 || l.level === 60).slice(-3).map((l) => String(l.msg));
    return [...errs, this.stderr.trim().split('\n').slice(-5).join(' | ')].filter(Boolean).join('; ') || 'no error output';
  }

  running(): boolean {
    return this.child !== null && this.exitCode === undefined;
  }

  // SIGTERM, then SIGKILL after graceMs. Resolves with the exit code.
  async stop(graceMs = 10000): Promise<number | null> {
    if (this.running() && this.child?.pid) process.kill(this.child.pid, 'SIGTERM');
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs).unref());
    if ((await Promise.race([this.exitedP.then(() => 'ok' as const), timer])) === 'late' && this.running() && this.child?.pid) {
      process.kill(this.child.pid, 'SIGKILL');
      await this.exitedP;
    }
    this.removeDir();
    return this.exitCode ?? null;
  }

  // For signal handlers: the event loop won't run again, so wait by polling the pid.
  stopSync(graceMs = 5000): void {
    const pid = this.child?.pid;
    if (pid && this.running()) {
      try {
        process.kill(pid, 'SIGTERM');
        const end = Date.now() + graceMs;
        const nap = new Int32Array(new SharedArrayBuffer(4));
        while (alive(pid) && Date.now() < end) Atomics.wait(nap, 0, 0, 50);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    this.removeDir();
  }

  private removeDir(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// A child that exited but was not reaped yet is a zombie: treat it as gone.
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function parseLine(line: string): LogLine {
  try {
    const v: unknown = JSON.parse(line);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as LogLine;
  } catch {
    /* not JSON */
  }
  return { msg: line };
}
