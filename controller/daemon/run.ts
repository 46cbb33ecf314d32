import { native } from '../native';
import { createApi, listenApi, Metrics } from '../api';
import type { RunOptions } from '../cli/run-options';
import { Daemon } from './daemon';
import { registerEppingRoutes } from '../epping';

function watchdogIntervalMs(): number | null {
  const usec = Number(process.env.WATCHDOG_USEC ?? '');
  const pid = process.env.WATCHDOG_PID;
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (pid && Number(pid) !== process.pid) return null;
  return Math.max(100, Math.floor(usec / 2000)); // half the period, in ms
}

// sd_notify must never take the daemon down: a stale NOTIFY_SOCKET only costs one warning.
function notifier(log: RunOptions['logger']): (state: string) => void {
  let warned = false;
  return (state) => {
    try {
      native.sdNotify(state);
    } catch (e) {
      if (!warned) log.warn({ err: e }, 'cannot notify systemd');
      warned = true;
    }
  };
}

// `slipstream run`: serve until SIGTERM/SIGINT. Resolves with the exit code.
export async function runDaemon(o: RunOptions): Promise<number> {
  const log = o.logger;
  const notify = notifier(log);
  const metrics = new Metrics();
  const daemon = new Daemon({
    config: o.config, configPath: o.configPath, overrides: o.overrides, netns: o.netns,
    logger: log, metrics, version: o.version,
  });

  // Nothing may abort the process: log and carry on; systemd's watchdog covers hangs.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  // The API listens before entering --netns, so operators reach it from the host namespace.
  const app = await createApi(daemon, {
    listen: o.config.api.listen, tokenFile: o.config.api.token_file, logger: log, metrics, version: o.version,
    rttRoute: false,
    extraRoutes: (a) => registerEppingRoutes(a, daemon.epping),
  });
  const bound = await listenApi(app, o.config.api.listen);
  log.info({ api: `http://${bound}` }, 'api listening');

  // Signals are caught from here on, so a stop during start-up still detaches cleanly.
  let signalled: string | null = null;
  let onSignal: (sig: string) => void = (sig) => {
    signalled = sig;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => void daemon.reload());

  if (o.netns) native.enterNetns(o.netns);
  try {
    await daemon.start();
  } catch (e) {
    log.fatal({ err: e }, `cannot start: ${(e as Error).message}`);
    await app.close();
    daemon.stop();
    return 1;
  }
  log.info({ pipelines: daemon.pipelines().map((p) => `${p.ifname}:${p.fpms.join('>')}`) }, 'ready');
  log.debug({ ...process.memoryUsage() }, 'memory when ready');
  notify('READY=1\nSTATUS=slipstream running');

  const wd = watchdogIntervalMs();
  const wdTimer = wd ? setInterval(() => notify('WATCHDOG=1'), wd) : null;

  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig, on_exit: daemon.config.on_exit }, 'stopping');
      notify('STOPPING=1');
      if (wdTimer) clearInterval(wdTimer);
      void app.close().finally(() => {
        daemon.stop();
        log.info('stopped');
        resolve(0);
      });
    };
    if (signalled) onSignal(signalled);
  });
}
