// What this kernel and these NICs can do, probed (never guessed from version numbers).

export interface DeviceCapability {
  driver: string; // ETHTOOL_GDRVINFO driver name ('' when the device has no ethtool driver info)
  xdpNative: boolean; // native (driver) XDP is expected to work
  how: 'probed' | 'driver-list' | 'kind' | 'unknown'; // how xdpNative was decided
  note: string;
}

export interface Capabilities {
  kernel: string; // uname -r
  btf: boolean; // /sys/kernel/btf/vmlinux
  bpffs: boolean; // a bpf filesystem is mounted
  bpffsPath: string | null;
  helpers: Record<string, boolean>; // 'bpf_fib_lookup' -> usable from XDP programs
  mapTypes: Record<string, boolean>; // 'devmap_hash' -> creatable
  kfuncs: Record<string, boolean>; // 'bpf_xdp_ct_lookup' -> callable from XDP
  tcx: boolean | null; // tcx attach (CONFIG_NET_XGRESS), null when not probed
  devices: Record<string, DeviceCapability>; // by ifname
  missing: string[]; // names FPMs need that this kernel lacks (helpers, map types, kfuncs)
  errors: string[]; // probes that could not run
}

// Every name the shipped FPMs depend on; the manager also probes whatever manifests add.
export const REQUIRED_HELPERS = [
  'bpf_map_lookup_elem', 'bpf_map_update_elem', 'bpf_map_delete_elem', 'bpf_tail_call', 'bpf_redirect',
  'bpf_redirect_map', 'bpf_fib_lookup', 'bpf_xdp_adjust_head', 'bpf_xdp_adjust_tail', 'bpf_xdp_adjust_meta',
  'bpf_ktime_get_ns', 'bpf_ktime_get_coarse_ns', 'bpf_jiffies64', 'bpf_ringbuf_output', 'bpf_ringbuf_reserve', 'bpf_ringbuf_submit',
  'bpf_csum_diff', 'bpf_check_mtu', 'bpf_get_smp_processor_id', 'bpf_xdp_get_buff_len', 'bpf_xdp_load_bytes',
];

export const REQUIRED_MAP_TYPES = [
  'hash', 'array', 'prog_array', 'percpu_hash', 'percpu_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie',
  'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'ringbuf',
];

export const KNOWN_KFUNCS = ['bpf_xdp_ct_lookup', 'bpf_ct_release'];

// What each service needs, for the graph's reasons (the assembler checks manifests too).
export const SERVICE_NEEDS: Record<string, { helpers: string[]; mapTypes: string[]; kfuncs: string[] }> = {
  'l2-bridge': { helpers: ['bpf_redirect_map', 'bpf_tail_call'], mapTypes: ['hash', 'devmap_hash', 'prog_array'], kfuncs: [] },
  'l3-router': { helpers: ['bpf_fib_lookup', 'bpf_redirect_map', 'bpf_tail_call'], mapTypes: ['devmap_hash', 'prog_array'], kfuncs: [] },
  'latency-monitor': { helpers: ['bpf_ringbuf_output', 'bpf_ktime_get_ns'], mapTypes: ['hash', 'ringbuf'], kfuncs: [] },
  queueing: { helpers: ['bpf_redirect_map'], mapTypes: ['cpumap'], kfuncs: [] },
};

// A capability set that claims everything works: for unit tests and before probing.
export function assumeAllCapabilities(kernel = 'unknown'): Capabilities {
  const all = (names: string[]): Record<string, boolean> => Object.fromEntries(names.map((n) => [n, true]));
  return {
    kernel,
    btf: true,
    bpffs: true,
    bpffsPath: '/sys/fs/bpf',
    helpers: all(REQUIRED_HELPERS),
    mapTypes: all(REQUIRED_MAP_TYPES),
    kfuncs: all(KNOWN_KFUNCS),
    tcx: true,
    devices: {},
    missing: [],
    errors: [],
  };
}
