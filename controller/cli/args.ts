// A small argv parser: --name value, --name=value, boolean flags, repeatable options.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ArgSpec {
  flags?: string[]; // booleans: --json
  options?: string[]; // take a value: --api HOST:PORT
  repeatable?: string[]; // options that may repeat: --scenario A --scenario B
  positionals?: number; // how many positionals are allowed
}

export interface ParsedArgs {
  flags: Set<string>;
  options: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: ArgSpec, command: string): ParsedArgs {
  const flags = new Set<string>();
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  const isFlag = new Set(spec.flags ?? []);
  const isOpt = new Set([...(spec.options ?? []), ...(spec.repeatable ?? [])]);
  const repeat = new Set(spec.repeatable ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (isFlag.has(name)) {
        if (eq > 0) throw new UsageError(`--${name} takes no value`);
        flags.add(name);
      } else if (isOpt.has(name)) {
        let value: string;
        if (eq > 0) value = a.slice(eq + 1);
        else {
          if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
          value = argv[++i];
        }
        const list = options.get(name) ?? [];
        if (list.length > 0 && !repeat.has(name)) throw new UsageError(`--${name} given twice`);
        list.push(value);
        options.set(name, list);
      } else {
        throw new UsageError(`unknown option ${a} for "${command}" (see slipstream ${command} --help)`);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      if (a === '-h') flags.add('help');
      else throw new UsageError(`unknown option ${a} for "${command}" (see slipstream ${command} --help)`);
    } else positionals.push(a);
  }
  if (!flags.has('help') && positionals.length > (spec.positionals ?? 0)) {
    throw new UsageError(`unexpected argument "${positionals[spec.positionals ?? 0]}" for "${command}"`);
  }
  return { flags, options, positionals };
}

export function opt(p: ParsedArgs, name: string): string | undefined {
  return p.options.get(name)?.[0];
}
