// A strict reader of the Prometheus text exposition format 0.0.4, for tests.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: string;
  help: string | null;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, where: string): number {
  // Prometheus reads values with Go's ParseFloat: Inf/NaN in any case (prom-client writes "Nan").
  if (/^\+?inf$/i.test(s)) return Infinity;
  if (/^-inf$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value "${s}"`);
  return Number(s);
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sampleName)) return families.get(sampleName);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: Family | null = null;
  text.split('\n').forEach((line, idx) => {
    const where = `line ${idx + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      let f = families.get(name);
      if (!f) {
        if (current) closed.add(current.name);
        f = { name, type: 'untyped', help: null, samples: [] };
        families.set(name, f);
        current = f;
      } else if (f !== current) throw new Error(`${where}: ${name} metadata after another family`);
      if (kind === 'HELP') {
        if (f.help !== null) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest;
      } else {
        if (!TYPES.has(rest)) throw new Error(`${where}: bad type ${rest}`);
        if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples of ${name}`);
        f.type = rest;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample: ${line}`);
    const [, name, , labelText, valueText] = m;
    const labels: Record<string, string> = {};
    if (labelText) {
      let rest = labelText;
      while (rest.length > 0) {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/.exec(rest);
        if (!lm) throw new Error(`${where}: bad labels {${labelText}}`);
        if (!LABEL.test(lm[1]) || lm[1].startsWith('__')) throw new Error(`${where}: bad label name ${lm[1]}`);
        if (lm[1] in labels) throw new Error(`${where}: label ${lm[1]} twice`);
        labels[lm[1]] = lm[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(lm[0].length);
      }
    }
    const f = familyOf(name, families);
    if (!f) throw new Error(`${where}: sample ${name} without a TYPE`);
    if (f !== current || closed.has(f.name)) throw new Error(`${where}: samples of ${f.name} are not contiguous`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seen.add(key);
    f.samples.push({ name, labels, value: parseValue(valueText, where) });
  });
  for (const f of families.values()) {
    if (f.type === 'counter') {
      for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`${f.name}: negative or NaN counter`);
    }
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    groups.set(k, [...(groups.get(k) ?? []), s]);
    if (s.name === `${f.name}_bucket` && le === undefined) throw new Error(`${f.name}: bucket without le`);
  }
  for (const [k, ss] of groups) {
    const buckets = ss.filter((s) => s.name.endsWith('_bucket'));
    const count = ss.find((s) => s.name === `${f.name}_count`);
    const sum = ss.find((s) => s.name === `${f.name}_sum`);
    if (!count || !sum) throw new Error(`${f.name}${k}: missing _count or _sum`);
    let prevLe = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le, f.name);
      if (!(le > prevLe)) throw new Error(`${f.name}${k}: le not increasing`);
      if (b.value < prev) throw new Error(`${f.name}${k}: buckets not cumulative`);
      prevLe = le;
      prev = b.value;
    }
    if (prevLe !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    if (prev !== count.value) throw new Error(`${f.name}${k}: +Inf bucket != _count`);
  }
}

export function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.keys(labels).length !== Object.keys(s.labels).length && !('le' in labels) && !('le' in s.labels)) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).every((k) => k in labels)) return s.value;
    }
  }
  return undefined;
}
