// Loads the native addon (native/build/Release/slipstream.node) and adds small typed helpers.
import fs from 'node:fs';
import path from 'node:path';
import type { NativeAddon, NativeError } from './types';

export * from './types';
export * from './constants';

const ADDON_REL = path.join('native', 'build', 'Release', 'slipstream.node');

// This file runs as dist/controller/native/index.js (or from controller/native under a
// TS runner): walk up to the repository root, recognised by native/binding.gyp.
function findAddon(): string {
  const override = process.env.SLIPSTREAM_ADDON;
  if (override) return override;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'native', 'binding.gyp'))) return path.join(dir, ADDON_REL);
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(__dirname, '..', '..', '..', ADDON_REL);
}

export const addonPath = findAddon();

function load(): NativeAddon {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(addonPath) as NativeAddon;
  } catch (err) {
    const e = new Error(
      `cannot load the native addon at ${addonPath} (run \`npm run build\`): ${(err as Error).message}`,
    );
    (e as Error & { cause?: unknown }).cause = err;
    throw e;
  }
}

export const native: NativeAddon = load();

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).code === 'string' && 'errno' in e;
}

function slot(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

function checkPerCpu(buf: Buffer, ncpu: number, valueSize: number): void {
  if (!Number.isInteger(ncpu) || ncpu <= 0) throw new RangeError(`bad ncpu ${ncpu}`);
  if (!Number.isInteger(valueSize) || valueSize <= 0) throw new RangeError(`bad valueSize ${valueSize}`);
  if (buf.length < slot(valueSize) * ncpu) {
    throw new RangeError(`per-CPU buffer of ${buf.length} bytes is short of ${ncpu} x ${slot(valueSize)}`);
  }
}

// Each CPU's value of a per-CPU map entry (slots are rounded up to 8 bytes).
export function perCpuValues(buf: Buffer, ncpu: number, valueSize: number): Buffer[] {
  checkPerCpu(buf, ncpu, valueSize);
  const out: Buffer[] = [];
  const stride = slot(valueSize);
  for (let c = 0; c < ncpu; c++) out.push(buf.subarray(c * stride, c * stride + valueSize));
  return out;
}

// Sums every u64 field of a per-CPU value over the CPUs: field i of the result is the
// total of bytes [8i, 8i+8) across CPUs.
export function sumPerCpuU64(buf: Buffer, ncpu: number, valueSize: number): bigint[] {
  checkPerCpu(buf, ncpu, valueSize);
  const fields = Math.floor(valueSize / 8);
  const sums: bigint[] = new Array<bigint>(fields).fill(0n);
  const stride = slot(valueSize);
  for (let c = 0; c < ncpu; c++) {
    for (let f = 0; f < fields; f++) sums[f] += buf.readBigUInt64LE(c * stride + f * 8);
  }
  return sums;
}

// Little-endian u32 key/value buffers, the common case for array maps.
export { u32le as u32 } from '../util/bytes';
