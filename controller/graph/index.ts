// The dependency graph: types (the API contract), the pure builder, diff, DOT and roles.
export * from './types';
export type { GraphConfig } from './config';
export { buildGraph, tableName, handleString } from './build';
export { diffGraphs, isEmptyDiff } from './diff';
export { graphToDot } from './dot';
export { deviceRoles, bridgeFdb, type DeviceRoleInfo, type FdbRecord } from './roles';
