// Shared bits of the native foundation tests.
import fs from 'node:fs';
import path from 'node:path';
import { native, sumPerCpuU64, u32, type BpfObject, type NativeError } from '../../controller/native';

function findRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'native', 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('repository root not found');
}

export const repoRoot = findRoot();

export function testObjectPath(name: string): string {
  return path.join(repoRoot, 'build', 'bpf', 'test', `${name}.bpf.o`);
}

// Opens build/bpf/test/<name>.bpf.o, applies knobs, loads; closed by the caller's teardown.
export function loadTestObject(
  name: string,
  opts: { rodata?: Record<string, number | bigint | boolean | Buffer>; reuse?: Record<string, number> } = {},
): BpfObject {
  const obj = native.openObject(testObjectPath(name));
  try {
    if (opts.rodata) obj.setRodata(opts.rodata);
    for (const [m, fd] of Object.entries(opts.reuse ?? {})) obj.reuseMap(m, fd);
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

export interface Count {
  packets: bigint;
  bytes: bigint;
}

// Slot `idx` of xdp_count's per-CPU `counters`, summed over CPUs.
export function readCounter(mapFd: number, idx: number): Count {
  const v = native.mapLookup(mapFd, u32(idx));
  if (!v) throw new Error(`counter ${idx} missing`);
  const [packets, bytes] = sumPerCpuU64(v, native.numPossibleCpus(), 16);
  return { packets, bytes };
}

export function catchNative(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (e) {
    return e as NativeError;
  }
  throw new Error('expected a throw');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
