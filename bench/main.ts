// `slipstream bench` / `npm run bench`: builds its own labs, measures, reports, tears down.
import * as fs from 'fs';
import { execFileSync } from 'child_process';
import * as os from 'os';
import type { BenchContext, BenchOptions, Scenario, ScenarioResult } from './context';
import { SCENARIOS, UNAVAILABLE } from './scenarios';
import { renderTable } from './report';
import { machine, writeDocs } from './docs';
import { BPFFS_ROOT } from './forwarding';

export interface BenchArgs extends BenchOptions {
  scenarios: string[];
  json: boolean;
  docs: boolean; // write docs/benchmarks.md and the plots from this run
  out: string | null; // also write the JSON lines here
  from: string | null; // no run: regenerate the docs from these JSON lines
}

const USAGE = `usage: slipstream bench [--scenario NAME]... [--json] [--quick] [--docs] [--out FILE]
                       [--from FILE (regenerate docs/benchmarks.md from saved JSON lines)]
                       [--cpu N] [--reps N] [--frames N] [--batch N]
scenarios: ${[...SCENARIOS.map((s) => s.name), ...UNAVAILABLE.map((s) => `${s} (not available)`)].join(', ')}`;

export function parseBenchArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { scenarios: [], json: false, quick: false, docs: false, out: null, from: null, cpu: -1, reps: 0, frames: 0, batchSize: 64 };
  const num = (i: number, flag: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--scenario' || x === '-s') {
      const v = argv[++i];
      if (!v) throw new Error('--scenario needs a name');
      a.scenarios.push(...v.split(','));
    } else if (x.startsWith('--scenario=')) a.scenarios.push(...x.slice(11).split(','));
    else if (x === '--json') a.json = true;
    else if (x === '--quick') a.quick = true;
    else if (x === '--docs') a.docs = true;
    else if (x === '--out') a.out = argv[++i] ?? null;
    else if (x === '--from') a.from = argv[++i] ?? null;
    else if (x === '--cpu') a.cpu = num(++i, x);
    else if (x === '--reps') a.reps = num(++i, x);
    else if (x === '--frames') a.frames = num(++i, x);
    else if (x === '--batch') a.batchSize = num(++i, x);
    else if (x === '--help' || x === '-h') throw new HelpRequested();
    else throw new Error(`unknown argument ${x}`);
  }
  const known = new Set([...SCENARIOS.map((s) => s.name), ...UNAVAILABLE]);
  for (const s of a.scenarios) if (!known.has(s)) throw new Error(`unknown scenario ${s}`);
  if (a.cpu < 0) a.cpu = Math.max(0, (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 1) - 1);
  if (a.reps === 0) a.reps = a.quick ? 1 : 5;
  if (a.frames === 0) a.frames = a.quick ? 50_000 : 1_000_000;
  if (a.batchSize < 1 || a.batchSize > 256) throw new Error('--batch: 1..256');
  return a;
}

class HelpRequested extends Error {}

// The bench's own threads (the main thread, V8's garbage collector, libuv's pool) stay off the
// measuring core; the test-run worker moves there only for a run and back (native testrun.cc).
// A monitored variant's setup leaves megabytes of garbage (clearing the flow table), whose
// sweeping would otherwise land in its measurement. Threads and processes started later (the
// daemons too) inherit the mask.
function keepOffCore(cpu: number): string | null {
  const others = os.cpus().map((_, i) => i).filter((i) => i !== cpu);
  if (others.length === 0) return 'one CPU only: the bench shares it with the data path';
  try {
    execFileSync('taskset', ['-a', '-p', '-c', others.join(','), String(process.pid)], { stdio: 'ignore' });
    return null;
  } catch (e) {
    return `taskset failed (${(e as Error).message}): the bench's threads may run on the measuring core`;
  }
}

// Cleanups of the running scenario; SIGINT/SIGTERM run them before the process dies.
const pending: Array<() => unknown> = [];
async function runCleanups(): Promise<void> {
  while (pending.length) {
    const fn = pending.pop()!;
    try {
      await fn();
    } catch {
      /* keep cleaning */
    }
  }
}

let signalsInstalled = false;
function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Registered before any Lab exists, so this runs before the Lab's own handler.
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
      void runCleanups().finally(() => process.kill(process.pid, sig));
    });
  }
}

export async function runScenario(s: Scenario, opts: BenchOptions, log: (m: string) => void): Promise<ScenarioResult> {
  const mark = pending.length;
  const ctx: BenchContext = { ...opts, log, defer: (fn) => pending.push(fn) };
  try {
    return await s.run(ctx);
  } finally {
    while (pending.length > mark) {
      const fn = pending.pop()!;
      try {
        await fn();
      } catch {
        /* keep cleaning */
      }
    }
    // The scenarios' daemons pin under BPFFS_ROOT; the last one out removes the empty root
    // (rmdir fails, harmlessly, while anyone else still has pins there).
    try {
      fs.rmdirSync(BPFFS_ROOT);
    } catch {
      /* not empty, or already gone */
    }
  }
}

function notAvailable(name: string): ScenarioResult {
  return {
    scenario: name,
    linux_mpps: null,
    slipstream_mpps: null,
    reference_mpps: null,
    speedup_vs_linux: null,
    fraction_of_reference: null,
    runs: 0,
    status: 'not available',
    note: 'the queueing FPM is not implemented yet',
  };
}

export async function runBench(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.from) {
    const rs = fs.readFileSync(args.from, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as ScenarioResult);
    const cmd = String(rs.find((r) => typeof r.command === 'string')?.command ?? 'npm run bench -- --docs');
    const files = await writeDocs(rs, cmd, args);
    process.stderr.write(`bench: wrote ${files.join(', ')}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, BPF)\n');
    return 1;
  }
  installSignalHandlers();
  // The machine is shared: a high priority keeps other work off the measuring core's
  // time slices. Threads created afterwards (the test-run worker) inherit it.
  try {
    os.setPriority(-20);
  } catch {
    /* not allowed: measure anyway */
  }
  const wanted = args.scenarios.length ? args.scenarios : [...SCENARIOS.map((s) => s.name), ...UNAVAILABLE];
  const log = (m: string): void => {
    process.stderr.write(m + '\n');
  };
  const offCore = keepOffCore(args.cpu);
  if (offCore) log(`bench: ${offCore}`);
  const results: ScenarioResult[] = [];
  let failed = 0;
  const started = Date.now();
  const host = { ...machine(), offCore: offCore === null };
  for (const name of wanted) {
    const s = SCENARIOS.find((x) => x.name === name);
    let r: ScenarioResult;
    if (!s) {
      r = notAvailable(name);
    } else {
      log(`== ${name}: ${s.description}`);
      const t0 = Date.now();
      try {
        r = await runScenario(s, args, log);
        r.wall_s = Math.round((Date.now() - t0) / 100) / 10;
      } catch (e) {
        failed++;
        log(`bench: ${name} failed: ${(e as Error).stack ?? String(e)}`);
        r = { ...notAvailable(name), status: 'failed', note: (e as Error).message };
      }
    }
    if (args.quick) r.quick = true;
    r.host = host;
    r.command = ['npm run bench --', ...argv].join(' ');
    results.push(r);
    if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
    if (args.out) fs.appendFileSync(args.out, JSON.stringify(r) + '\n');
  }
  if (!args.json) process.stdout.write(renderTable(results) + '\n');
  log(`bench: ${results.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(0)} s${failed ? `, ${failed} failed` : ''}`);
  if (args.docs) {
    const cmd = ['npm run bench --', ...argv].join(' ');
    const files = await writeDocs(results, cmd, args);
    log(`bench: wrote ${files.join(', ')}`);
  }
  return failed ? 1 : 0;
}

if (require.main === module) {
  runBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
