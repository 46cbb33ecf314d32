export * from './types';
export { loadConfig, parseConfig, defaultConfig, DEFAULT_CONFIG_PATH, configSchema, type LoadOptions } from './load';
export { reloadConfig, applyOverrides, diffConfig, ConfigStore, type ConfigOverrides, type ReloadOutcome } from './reload';
export { parseListen, formatListen, isLoopbackHost, clientTarget, DEFAULT_API_LISTEN, type ListenAddress } from './listen';
export { globMatch, globToRegExp, deviceSelected } from './devices';
