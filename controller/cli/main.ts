import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, opt, UsageError, type ArgSpec, type ParsedArgs } from './args';
import { ApiClient, CliError } from './client';
import { renderStatus, renderPipelines, renderStats, renderGraph } from './render';
import { formatRtt, type RttFormat } from './rtt';
import type { RunOptions } from './run-options';
import { loadConfig, applyOverrides, ConfigError, DEFAULT_CONFIG_PATH, DEFAULT_API_LISTEN, LOG_LEVELS, parseListen, type Config, type LogLevel } from '../config';
import { createLogger } from '../util/log';
import type { StatusView, PipelineView, DeviceStats, DaemonEvent } from '../daemon/view';
import type { Graph } from '../graph/types';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  signal?: AbortSignal; // ends `rtt --follow` (default: SIGINT/SIGTERM)
}

const defaultIo: CliIo = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

const HELP = `slipstream: transparent XDP acceleration for Linux routers and gateways

Usage: slipstream COMMAND [options]

Daemon
  run [--config FILE] [--netns NAME] [--api HOST:PORT] [--log-level LEVEL]
                          run the daemon in the foreground (systemd starts this)
  check-config [--config FILE]
                          validate a config file and exit

Inspect a running daemon
  status                  version, managed devices, capabilities, last error
  graph [--dot]           dependency graph and the verdict per service
  pipelines               the live fast-path modules per device
  stats                   fast-path / slow-path counters and slow-path reasons
  rtt [--format standard|json|ppviz] [--follow] [--limit N]
                          passive RTT samples (epping.enabled in the config)

Control a running daemon (needs the API token, usually root)
  reload                  re-read the config file; a bad file is refused
  enable DEV              accelerate DEV again
  disable DEV             stop accelerating DEV (its traffic goes to the kernel)

Other
  demo                    build a gateway lab in network namespaces and accelerate it
  bench [--scenario NAME]... [--json] [--quick]
                          forwarding benchmarks against Linux and reference XDP

Options for the client commands
  --api HOST:PORT         daemon address (default: api.listen in the config, else ${DEFAULT_API_LISTEN})
  --config FILE           config file to read api.* from (default ${DEFAULT_CONFIG_PATH})
  --token-file FILE       API token (default: api.token_file in the config)
  --json                  machine-readable JSON output
  --help                  help for one command: slipstream COMMAND --help
`;

const CLIENT_OPTS = ['api', 'config', 'token-file'];
const SPECS: Record<string, ArgSpec & { usage: string }> = {
  run: { options: ['config', 'netns', 'api', 'log-level'], flags: ['help'], usage: 'run [--config FILE] [--netns NAME] [--api HOST:PORT] [--log-level fatal|error|warn|info|debug|trace]' },
  'check-config': { options: ['config'], flags: ['help', 'json'], usage: 'check-config [--config FILE] [--json]' },
  status: { options: CLIENT_OPTS, flags: ['help', 'json'], usage: 'status [--json] [--api HOST:PORT]' },
  graph: { options: CLIENT_OPTS, flags: ['help', 'json', 'dot'], usage: 'graph [--dot | --json] [--api HOST:PORT]' },
  pipelines: { options: CLIENT_OPTS, flags: ['help', 'json'], usage: 'pipelines [--json] [--api HOST:PORT]' },
  stats: { options: CLIENT_OPTS, flags: ['help', 'json'], usage: 'stats [--json] [--api HOST:PORT]' },
  rtt: { options: [...CLIENT_OPTS, 'format', 'limit'], flags: ['help', 'json', 'follow'], usage: 'rtt [--format standard|json|ppviz] [--follow] [--limit N] [--api HOST:PORT]' },
  reload: { options: CLIENT_OPTS, flags: ['help', 'json'], usage: 'reload [--json] [--api HOST:PORT] [--token-file FILE]' },
  enable: { options: CLIENT_OPTS, flags: ['help', 'json'], positionals: 1, usage: 'enable DEV [--json] [--api HOST:PORT] [--token-file FILE]' },
  disable: { options: CLIENT_OPTS, flags: ['help', 'json'], positionals: 1, usage: 'disable DEV [--json] [--api HOST:PORT] [--token-file FILE]' },
  demo: { flags: ['help'], usage: 'demo' },
};

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === 'version') {
      io.out(`slipstream ${packageVersion()}\n`);
      return 0;
    }
    // bench parses its own arguments.
    if (command === 'bench') return await callModule<(a: string[]) => Promise<number>>('../../bench/main', 'runBench', 'the benchmark runner')(rest);
    const spec = SPECS[command];
    if (!spec) throw new UsageError(`unknown command "${command}" (see slipstream --help)`);
    const args = parseArgs(rest, spec, command);
    if (args.flags.has('help')) {
      io.out(`Usage: slipstream ${spec.usage}\n`);
      return 0;
    }
    switch (command) {
      case 'run':
        return await runCommand(args, io);
      case 'check-config':
        return checkConfig(args, io);
      case 'demo':
        return await callModule<() => Promise<number>>('../demo/index', 'runDemo', 'the demo')();
      default:
        return await clientCommand(command, args, io);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`slipstream: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CliError) {
      io.err(`slipstream: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ConfigError) {
      io.err(`slipstream: invalid config:\n${e.message}\n`);
      return 1;
    }
    io.err(`slipstream: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    const v = pkg && typeof pkg === 'object' ? (pkg as { version?: unknown }).version : undefined;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

// The daemon, demo and bench are loaded only when asked for, so the client commands work
// (and say so clearly) in a build where those parts are missing.
function callModule<F>(rel: string, name: string, what: string): F {
  const file = path.join(__dirname, rel);
  let mod: unknown;
  try {
    mod = require(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(file)) {
      throw new CliError(`${what} is not available in this build (${path.relative(path.join(__dirname, '..', '..'), file)}.js is missing; run "npm run build")`);
    }
    throw e;
  }
  const fn = mod && typeof mod === 'object' ? (mod as Record<string, unknown>)[name] : undefined;
  if (typeof fn !== 'function') throw new CliError(`${what}: ${rel} does not export ${name}()`);
  return fn as F;
}

function configFrom(args: ParsedArgs): { path: string; explicit: boolean } {
  const p = opt(args, 'config');
  return { path: p ?? DEFAULT_CONFIG_PATH, explicit: p !== undefined };
}

async function runCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const level = opt(args, 'log-level');
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const api = opt(args, 'api');
  if (api !== undefined) {
    try {
      parseListen(api);
    } catch (e) {
      throw new UsageError(`--api ${(e as Error).message}`);
    }
  }
  const netns = opt(args, 'netns') ?? null;
  if (netns !== null && !/^[^/\0]+$/.test(netns)) throw new UsageError('--netns takes a name under /var/run/netns');
  const cfg = configFrom(args);
  const overrides = { apiListen: api ?? null, logLevel: (level as LogLevel | undefined) ?? null };
  const config = applyOverrides(loadConfig(cfg.path, { mustExist: cfg.explicit }), overrides);
  const logger = createLogger(config.log_level);
  const runDaemon = callModule<(o: RunOptions) => Promise<number>>('../daemon/run', 'runDaemon', 'the daemon');
  void io;
  return runDaemon({ configPath: cfg.path, config, overrides, netns, logger, version: packageVersion() });
}

function checkConfig(args: ParsedArgs, io: CliIo): number {
  const cfg = configFrom(args);
  const exists = fs.existsSync(cfg.path);
  const config = loadConfig(cfg.path, { mustExist: cfg.explicit });
  if (args.flags.has('json')) io.out(JSON.stringify(config, null, 2) + '\n');
  else io.out(exists ? `${cfg.path}: ok\n` : `${cfg.path}: absent, the built-in defaults apply\n`);
  return 0;
}

interface ClientSetup {
  client: ApiClient;
}

function clientSetup(args: ParsedArgs, io: CliIo, needToken: boolean): ClientSetup {
  const cfgPath = configFrom(args);
  let config: Config | null = null;
  const apiFlag = opt(args, 'api');
  const tokenFlag = opt(args, 'token-file');
  if (apiFlag === undefined || (needToken && tokenFlag === undefined)) {
    try {
      config = loadConfig(cfgPath.path, { mustExist: cfgPath.explicit });
    } catch (e) {
      if (cfgPath.explicit) throw e;
      const first = e instanceof ConfigError ? e.message.split('\n')[0] : (e as Error).message;
      io.err(`slipstream: warning: ignoring the config file (${first})\n`);
    }
  }
  const listen = apiFlag ?? config?.api.listen ?? DEFAULT_API_LISTEN;
  try {
    parseListen(listen);
  } catch (e) {
    throw new UsageError(`--api ${(e as Error).message}`);
  }
  let token: string | null = null;
  let tokenNote: string | undefined;
  if (needToken) {
    const file = tokenFlag ?? config?.api.token_file ?? '/etc/slipstream/token';
    try {
      token = fs.readFileSync(file, 'utf8').trim() || null;
      if (!token) tokenNote = `${file} is empty`;
    } catch (e) {
      // The daemon may run without authentication (tests, demo); the 401 message explains otherwise.
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      tokenNote = `cannot read the token file ${file} (${code}); run as root or pass --token-file`;
    }
  }
  return { client: new ApiClient(listen, token, 10000, tokenNote) };
}

function asJson(data: unknown): string {
  return JSON.stringify(data, null, 2) + '\n';
}

async function clientCommand(command: string, args: ParsedArgs, io: CliIo): Promise<number> {
  const json = args.flags.has('json');
  const mutating = command === 'reload' || command === 'enable' || command === 'disable';
  const { client } = clientSetup(args, io, mutating);
  switch (command) {
    case 'status': {
      const { data } = await client.json('GET', '/v1/status');
      io.out(json ? asJson(data) : renderStatus(data as StatusView));
      return 0;
    }
    case 'graph': {
      if (args.flags.has('dot') && json) throw new UsageError('--dot and --json exclude each other');
      if (args.flags.has('dot')) {
        const r = await client.request('GET', '/v1/graph?format=dot');
        if (r.status !== 200) throw client.httpError(r.status, safeJson(r.body), '/v1/graph');
        io.out(r.body.endsWith('\n') ? r.body : r.body + '\n');
        return 0;
      }
      const { data } = await client.json('GET', '/v1/graph');
      io.out(json ? asJson(data) : renderGraph(data as Graph));
      return 0;
    }
    case 'pipelines': {
      const { data } = await client.json('GET', '/v1/pipelines');
      io.out(json ? asJson(data) : renderPipelines((data as { pipelines: PipelineView[] }).pipelines));
      return 0;
    }
    case 'stats': {
      const { data } = await client.json('GET', '/v1/stats');
      io.out(json ? asJson(data) : renderStats((data as { devices: DeviceStats[] }).devices));
      return 0;
    }
    case 'rtt':
      return rttCommand(client, args, io);
    case 'reload': {
      const { data } = await client.json('POST', '/v1/reload', { okStatuses: [422], timeoutMs: 120000 });
      const r = data as { ok: boolean; message: string };
      if (json) io.out(asJson(r));
      else if (r.ok) io.out(r.message + '\n');
      if (!r.ok) {
        if (!json) io.err(`slipstream: ${r.message}\n`);
        return 1;
      }
      return 0;
    }
    case 'enable':
    case 'disable': {
      const dev = args.positionals[0];
      if (!dev) throw new UsageError(`${command} needs a device name`);
      const { data } = await client.json('POST', `/v1/devices/${encodeURIComponent(dev)}/${command}`, { timeoutMs: 60000 });
      io.out(json ? asJson(data) : `${dev}: acceleration ${command === 'enable' ? 'enabled' : 'disabled'}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

async function rttCommand(client: ApiClient, args: ParsedArgs, io: CliIo): Promise<number> {
  const fmtArg = opt(args, 'format') ?? (args.flags.has('json') ? 'json' : 'standard');
  if (fmtArg !== 'standard' && fmtArg !== 'json' && fmtArg !== 'ppviz') throw new UsageError('--format must be standard, json or ppviz');
  const format: RttFormat = fmtArg;
  const limitArg = opt(args, 'limit');
  let limit: number | null = null;
  if (limitArg !== undefined) {
    if (!/^\d+$/.test(limitArg) || Number(limitArg) < 1) throw new UsageError('--limit must be a positive integer');
    limit = Number(limitArg);
  }
  if (!args.flags.has('follow')) {
    const { data } = await client.json('GET', `/v1/rtt?limit=${limit ?? 100}`);
    for (const s of (data as { samples: Record<string, unknown>[] }).samples) io.out(formatRtt(s, format) + '\n');
    return 0;
  }
  const ac = new AbortController();
  let signal = io.signal;
  const onSig = (): void => ac.abort();
  if (!signal) {
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    signal = ac.signal;
  }
  let printed = 0;
  try {
    await client.events(
      '/v1/events?types=rtt',
      (type, data) => {
        if (type !== 'rtt') return true;
        const ev = safeJson(data) as DaemonEvent | null;
        if (!ev || ev.type !== 'rtt') return true;
        io.out(formatRtt(ev.sample, format) + '\n');
        printed++;
        return limit === null || printed < limit;
      },
      signal,
    );
  } finally {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
  }
  return 0;
}
