// The lab harness: import { Lab, bridgeLab, ping } from '../lab'.
export * from './lab';
export * from './presets';
export * from './traffic';
export * from './frames';
