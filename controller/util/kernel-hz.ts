// The running kernel's tick rate (CONFIG_HZ), from its build config: /proc/config.gz, else
// /boot/config-<release>. null when neither is readable or says.
import fs from 'node:fs';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';

export function hzFromConfig(text: string): number | null {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  const hz = m ? Number(m[1]) : NaN;
  return Number.isInteger(hz) && hz > 0 ? hz : null;
}

function readConfig(file: string, gz: boolean): string | null {
  try {
    const raw = fs.readFileSync(file);
    return gz ? gunzipSync(raw).toString('latin1') : raw.toString('latin1');
  } catch {
    return null;
  }
}

let cached: number | null | undefined;

export function kernelHz(): number | null {
  if (cached !== undefined) return cached;
  const text = readConfig('/proc/config.gz', true) ?? readConfig(`/boot/config-${os.release()}`, false);
  cached = text === null ? null : hzFromConfig(text);
  return cached;
}
