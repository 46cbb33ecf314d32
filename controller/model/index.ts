// Kernel object model of one network namespace, kept current from rtnetlink.
export * from './types';
export { Introspector, type IntrospectorOptions, type UpdateEvent, type ResyncEvent, type LogFn } from './introspector';
export { diffModels, countDiff, sameValue, applyOp, type TableDiff } from './store';
export { decode, splitMessages, type RawMessage, type Op } from './decode';
export { parseNftJson, parseIptablesSave, checkNetfilter } from './netfilter';
export { readSysctls, sysctlChanges } from './sysctl';
export { ipString, macString, globMatch } from './addr';
