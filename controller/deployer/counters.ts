import * as fs from 'fs';
import { reasonsHeader } from '../util/paths';

// Counter ids and names come from bpf/include/ss_reasons.h, the single source of truth.
export interface CounterDef {
  id: number;
  name: string;
  text: string;
  fastPath: boolean;
}

export interface CounterTable {
  stride: number; // SS_NR_COUNTERS: counters per device row
  defs: CounterDef[];
  byName: Map<string, CounterDef>;
}

const LINE = /SS_COUNTER\(\s*(SS_[A-Z0-9_]+)\s*,\s*(\d+)\s*,\s*"([^"]+)"\s*,\s*"([^"]*)"\s*\)/g;

export function parseCounterHeader(text: string): CounterTable {
  const defs: CounterDef[] = [];
  for (const m of text.matchAll(LINE)) {
    defs.push({ id: Number(m[2]), name: m[3], text: m[4], fastPath: m[1].startsWith('SS_C_FAST') });
  }
  const stride = /#define\s+SS_NR_COUNTERS\s+(\d+)/.exec(text);
  if (!stride || defs.length === 0) throw new Error('ss_reasons.h: no counters or no SS_NR_COUNTERS found');
  const table: CounterTable = { stride: Number(stride[1]), defs, byName: new Map() };
  for (const d of defs) {
    if (d.id >= table.stride) throw new Error(`ss_reasons.h: counter ${d.name} id ${d.id} exceeds SS_NR_COUNTERS`);
    table.byName.set(d.name, d);
  }
  return table;
}

let cached: CounterTable | null = null;
export function counterTable(): CounterTable {
  if (!cached) cached = parseCounterHeader(fs.readFileSync(reasonsHeader, 'utf8'));
  return cached;
}
