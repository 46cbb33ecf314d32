// Declarative network-namespace lab for integration tests, the demo and benchmarks.
// Every namespace, link and process a Lab makes is deleted by destroy(), which also runs on
// tap teardown, process exit and SIGINT/SIGTERM. A marker file under /run/slipstream-lab
// lets test/lab/sweep.ts remove leftovers of a killed run.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MARKER_DIR = '/run/slipstream-lab';
export const BPFFS_ROOT = '/sys/fs/bpf/slipstream';
// Lab namespaces are named `${prefix}-${name}`; prefix = 'ss' + 4 base36 chars.
export const LAB_NS_RE = /^ss[0-9a-z]{4}-/;

export class LabCommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly status: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (${status === null ? 'signal' : `exit ${status}`}): ${stderr.trim() || stdout.trim()}`);
  }
}

export interface LabOptions {
  // A tap test (or anything with teardown()): destroy() is registered on it.
  t?: { teardown(fn: () => unknown): void };
}

export interface LinkState {
  ifname: string;
  ifindex: number;
  mac: string;
  mtu: number;
  up: boolean;
}

interface Marker {
  pid: number;
  prefix: string;
  created: number;
  namespaces: string[];
}

const live = new Set<Lab>();
let hooksInstalled = false;

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const lab of [...live]) lab.destroy();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const lab of [...live]) lab.destroy();
      process.kill(process.pid, sig);
    });
  }
}

function newPrefix(): string {
  // 4 base36 chars from random bytes: 1.6M values, collisions are checked against /var/run/netns.
  for (;;) {
    const n = crypto.randomBytes(4).readUInt32LE() % 36 ** 4;
    const prefix = 'ss' + n.toString(36).padStart(4, '0');
    const taken = fs.existsSync('/var/run/netns') && fs.readdirSync('/var/run/netns').some((f) => f.startsWith(prefix + '-'));
    if (!taken && !fs.existsSync(path.join(MARKER_DIR, prefix + '.json'))) return prefix;
  }
}

export function nsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

// argv that runs a command inside a netns without remounting /sys (bpffs pins stay visible).
export function inNs(ns: string, argv: string[]): string[] {
  return ['nsenter', `--net=${nsPath(ns)}`, '--', ...argv];
}

export function run(argv: string[], input?: string): string {
  try {
    return execFileSync(argv[0], argv.slice(1), {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      input,
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    throw new LabCommandError(argv, e.status ?? null, String(e.stdout ?? ''), String(e.stderr ?? ''));
  }
}

export function runAsync(argv: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      argv[0],
      argv.slice(1),
      { encoding: 'utf8', maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as { code?: unknown }).code;
          reject(new LabCommandError(argv, typeof code === 'number' ? code : null, stdout, stderr));
        } else resolve(stdout);
      },
    );
  });
}

export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(opts: LabOptions = {}) {
    if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces)');
    this.prefix = newPrefix();
    fs.mkdirSync(MARKER_DIR, { recursive: true });
    this.writeMarker();
    live.add(this);
    installProcessHooks();
    opts.t?.teardown(() => this.destroy());
  }

  private writeMarker(): void {
    const m: Marker = { pid: process.pid, prefix: this.prefix, created: Date.now(), namespaces: this.namespaces };
    fs.writeFileSync(path.join(MARKER_DIR, this.prefix + '.json'), JSON.stringify(m));
  }

  // Full netns name of a lab-local name ('sw' -> 'ss1a2b-sw').
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  get namespaceNames(): readonly string[] {
    return this.namespaces;
  }

  // Creates `${prefix}-${name}` with lo up; returns the full name.
  addNamespace(name: string): string {
    if (this.destroyed) throw new Error('lab destroyed');
    if (!/^[a-z0-9][a-z0-9_-]{0,20}$/.test(name)) throw new Error(`bad namespace name '${name}'`);
    const ns = this.ns(name);
    this.namespaces.push(ns);
    this.writeMarker(); // before creating it, so a crash right after leaves a trace
    run(['ip', 'netns', 'add', ns]);
    this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    // No DAD delays, no RS/RA noise in the lab.
    this.sysctl(ns, 'net.ipv6.conf.all.accept_dad', 0);
    this.sysctl(ns, 'net.ipv6.conf.default.accept_dad', 0);
    this.sysctl(ns, 'net.ipv6.conf.default.accept_ra', 0);
    return ns;
  }

  // Runs argv inside ns (nsenter: /sys is not remounted). Returns stdout; throws with stderr.
  exec(ns: string, argv: string[], input?: string): string {
    return run(inNs(ns, argv), input);
  }

  execAsync(ns: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    return runAsync(inNs(ns, argv), opts);
  }

  sh(ns: string, cmd: string): string {
    return this.exec(ns, ['sh', '-c', cmd]);
  }

  // Background process inside ns, killed (by pid) on destroy().
  spawn(ns: string, argv: string[]): ChildProcess {
    const full = inNs(ns, argv);
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  sysctl(ns: string, key: string, value: string | number): void {
    this.exec(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  // A veth pair between two lab namespaces. Both ends get GRO on (trap: redirected frames are
  // dropped on a veth without GRO or XDP); ends listed in txOff get TX checksum offload off.
  veth(nsA: string, ifA: string, nsB: string, ifB: string, opts: { mtu?: number; up?: boolean } = {}): void {
    checkIfname(ifA);
    checkIfname(ifB);
    run(['ip', '-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    for (const [ns, ifn] of [
      [nsA, ifA],
      [nsB, ifB],
    ] as const) {
      if (opts.mtu) this.exec(ns, ['ip', 'link', 'set', ifn, 'mtu', String(opts.mtu)]);
      if (opts.up !== false) this.exec(ns, ['ip', 'link', 'set', ifn, 'up']);
    }
    // GRO is on by default, but the peer's xdp_features (NDO_XMIT) are only recomputed when
    // GRO changes on a running device: toggle it once both ends are up.
    for (const [ns, ifn] of [
      [nsA, ifA],
      [nsB, ifB],
    ] as const) {
      this.exec(ns, ['ethtool', '-K', ifn, 'gro', 'off']);
      this.exec(ns, ['ethtool', '-K', ifn, 'gro', 'on']);
    }
  }

  // TX checksum offload off: TCP through an XDP redirect breaks without it on veth.
  txOff(ns: string, ifname: string): void {
    this.exec(ns, ['ethtool', '-K', ifname, 'tx', 'off']);
  }

  bridge(ns: string, name: string, opts: { stp?: boolean; up?: boolean; forwardDelay?: number } = {}): void {
    checkIfname(name);
    const argv = ['ip', 'link', 'add', name, 'type', 'bridge'];
    if (opts.stp) argv.push('stp_state', '1', 'forward_delay', String(opts.forwardDelay ?? 400));
    this.exec(ns, argv);
    if (opts.up !== false) this.exec(ns, ['ip', 'link', 'set', name, 'up']);
  }

  enslave(ns: string, ifname: string, master: string): void {
    this.exec(ns, ['ip', 'link', 'set', ifname, 'master', master]);
  }

  addr(ns: string, ifname: string, cidr: string): void {
    const argv = ['ip', 'addr', 'add', cidr, 'dev', ifname];
    if (cidr.includes(':')) argv.push('nodad');
    checkLabAddress(cidr);
    this.exec(ns, argv);
  }

  route(ns: string, dst: string, via?: string, dev?: string): void {
    const argv = ['ip'];
    if (dst.includes(':') || via?.includes(':')) argv.push('-6');
    argv.push('route', 'add', dst);
    if (via) argv.push('via', via);
    if (dev) argv.push('dev', dev);
    this.exec(ns, argv);
  }

  up(ns: string, ifname: string): void {
    this.exec(ns, ['ip', 'link', 'set', ifname, 'up']);
  }

  link(ns: string, ifname: string): LinkState {
    const out = JSON.parse(this.exec(ns, ['ip', '-j', 'link', 'show', 'dev', ifname])) as Array<{
      ifname: string;
      ifindex: number;
      address: string;
      mtu: number;
      flags: string[];
    }>;
    const l = out[0];
    if (!l) throw new Error(`no link ${ifname} in ${ns}`);
    return { ifname: l.ifname, ifindex: l.ifindex, mac: l.address, mtu: l.mtu, up: l.flags.includes('UP') };
  }

  // Frames ifname has received (its rx counter): every frame a capture of it sees.
  rxPackets(ns: string, ifname: string): number {
    const out = JSON.parse(this.exec(ns, ['ip', '-s', '-j', 'link', 'show', 'dev', ifname])) as Array<{ stats64?: { rx?: { packets?: number } } }>;
    return out[0]?.stats64?.rx?.packets ?? 0;
  }

  ifindex(ns: string, ifname: string): number {
    return this.link(ns, ifname).ifindex;
  }

  mac(ns: string, ifname: string): string {
    return this.link(ns, ifname).mac;
  }

  // Deletes every namespace (and so every veth/bridge in it), kills children, removes pins.
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) this.kill(child, 'SIGKILL');
    this.children.clear();
    for (const ns of [...this.namespaces].reverse()) deleteNamespace(ns);
    try {
      fs.rmSync(path.join(MARKER_DIR, this.prefix + '.json'), { force: true });
    } catch {
      /* best effort */
    }
  }
}

// Deletes a netns and its bpffs pins; tolerant of partial state (used by sweep too).
export function deleteNamespace(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  try {
    fs.rmSync(path.join(BPFFS_ROOT, ns), { recursive: true, force: true });
  } catch {
    /* best effort */
  }
  // The root too once empty, as the daemon's own cleanup and the bench leave it (fails, harmlessly,
  // while another lab or a real daemon still has pins there).
  try {
    fs.rmdirSync(BPFFS_ROOT);
  } catch {
    /* not empty, or gone */
  }
}

export function checkIfname(name: string): void {
  if (name.length === 0 || name.length > 15 || /[\s/:]/.test(name)) throw new Error(`bad interface name '${name}'`);
}

// Only the benchmarking ranges: 198.18.0.0/15 and 2001:2::/48.
export function checkLabAddress(cidr: string): void {
  const addr = cidr.split('/')[0];
  if (addr.includes(':')) {
    const g = expandV6(addr);
    if (!g || g[0] !== 0x2001 || g[1] !== 0x0002 || g[2] !== 0) throw new Error(`${cidr} is outside 2001:2::/48`);
  } else {
    const o = addr.split('.').map(Number);
    if (o.length !== 4 || o[0] !== 198 || (o[1] !== 18 && o[1] !== 19)) throw new Error(`${cidr} is outside 198.18.0.0/15`);
  }
}

function expandV6(addr: string): number[] | null {
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((x) => parseInt(x, 16)));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const g = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return g.some((x) => Number.isNaN(x) || x < 0 || x > 0xffff) ? null : g;
}

// Subnet n (0..511) of the lab ranges: 198.18.n.0/24 (198.19.* for n >= 256) and 2001:2:0:n::/64.
export interface LabSubnet {
  v4: string; // e.g. '198.18.1.0/24'
  v6: string; // e.g. '2001:2:0:1::/64'
  host4(i: number): string; // address without prefix
  host6(i: number): string;
}

export function labSubnet(n: number): LabSubnet {
  if (!Number.isInteger(n) || n < 0 || n > 511) throw new RangeError(`lab subnet ${n} out of 0..511`);
  const b = n < 256 ? 18 : 19;
  const c = n % 256;
  const hex = n.toString(16);
  return {
    v4: `198.${b}.${c}.0/24`,
    v6: `2001:2:0:${hex}::/64`,
    host4: (i) => `198.${b}.${c}.${i}`,
    host6: (i) => `2001:2:0:${hex}::${i.toString(16)}`,
  };
}
