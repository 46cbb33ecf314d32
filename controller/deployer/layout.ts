// Byte layouts of the shared map keys and values in bpf/include/ss_maps.h. Change both together.
import { macBytes, u32le } from '../util/bytes';
import { macString } from '../model/addr';

export const SS_SLOT_NONE = 0xffffffff;
export const SS_MAX_DEVS = 256;
export const SS_MAX_CHAIN = 16;
export const SS_IFINDEX_MAX = 65536; // ss_devs is an array indexed by ifindex

export const SS_FDB_LOCAL = 1 << 0;
export const SS_FDB_STATIC = 1 << 1;

export const SS_DEV_UP = 1 << 0;
export const SS_DEV_TX = 1 << 1;
export const SS_DEV_QDISC = 1 << 2;
export const SS_DEV_PORT_FWD = 1 << 3;
export const SS_DEV_ISOLATED = 1 << 4;
export const SS_DEV_BRIDGE = 1 << 5;
export const SS_DEV_L3 = 1 << 6;
export const SS_DEV_NF_OUT4 = 1 << 7;
export const SS_DEV_NF_OUT6 = 1 << 8;

export { macBytes };
export const u32Key = u32le;

export interface DevValue {
  bridgeIfindex: number;
  mtu: number;
  flags: number;
  mac: string;
  rpFilter: number;
  routeMtu4?: number; // smallest MTU metric of the IPv4 routes out of the device; 0 or absent: none
}

export const SS_DEV_SIZE = 24; // sizeof(struct ss_dev); all zeros means "unknown device"

export function encodeDev(d: DevValue): Buffer {
  const b = Buffer.alloc(SS_DEV_SIZE);
  b.writeUInt32LE(d.bridgeIfindex, 0);
  b.writeUInt32LE(d.mtu, 4);
  b.writeUInt32LE(d.flags, 8);
  macBytes(d.mac).copy(b, 12);
  b.writeUInt8(d.rpFilter, 18);
  b.writeUInt32LE(d.routeMtu4 ?? 0, 20);
  return b;
}

export interface FdbKey {
  bridgeIfindex: number;
  mac: string;
  vlan: number;
}

export function encodeFdbKey(k: FdbKey): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(k.bridgeIfindex, 0);
  macBytes(k.mac).copy(b, 4);
  b.writeUInt16LE(k.vlan, 10);
  return b;
}

export function decodeFdbKey(b: Buffer): FdbKey {
  return { bridgeIfindex: b.readUInt32LE(0), mac: macString(b.subarray(4, 10)), vlan: b.readUInt16LE(10) };
}

export interface FdbValue {
  portIfindex: number;
  flags: number;
  lastSeenNs: bigint;
}

export function encodeFdbValue(v: FdbValue): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(v.portIfindex, 0);
  b.writeUInt32LE(v.flags, 4);
  b.writeBigUInt64LE(v.lastSeenNs, 8);
  return b;
}

export function decodeFdbValue(b: Buffer): FdbValue {
  return { portIfindex: b.readUInt32LE(0), flags: b.readUInt32LE(4), lastSeenNs: b.readBigUInt64LE(8) };
}

export function encodeHeartbeat(lastNs: bigint, timeoutNs: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(lastNs, 0);
  b.writeBigUInt64LE(timeoutNs, 8);
  return b;
}

// struct ss_counter is two u64; per-CPU values arrive as ncpu consecutive 16-byte slots.
export function sumCounter(perCpu: Buffer): { packets: number; bytes: number } {
  let packets = 0n;
  let bytes = 0n;
  for (let off = 0; off + 16 <= perCpu.length; off += 16) {
    packets += perCpu.readBigUInt64LE(off);
    bytes += perCpu.readBigUInt64LE(off + 8);
  }
  return { packets: Number(packets), bytes: Number(bytes) };
}
