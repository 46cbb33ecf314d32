// JSON Schema validators: the ones scripts/gen-validators.js generated at build time when
// they were made from this very schema, else compiled now with ajv (loaded only then).
import * as crypto from 'crypto';
import * as path from 'path';
import type { ErrorObject, Options } from 'ajv';

export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

interface Generated extends Validator {
  schemaHash?: string;
}

// Of the schema and the ajv options together: a validator generated with other options
// (defaults filled or not, say) must not be taken for this one.
export function schemaHash(schema: unknown, opts: Options): string {
  return crypto.createHash('sha256').update(JSON.stringify([schema, opts])).digest('hex');
}

export function schemaValidator(generated: string, schema: object, opts: Options): Validator {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, '..', '..', 'generated', generated)) as Generated;
    if (mod.schemaHash === schemaHash(schema, opts)) return mod;
  } catch {
    /* not generated (a source checkout without a build): compile below */
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { default: Ajv } = require('ajv') as typeof import('ajv');
  return new Ajv(opts).compile(schema);
}
