// Capabilities manager: kernel features and per-device XDP support, probed.
export * from './types';
export { probeCapabilities, probeDevicesOf, capabilitiesSummary, bpffsMount, NATIVE_XDP_DRIVERS, type ProbeDevice, type ProbeOptions } from './probe';
export { HELPER_IDS, MAP_TYPE_IDS } from './ids';
