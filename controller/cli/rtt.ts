// RTT sample lines for `slipstream rtt`: the latency monitor's own formatter, so the CLI
// and GET /v1/rtt/lines print the same text. The CLI only gets JSON, so it narrows first.
import { formatSample, type SampleFormat } from '../epping/format';
import type { RttSample } from '../epping/sample';

export type RttFormat = SampleFormat;

const PROTOS = new Set(['tcp', 'icmp', 'icmpv6']);

function asSample(s: Record<string, unknown>): RttSample | null {
  const n = (k: string): boolean => typeof s[k] === 'number' && Number.isFinite(s[k]);
  const str = (k: string): boolean => typeof s[k] === 'string';
  if (!['time_us', 'sport', 'dport', 'rtt_us', 'min_rtt_us'].every(n)) return null;
  if (!['src', 'dst'].every(str) || !PROTOS.has(String(s.proto))) return null;
  return s as unknown as RttSample;
}

export function formatRtt(s: Record<string, unknown>, format: RttFormat): string {
  if (format === 'json') return JSON.stringify(s);
  const sample = asSample(s);
  return sample ? formatSample(sample, format) : `? unreadable sample ${JSON.stringify(s)}`;
}
