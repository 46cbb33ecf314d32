import type { Config, ConfigOverrides } from '../config';
import type { Logger } from '../util/log';

// What `slipstream run` hands to runDaemon (controller/daemon/run.ts).
export interface RunOptions {
  configPath: string; // the file to reload on SIGHUP / POST /v1/reload (may not exist: defaults)
  config: Config; // already loaded and validated, with the command-line overrides applied
  overrides: ConfigOverrides; // re-apply on every reload: reloadConfig(current, configPath, overrides)
  netns: string | null; // --netns NAME: enter /var/run/netns/NAME before anything else
  logger: Logger; // created at config.log_level; on reload set logger.level = new log_level
  version: string; // package.json version
}
