// Sysctls that decide what the fast path may do. /proc/sys/net resolves against the
// reading thread's network namespace, so reads are synchronous on the calling (main)
// thread — the libuv thread pool would read the pool thread's namespace instead.
import fs from 'node:fs';
import { emptySysctls, type DeviceConf, type Sysctls } from './types';

// A few hundred files per read-out (three per device, every second): one open, one read
// and one close each, into a reused buffer (readFileSync also stats and reads twice).
const buf = Buffer.allocUnsafe(4096);
function readRaw(path: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n < buf.length) return buf.toString('latin1', 0, n).trim();
    return fs.readFileSync(path, 'latin1').trim(); // longer than any sysctl here: read it whole
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function readNum(path: string): number | null {
  const s = readRaw(path);
  if (s === null || s === '') return null;
  const n = Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : null;
}

function readBool(path: string): boolean | null {
  const n = readNum(path);
  return n === null ? null : n !== 0;
}

export function readSysctls(ifnames: Iterable<string>, root = '/proc/sys/net'): Sysctls {
  const s = emptySysctls();
  s.ipv4Forward = readBool(`${root}/ipv4/ip_forward`);
  s.ipv6Forward = readBool(`${root}/ipv6/conf/all/forwarding`);
  s.rpFilterAll = readNum(`${root}/ipv4/conf/all/rp_filter`);
  s.bridgeNfCallIptables = readBool(`${root}/bridge/bridge-nf-call-iptables`);
  s.bridgeNfCallIp6tables = readBool(`${root}/bridge/bridge-nf-call-ip6tables`);
  s.bridgeNfCallArptables = readBool(`${root}/bridge/bridge-nf-call-arptables`);
  s.defaultQdisc = readRaw(`${root}/core/default_qdisc`) || 'pfifo_fast';
  s.multipathPolicy4 = readNum(`${root}/ipv4/fib_multipath_hash_policy`);
  s.multipathPolicy6 = readNum(`${root}/ipv6/fib_multipath_hash_policy`);
  const names = [...ifnames].sort();
  for (const name of names) {
    if (name.includes('/') || name === '.' || name === '..') continue;
    const conf: DeviceConf = {
      v4Forwarding: readBool(`${root}/ipv4/conf/${name}/forwarding`),
      rpFilter: readNum(`${root}/ipv4/conf/${name}/rp_filter`),
      v6Forwarding: readBool(`${root}/ipv6/conf/${name}/forwarding`),
    };
    s.devices.set(name, conf);
  }
  return s;
}

// 'sysctl net.ipv4.ip_forward=0' for every value that differs, for the update's causes.
export function sysctlChanges(a: Sysctls, b: Sysctls): string[] {
  const out: string[] = [];
  const fmt = (v: boolean | number | string | null): string => (v === null ? 'absent' : typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  const top: Array<[string, keyof Sysctls]> = [
    ['net.ipv4.ip_forward', 'ipv4Forward'],
    ['net.ipv6.conf.all.forwarding', 'ipv6Forward'],
    ['net.ipv4.conf.all.rp_filter', 'rpFilterAll'],
    ['net.bridge.bridge-nf-call-iptables', 'bridgeNfCallIptables'],
    ['net.bridge.bridge-nf-call-ip6tables', 'bridgeNfCallIp6tables'],
    ['net.bridge.bridge-nf-call-arptables', 'bridgeNfCallArptables'],
    ['net.core.default_qdisc', 'defaultQdisc'],
    ['net.ipv4.fib_multipath_hash_policy', 'multipathPolicy4'],
    ['net.ipv6.fib_multipath_hash_policy', 'multipathPolicy6'],
  ];
  for (const [name, k] of top) {
    const va = a[k] as boolean | number | string | null;
    const vb = b[k] as boolean | number | string | null;
    if (va !== vb) out.push(`sysctl ${name}=${fmt(vb)}`);
  }
  for (const [dev, cb] of b.devices) {
    const ca = a.devices.get(dev);
    if (!ca) continue; // a new device: its link event is the cause
    if (ca.v4Forwarding !== cb.v4Forwarding) out.push(`sysctl net.ipv4.conf.${dev}.forwarding=${fmt(cb.v4Forwarding)}`);
    if (ca.rpFilter !== cb.rpFilter) out.push(`sysctl net.ipv4.conf.${dev}.rp_filter=${fmt(cb.rpFilter)}`);
    if (ca.v6Forwarding !== cb.v6Forwarding) out.push(`sysctl net.ipv6.conf.${dev}.forwarding=${fmt(cb.v6Forwarding)}`);
  }
  return out;
}
