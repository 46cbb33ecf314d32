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

// `slipstream run`: serve until SIGTERM/SIGINT. Resolves with the exit code.
export async function runDaemon(o: RunOptions): Promise<number> {
  const log = o.logger;
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
  native.sdNotify('READY=1\nSTATUS=slipstream running');

  const wd = watchdogIntervalMs();
  const wdTimer = wd ? setInterval(() => native.sdNotify('WATCHDOG=1'), wd) : null;

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig, on_exit: daemon.config.on_exit }, 'stopping');
      native.sdNotify('STOPPING=1');
      if (wdTimer) clearInterval(wdTimer);
      void app.close().finally(() => {
        daemon.stop();
        log.info('stopped');
        resolve(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void daemon.reload());
  });
}
