// Text forms of RTT samples, as pping prints them. The fields are those of the latency
// monitor's RttSample (controller/epping/sample.ts): time_us, src, dst, sport, dport, proto,
// rtt_us, min_rtt_us. The CLI only gets JSON, so each field is read defensively.

export type RttFormat = 'standard' | 'json' | 'ppviz';

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

function endpoint(addr: unknown, port: unknown): string {
  const a = typeof addr === 'string' ? addr : '?';
  const p = Number.isFinite(num(port)) ? String(num(port)) : '?';
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`;
}

function flow(s: Record<string, unknown>): string {
  return `${endpoint(s.src, s.sport)}+${endpoint(s.dst, s.dport)}`;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function timeOfDay(us: number): string {
  if (!Number.isFinite(us)) return '??:??:??.??????';
  const d = new Date(Math.floor(us / 1000));
  const frac = ((us % 1e6) + 1e6) % 1e6;
  return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(Math.floor(frac), 6)}`;
}

const seconds = (us: number): string => (us / 1e6).toFixed(9);
const millis = (us: number): string => (us / 1000).toFixed(6);

export function formatRtt(s: Record<string, unknown>, format: RttFormat): string {
  if (format === 'json') return JSON.stringify(s);
  const t = num(s.time_us);
  const rtt = num(s.rtt_us);
  const min = Number.isFinite(num(s.min_rtt_us)) ? num(s.min_rtt_us) : rtt;
  if (format === 'ppviz') return `${seconds(t)} ${seconds(rtt)} ${seconds(min)} ${flow(s)}`;
  const proto = typeof s.proto === 'string' ? s.proto.toUpperCase() : '?';
  return `${timeOfDay(t)} ${millis(rtt)} ms ${millis(min)} ms ${proto} ${flow(s)}`;
}
