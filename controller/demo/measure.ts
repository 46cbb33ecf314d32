// What the demo measures: TCP throughput with the machine's CPU time spent on it, and ping RTT.
import * as fs from 'fs';

export interface CpuSample {
  busy: number; // jiffies, all CPUs: everything but idle and iowait
  total: number;
}

export function cpuSample(): CpuSample {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const v = (i: number): number => (Number.isFinite(f[i]) ? f[i] : 0);
  const idle = v(3) + v(4);
  const total = v(0) + v(1) + v(2) + idle + v(5) + v(6) + v(7);
  return { busy: total - idle, total };
}

export function clockTicks(): number {
  return 100; // USER_HZ is 100 on every Linux architecture Node runs on
}

export interface Throughput {
  bitsPerSecond: number;
  bytes: number;
  cpuSeconds: number; // whole machine, while the transfer ran
  seconds: number;
}

// CPU seconds per GiB moved: lower is better.
export function cpuPerGiB(t: Throughput): number | null {
  return t.bytes > 0 ? t.cpuSeconds / (t.bytes / 2 ** 30) : null;
}

export async function withCpu<T>(fn: () => Promise<T>): Promise<{ result: T; cpuSeconds: number; seconds: number }> {
  const a = cpuSample();
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const b = cpuSample();
  return { result, cpuSeconds: (b.busy - a.busy) / clockTicks(), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

// "rtt min/avg/max/mdev = 0.041/0.098/0.179/0.037 ms" -> avg in ms.
export function pingAvgMs(output: string): number | null {
  const m = /=\s*([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+)\s*ms/.exec(output);
  return m ? Number(m[2]) : null;
}

export function gbit(bps: number): string {
  return `${(bps / 1e9).toFixed(2)} Gbit/s`;
}

export function ratio(after: number, before: number): string {
  if (!(before > 0) || !Number.isFinite(after)) return '-';
  return `x${(after / before).toFixed(2)}`;
}
