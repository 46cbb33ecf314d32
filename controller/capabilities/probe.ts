// The capabilities manager: asks the running kernel (helpers, map types, kfuncs) and each
// device's driver what works, instead of guessing from version numbers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NativeAddon } from '../native/types';
import type { CapabilitiesSummary } from '../daemon/view';
import { HELPER_IDS, MAP_TYPE_IDS } from './ids';
import { KNOWN_KFUNCS, REQUIRED_HELPERS, REQUIRED_MAP_TYPES, type Capabilities, type DeviceCapability } from './types';

const BPF_PROG_TYPE_XDP = 6;
const XDP_FLAGS_DRV_MODE = 4;

// Drivers that implement ndo_bpf (native XDP) in mainline kernels 6.x.
export const NATIVE_XDP_DRIVERS: ReadonlySet<string> = new Set([
  'veth', 'tun', 'virtio_net', 'netdevsim', 'xen_netfront', 'hv_netvsc', 'vmxnet3', 'ena', 'gve', 'mana',
  'mlx4_en', 'mlx5_core', 'i40e', 'ice', 'ixgbe', 'ixgbevf', 'igb', 'igc', 'bnxt_en', 'qede', 'nfp', 'sfc',
  'sfc_siena', 'thunder-nicvf', 'mvneta', 'mvpp2', 'dpaa2-eth', 'dpaa_eth', 'fsl_enetc', 'fec', 'stmmac', 'st_gmac',
  'tsnep', 'lan966x-switch', 'mtk_soc_eth', 'rvu_nicpf', 'rvu_nicvf', 'cpsw', 'cpsw-switch', 'am65-cpsw-nuss',
  'atlantic', 'funeth', 'bcmgenet', 'octeon_ep',
]);

export interface ProbeDevice {
  ifname: string;
  ifindex: number;
  kind: string; // model LinkKind
  operUp: boolean;
  adminUp: boolean;
  xdpAttached: boolean;
}

export interface ProbeOptions {
  native: NativeAddon;
  netns?: string; // devices live in this namespace (ethtool and attach probes run there)
  devices?: ProbeDevice[];
  extraHelpers?: string[]; // names from FPM manifests
  extraMapTypes?: string[];
  extraKfuncs?: string[];
  probeDir?: string; // where kfunc_ct.bpf.o and xdp_pass.bpf.o live (default build/bpf/probe)
  attachProbe?: boolean; // try a DRV-mode attach on idle (admin-down, XDP-free) devices (default true)
  // An earlier result for the same needs: its kernel-wide answers (helpers, map types,
  // kfuncs) are taken as they are and only the devices are probed. Loading the kfunc probe
  // object alone costs ~60 ms (vmlinux BTF), and the kernel does not change in between.
  kernelFrom?: Capabilities;
}

export function bpffsMount(mounts: string): string | null {
  let found: string | null = null;
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f.length >= 3 && f[2] === 'bpf') {
      const mp = f[1].replace(/\\040/g, ' ');
      if (mp === '/sys/fs/bpf') return mp;
      found ??= mp;
    }
  }
  return found;
}

function defaultProbeDir(): string {
  // dist/controller/capabilities -> repo root
  return path.resolve(__dirname, '..', '..', '..', 'build', 'bpf', 'probe');
}

function loads(n: NativeAddon, file: string): { ok: boolean; why: string } {
  if (!fs.existsSync(file)) return { ok: false, why: `${file} is missing (run make -C bpf)` };
  let obj;
  try {
    obj = n.openObject(file);
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  try {
    obj.load();
    return { ok: true, why: '' };
  } catch (e) {
    return { ok: false, why: (e as Error).message.split('\n')[0] };
  } finally {
    obj.close();
  }
}

function deviceCapability(o: ProbeOptions, d: ProbeDevice, passProg: string, errors: string[]): DeviceCapability {
  const n = o.native;
  let driver = '';
  try {
    const run = (): { driver: string } => n.ethtoolDriver(d.ifname);
    driver = (o.netns ? n.inNetns(o.netns, run) : run()).driver;
  } catch {
    driver = '';
  }
  if (d.kind === 'veth') return { driver: driver || 'veth', xdpNative: true, how: 'kind', note: 'veth runs native XDP' };
  if (d.kind === 'bridge' || d.kind === 'vlan' || d.kind === 'bond' || d.kind === 'macvlan' || d.kind === 'dummy') {
    return { driver, xdpNative: false, how: 'kind', note: `${d.kind} devices get generic XDP only` };
  }
  // An idle device can be asked directly without disturbing traffic.
  if (o.attachProbe !== false && !d.adminUp && !d.operUp && !d.xdpAttached && fs.existsSync(passProg)) {
    let obj;
    try {
      obj = n.openObject(passProg);
      obj.load();
      const fd = obj.program('ss_probe_pass').fd;
      const attach = (): void => {
        n.xdpAttach(d.ifindex, fd, XDP_FLAGS_DRV_MODE);
        n.xdpDetach(d.ifindex, XDP_FLAGS_DRV_MODE, fd);
      };
      if (o.netns) n.inNetns(o.netns, attach);
      else attach();
      return { driver, xdpNative: true, how: 'probed', note: 'a driver-mode XDP attach worked' };
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
        return { driver, xdpNative: false, how: 'probed', note: 'the driver refused a driver-mode XDP attach' };
      }
      errors.push(`XDP attach probe on ${d.ifname}: ${(e as Error).message}`);
    } finally {
      obj?.close();
    }
  }
  if (d.kind === 'tun') return { driver: driver || 'tun', xdpNative: true, how: 'kind', note: 'tun/tap runs native XDP' };
  if (!driver) return { driver, xdpNative: false, how: 'unknown', note: 'no driver information: generic XDP' };
  const known = NATIVE_XDP_DRIVERS.has(driver);
  return {
    driver,
    xdpNative: known,
    how: 'driver-list',
    note: known ? `driver ${driver} implements native XDP (not probed: the device is in use)` : `driver ${driver} is not known to implement native XDP: generic mode`,
  };
}

export function probeCapabilities(o: ProbeOptions): Capabilities {
  if (o.kernelFrom) return withDevices(o, o.kernelFrom);
  const n = o.native;
  const errors: string[] = [];
  const mounts = (() => {
    try {
      return fs.readFileSync('/proc/self/mounts', 'utf8');
    } catch {
      return '';
    }
  })();
  const bpffsPath = bpffsMount(mounts);
  const helpers: Record<string, boolean> = {};
  for (const name of new Set([...REQUIRED_HELPERS, ...(o.extraHelpers ?? [])])) {
    const id = HELPER_IDS[name];
    if (id === undefined) {
      helpers[name] = false;
      errors.push(`unknown helper ${name}`);
      continue;
    }
    try {
      helpers[name] = n.probeHelper(BPF_PROG_TYPE_XDP, id);
    } catch (e) {
      helpers[name] = false;
      errors.push(`probe of ${name}: ${(e as Error).message}`);
    }
  }
  const mapTypes: Record<string, boolean> = {};
  for (const name of new Set([...REQUIRED_MAP_TYPES, ...(o.extraMapTypes ?? [])])) {
    const id = MAP_TYPE_IDS[name];
    if (id === undefined) {
      mapTypes[name] = false;
      errors.push(`unknown map type ${name}`);
      continue;
    }
    try {
      mapTypes[name] = n.probeMapType(id);
    } catch (e) {
      mapTypes[name] = false;
      errors.push(`probe of ${name} maps: ${(e as Error).message}`);
    }
  }
  const dir = o.probeDir ?? defaultProbeDir();
  const kfuncs: Record<string, boolean> = {};
  const ct = loads(n, path.join(dir, 'kfunc_ct.bpf.o'));
  if (!ct.ok) errors.push(`conntrack kfunc probe: ${ct.why}`);
  for (const k of new Set([...KNOWN_KFUNCS, ...(o.extraKfuncs ?? [])])) {
    if (k === 'bpf_xdp_ct_lookup' || k === 'bpf_ct_release') kfuncs[k] = ct.ok;
    else {
      kfuncs[k] = false;
      errors.push(`no probe program for kfunc ${k}`);
    }
  }
  const devices = probeDevices(o, dir, errors);
  const missing = [
    ...Object.entries(helpers).filter(([, v]) => !v).map(([k]) => k),
    ...Object.entries(mapTypes).filter(([, v]) => !v).map(([k]) => k),
    ...Object.entries(kfuncs).filter(([, v]) => !v).map(([k]) => k),
  ].sort();
  return {
    kernel: os.release(),
    btf: fs.existsSync('/sys/kernel/btf/vmlinux'),
    bpffs: bpffsPath !== null,
    bpffsPath,
    helpers,
    mapTypes,
    kfuncs,
    tcx: null,
    devices,
    missing,
    errors,
  };
}

function probeDevices(o: ProbeOptions, dir: string, errors: string[]): Record<string, DeviceCapability> {
  const passProg = path.join(dir, 'xdp_pass.bpf.o');
  const devices: Record<string, DeviceCapability> = {};
  for (const d of [...(o.devices ?? [])].sort((a, b) => a.ifname.localeCompare(b.ifname))) {
    if (d.kind === 'other') continue;
    devices[d.ifname] = deviceCapability(o, d, passProg, errors);
  }
  return devices;
}

const DEVICE_ERROR = /^XDP attach probe on /;

function withDevices(o: ProbeOptions, base: Capabilities): Capabilities {
  const errors = base.errors.filter((e) => !DEVICE_ERROR.test(e));
  const devices = probeDevices(o, o.probeDir ?? defaultProbeDir(), errors);
  return {
    ...base,
    helpers: { ...base.helpers },
    mapTypes: { ...base.mapTypes },
    kfuncs: { ...base.kfuncs },
    devices,
    missing: [...base.missing],
    errors,
  };
}

// The devices of a model as probe input.
export function probeDevicesOf(links: Iterable<{ ifindex: number; name: string; kind: string; operState: string; adminUp: boolean; xdp: { progId: number } }>): ProbeDevice[] {
  const out: ProbeDevice[] = [];
  for (const l of links) {
    out.push({ ifname: l.name, ifindex: l.ifindex, kind: l.kind, operUp: l.operState === 'up', adminUp: l.adminUp, xdpAttached: l.xdp.progId > 0 });
  }
  return out;
}

export function capabilitiesSummary(c: Capabilities): CapabilitiesSummary {
  const devices: CapabilitiesSummary['devices'] = {};
  for (const [name, d] of Object.entries(c.devices)) devices[name] = { driver: d.driver, xdp_native: d.xdpNative };
  const missing = [...c.missing];
  if (!c.btf) missing.push('btf');
  if (!c.bpffs) missing.push('bpffs');
  return { kernel: c.kernel, btf: c.btf, bpffs: c.bpffs, missing, devices };
}
