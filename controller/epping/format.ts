// Text forms of a sample, as pping prints them.
import type { RttSample } from './sample';

export type SampleFormat = 'standard' | 'json' | 'ppviz';
export const SAMPLE_FORMATS: readonly SampleFormat[] = ['standard', 'json', 'ppviz'];

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function flow(s: RttSample): string {
  return `${endpoint(s.src, s.sport)}+${endpoint(s.dst, s.dport)}`;
}

// Local wall-clock time of day with microseconds.
function timeOfDay(timeUs: number): string {
  const d = new Date(Math.floor(timeUs / 1000));
  const frac = ((timeUs % 1_000_000) + 1_000_000) % 1_000_000;
  return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(Math.floor(frac), 6)}`;
}

// Seconds with 9 decimals from microseconds, in integer arithmetic: no float noise digits.
function seconds(us: number): string {
  const whole = Math.trunc(us);
  const ns = BigInt(whole) * 1000n + BigInt(Math.round((us - whole) * 1000));
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

export function formatSample(s: RttSample, format: SampleFormat = 'standard'): string {
  switch (format) {
    case 'standard':
      return `${timeOfDay(s.time_us)} ${(s.rtt_us / 1000).toFixed(6)} ms ${(s.min_rtt_us / 1000).toFixed(6)} ms ${s.proto.toUpperCase()} ${flow(s)}`;
    case 'json':
      return JSON.stringify(s);
    case 'ppviz':
      return `${seconds(s.time_us)} ${seconds(s.rtt_us)} ${seconds(s.min_rtt_us)} ${flow(s)}`;
    default: {
      const never: never = format;
      throw new Error(`unknown sample format ${String(never)}`);
    }
  }
}
