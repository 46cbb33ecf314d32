import { loadConfig } from './load';
import { ConfigError, type Config, type LogLevel } from './types';

// Command-line settings that beat the file, re-applied on every reload.
export interface ConfigOverrides {
  apiListen?: string | null;
  logLevel?: LogLevel | null;
}

export function applyOverrides(c: Config, o: ConfigOverrides): Config {
  const out: Config = structuredClone(c);
  if (o.apiListen) out.api.listen = o.apiListen;
  if (o.logLevel) out.log_level = o.logLevel;
  return out;
}

// Keys the daemon reads only at start.
const RESTART_KEYS = ['api.listen', 'api.token_file', 'bpffs_root'];

export interface ReloadOutcome {
  ok: boolean;
  config: Config; // the new config when ok, else the unchanged current one
  message: string;
  changed: string[]; // dotted key paths that differ
  restartRequired: string[]; // changed keys that only take effect after a restart
}

export function diffConfig(a: unknown, b: unknown, prefix = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
    return keys.flatMap((k) => diffConfig(ra[k], rb[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

// Loads the file again; on any error the current config stays in force.
export function reloadConfig(current: Config, path: string, overrides: ConfigOverrides = {}): ReloadOutcome {
  let next: Config;
  try {
    next = applyOverrides(loadConfig(path), overrides);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : `${path}: ${(e as Error).message}`;
    return { ok: false, config: current, message: `config not reloaded, keeping the running one: ${msg}`, changed: [], restartRequired: [] };
  }
  const changed = diffConfig(current, next);
  const restartRequired = changed.filter((k) => RESTART_KEYS.some((r) => k === r || k.startsWith(r + '.')));
  let message = changed.length === 0 ? 'config reloaded: no changes' : `config reloaded: changed ${changed.join(', ')}`;
  if (restartRequired.length > 0) message += `; ${restartRequired.join(', ')} take effect after a restart`;
  return { ok: true, config: next, message, changed, restartRequired };
}

// Holds the live config for the daemon and reloads it in place.
export class ConfigStore {
  private cfg: Config;
  constructor(readonly path: string, initial: Config, readonly overrides: ConfigOverrides = {}) {
    this.cfg = initial;
  }
  get current(): Config {
    return this.cfg;
  }
  reload(): ReloadOutcome {
    const r = reloadConfig(this.cfg, this.path, this.overrides);
    this.cfg = r.config;
    return r;
  }
}
