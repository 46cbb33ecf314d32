import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { fpmLibraryDir } from '../util/paths';
import { schemaValidator as compiledValidator } from '../util/validator';
import type { ServiceKind } from '../graph/types';

export type KnobType = 'bool' | 'u8' | 'u16' | 'u32' | 'u64';

export interface KnobDef {
  name: string;
  type: KnobType;
  default: number | boolean;
  description: string;
}

export interface FpmManifest {
  name: string;
  description: string;
  object: string; // relative to build/bpf
  program: string;
  services: ServiceKind[];
  order: number;
  requires: string[];
  capabilities: { helpers: string[]; map_types: string[]; kfuncs: string[] };
  knobs: KnobDef[];
  maps: string[];
  counters: string[];
  inlineParse: boolean; // can take parse's place right after it (see deployer/generation.ts)
  folds: FpmFold[]; // variants with the FPMs right before it compiled in
}

// A variant object that runs `fpms` (in chain order, ending right before the host) first.
export interface FpmFold {
  fpms: string[];
  object: string;
}

export class ManifestError extends Error {}

function schemaValidator(dir: string): ((m: unknown) => string | null) | null {
  const schemaPath = path.join(dir, 'schema.json');
  if (!fs.existsSync(schemaPath)) return null;
  // The options must match scripts/gen-validators.js.
  const validate = compiledValidator('manifest-validator.js', JSON.parse(fs.readFileSync(schemaPath, 'utf8')) as object, { allErrors: true, strict: false });
  return (m: unknown) =>
    validate(m) ? null : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
}

function normalise(raw: Record<string, unknown>): FpmManifest {
  const caps = (raw.capabilities ?? {}) as Partial<FpmManifest['capabilities']>;
  return {
    name: String(raw.name),
    description: String(raw.description ?? ''),
    object: String(raw.object),
    program: String(raw.program),
    services: (raw.services ?? []) as ServiceKind[],
    order: Number(raw.order ?? 100),
    requires: (raw.requires ?? []) as string[],
    capabilities: { helpers: caps.helpers ?? [], map_types: caps.map_types ?? [], kfuncs: caps.kfuncs ?? [] },
    knobs: (raw.knobs ?? []) as KnobDef[],
    maps: (raw.maps ?? []) as string[],
    counters: (raw.counters ?? []) as string[],
    inlineParse: raw.inline_parse === true,
    folds: (raw.folds ?? []) as FpmFold[],
  };
}

// A fold names FPMs of the library, and one program's rodata can hold all their knobs.
function checkFolds(all: Map<string, FpmManifest>, file: Map<string, string>): void {
  for (const host of all.values()) {
    for (const fold of host.folds) {
      const where = `${file.get(host.name)}: folds ${fold.fpms.join(',')}`;
      const owner = new Map(host.knobs.map((k) => [k.name, host.name]));
      for (const name of fold.fpms) {
        const m = all.get(name);
        if (!m) throw new ManifestError(`${where}: no FPM ${name} in the library`);
        if (name === 'parse') continue; // its knobs are renamed parse_<knob>
        for (const k of m.knobs) {
          const other = owner.get(k.name);
          if (other) throw new ManifestError(`${where}: knob ${k.name} of ${name} clashes with ${other}'s`);
          owner.set(k.name, name);
        }
      }
    }
  }
}

// Every *.yaml in fpm-library/ is one FPM; adding an FPM needs no controller change.
export function loadManifests(dir: string = fpmLibraryDir): Map<string, FpmManifest> {
  const check = schemaValidator(dir);
  const out = new Map<string, FpmManifest>();
  const files = new Map<string, string>();
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const full = path.join(dir, file);
    let raw: unknown;
    try {
      raw = YAML.parse(fs.readFileSync(full, 'utf8'));
    } catch (e) {
      throw new ManifestError(`${full}: ${(e as Error).message}`);
    }
    const problem = check ? check(raw) : null;
    if (problem) throw new ManifestError(`${full}: ${problem}`);
    if (typeof raw !== 'object' || raw === null) throw new ManifestError(`${full}: not a mapping`);
    const m = normalise(raw as Record<string, unknown>);
    if (out.has(m.name)) throw new ManifestError(`${full}: duplicate FPM name ${m.name}`);
    out.set(m.name, m);
    files.set(m.name, full);
  }
  checkFolds(out, files);
  return out;
}
