import * as fs from 'fs';
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node as YamlNode } from 'yaml';
import schema from '../../config/schema.json';
import { ConfigError, type Config, type ConfigIssue } from './types';
import { parseListen } from './listen';
import { schemaValidator, type Validator } from '../util/validator';

export const DEFAULT_CONFIG_PATH = '/etc/slipstream/config.yaml';
export const configSchema: Readonly<Record<string, unknown>> = schema;

let validator: Validator | null = null;
function validate(): Validator {
  // useDefaults fills every absent key; nested objects default to {} so their own defaults apply
  // too. The options must match scripts/gen-validators.js.
  validator ??= schemaValidator('config-validator.js', schema, { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
  return validator;
}

export function defaultConfig(): Config {
  const data: Record<string, unknown> = {};
  if (!validate()(data)) throw new Error('config/schema.json: its own defaults do not validate');
  return data as unknown as Config;
}

export interface LoadOptions {
  // Fail instead of falling back to defaults when the file does not exist (an explicit --config).
  mustExist?: boolean;
}

export function loadConfig(path: string = DEFAULT_CONFIG_PATH, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !opts.mustExist) return defaultConfig();
    const why = code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (e as Error).message})`;
    throw new ConfigError(path, [{ path: '', line: 0, column: 0, message: why }]);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, filename: string): Config {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number | undefined): { line: number; column: number } => {
    if (offset === undefined) return { line: 0, column: 0 };
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      filename,
      doc.errors.map((e) => ({ path: '', ...at(e.pos[0]), message: yamlMessage(e.message) })),
    );
  }

  const raw: unknown = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 100 });
  const data: unknown = raw === null || raw === undefined ? {} : raw;
  const check = validate();
  if (!check(data)) {
    const issues = (check.errors ?? []).map((err) => schemaIssue(doc, err, at));
    throw new ConfigError(filename, dedupe(issues).sort((a, b) => a.line - b.line || a.column - b.column));
  }
  const config = data as Config;
  const extra = semanticIssues(config).map(({ path, message }) => ({ path, ...at(nodeAt(doc, path)?.range?.[0]), message }));
  if (extra.length > 0) throw new ConfigError(filename, extra);
  return config;
}

// Checks a JSON Schema cannot express.
function semanticIssues(c: Config): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (c.heartbeat.timeout_ms <= c.heartbeat.interval_ms) {
    out.push({ path: '/heartbeat/timeout_ms', message: `must be greater than heartbeat.interval_ms (${c.heartbeat.interval_ms})` });
  }
  try {
    parseListen(c.api.listen);
  } catch (e) {
    out.push({ path: '/api/listen', message: (e as Error).message });
  }
  const rb = c.epping.ringbuf_bytes;
  if ((rb & (rb - 1)) !== 0) out.push({ path: '/epping/ringbuf_bytes', message: 'must be a power of two (a BPF ring buffer requirement)' });
  return out;
}

function yamlMessage(m: string): string {
  // yaml's pretty messages carry "at line L, column C:" plus a source excerpt; we print our own position.
  const first = m.split('\n')[0];
  return 'invalid YAML: ' + first.replace(/\s+at line \d+, column \d+:?\s*$/, '').trim();
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function childNode(node: unknown, seg: string): { key: YamlNode | null; value: YamlNode | null } | null {
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (k === seg) return { key: (item.key as YamlNode | null) ?? null, value: (item.value as YamlNode | null) ?? null };
    }
    return null;
  }
  if (isSeq(node) && /^\d+$/.test(seg)) {
    const v = node.items[Number(seg)];
    return v === undefined ? null : { key: null, value: (v as YamlNode | null) ?? null };
  }
  return null;
}

// The YAML node at a JSON pointer: the value node, or its key when the value is empty.
function nodeAt(doc: Document, pointer: string): YamlNode | null {
  let node: unknown = doc.contents;
  let last: YamlNode | null = (doc.contents as YamlNode | null) ?? null;
  for (const seg of pointerSegments(pointer)) {
    const c = childNode(node, seg);
    if (!c) return last;
    node = c.value;
    last = c.value && c.value.range ? c.value : c.key ?? last;
  }
  return last;
}

function keyNodeAt(doc: Document, parent: string, key: string): YamlNode | null {
  let node: unknown = doc.contents;
  for (const seg of pointerSegments(parent)) {
    const c = childNode(node, seg);
    if (!c) return null;
    node = c.value;
  }
  return childNode(node, key)?.key ?? null;
}

function schemaIssue(
  doc: Document,
  err: ErrorObject,
  at: (offset: number | undefined) => { line: number; column: number },
): ConfigIssue {
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'additionalProperties') {
    const key = String(params.additionalProperty);
    const allowed = allowedKeys(err.schemaPath);
    const node = keyNodeAt(doc, err.instancePath, key);
    return {
      path: `${err.instancePath}/${escapeSegment(key)}`,
      ...at(node?.range?.[0]),
      message: `is not a known key${allowed.length ? ` (known keys here: ${allowed.join(', ')})` : ''}`,
    };
  }
  let message = err.message ?? 'is invalid';
  if (err.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    message = `must be one of: ${params.allowedValues.map(String).join(', ')}`;
  } else if (err.keyword === 'pattern' && params.pattern === '^/') {
    message = 'must be an absolute path';
  } else if (err.keyword === 'type' && typeof params.type === 'string') {
    message = `must be ${params.type.split(',').join(' or ')}`;
  }
  return { path: err.instancePath, ...at(nodeAt(doc, err.instancePath)?.range?.[0]), message };
}

// The property names allowed by the schema object that owns an additionalProperties error.
function allowedKeys(schemaPath: string): string[] {
  let s: unknown = schema;
  for (const seg of pointerSegments(schemaPath.replace(/^#/, '')).slice(0, -1)) {
    if (s && typeof s === 'object') s = (s as Record<string, unknown>)[seg];
  }
  const props = s && typeof s === 'object' ? (s as Record<string, unknown>).properties : undefined;
  return props && typeof props === 'object' ? Object.keys(props) : [];
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
