// The validators generated at build time (scripts/gen-validators.js) are the ones in use, and
// they judge exactly as ajv compiling the same schema with the same options would.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { schemaValidator } from '../../controller/util/validator';
import { configSchema } from '../../controller/config/load';

const root = path.resolve(__dirname, '..', '..', '..');
const configOpts = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true };
const manifestOpts = { allErrors: true, strict: false };
const manifestSchema = JSON.parse(fs.readFileSync(path.join(root, 'fpm-library', 'schema.json'), 'utf8')) as object;

t.test('the build generated both, and they match the schemas on disk', async (tt) => {
  const c = schemaValidator('config-validator.js', configSchema, configOpts) as { schemaHash?: string };
  const m = schemaValidator('manifest-validator.js', manifestSchema, manifestOpts) as { schemaHash?: string };
  tt.type(c.schemaHash, 'string', 'config: the generated validator');
  tt.type(m.schemaHash, 'string', 'manifest: the generated validator');
});

t.test('a schema or options that differ from the generated ones are compiled instead', async (tt) => {
  const changed = { ...configSchema, title: 'changed' };
  const v = schemaValidator('config-validator.js', changed, configOpts);
  tt.equal((v as { schemaHash?: string }).schemaHash, undefined);
  tt.ok(v({}), 'and works');
  const noDefaults = schemaValidator('config-validator.js', configSchema, { ...configOpts, useDefaults: false });
  tt.equal((noDefaults as { schemaHash?: string }).schemaHash, undefined, 'other options: compiled');
  const data: Record<string, unknown> = {};
  tt.ok(noDefaults(data));
  tt.same(data, {}, 'and it fills no defaults, as asked');
});

t.test('generated and compiled agree, defaults and errors included', async (tt) => {
  const gen = schemaValidator('config-validator.js', configSchema, configOpts);
  const ajv = new Ajv(configOpts).compile(configSchema);
  const cases: unknown[] = [
    {},
    { heartbeat: { interval_ms: 200 } },
    { heartbeat: { interval_ms: 'soon' } },
    { no_such_key: 1 },
    { epping: { enabled: true, protocols: ['tcp', 'carrier-pigeon'] } },
    { listen: 12 },
  ];
  for (const c of cases) {
    const a = structuredClone(c);
    const b = structuredClone(c);
    tt.equal(gen(a), ajv(b), JSON.stringify(c));
    tt.same(a, b, 'same defaults filled in');
    tt.same(gen.errors ?? null, ajv.errors ?? null, 'same errors');
  }
  const mGen = schemaValidator('manifest-validator.js', manifestSchema, manifestOpts);
  const mAjv = new Ajv(manifestOpts).compile(manifestSchema);
  for (const f of fs.readdirSync(path.join(root, 'fpm-library')).filter((x) => x.endsWith('.yaml'))) {
    const doc = { name: f, object: 1 };
    tt.equal(mGen(doc), mAjv(doc), `a broken manifest (${f})`);
    tt.same(mGen.errors, mAjv.errors);
  }
});
