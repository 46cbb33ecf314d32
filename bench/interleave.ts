// Runs several variants of one measurement interleaved (A B C A B C ...), so slow drift of
// the machine (other load, frequency, caches) spreads over all of them alike.
import type { BenchContext } from './context';
import { measureOnce, type DeliveryCounter, type Injector, type RunContext, type Sample } from './probe';

export interface Variant {
  name: string;
  // Sets up the injector (target slot) or anything else before each of this variant's runs.
  prepare(inj: Injector): Promise<void> | void;
  // After each measured run (not the warm-up), with its sample.
  finish?(s: Sample): void;
}

export async function interleave(
  ctx: BenchContext,
  inj: Injector,
  counter: DeliveryCounter | null,
  run: RunContext,
  variants: Variant[],
  label: string,
): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  // Warm-up: neighbour entries, page pools and caches settle before anything counts.
  const warm = Math.max(1000, Math.min(20000, Math.floor(ctx.frames / 10)));
  for (const v of variants) {
    await v.prepare(inj);
    await measureOnce(inj, counter, run, warm);
  }
  for (let r = 0; r < ctx.reps; r++) {
    for (const v of variants) {
      await v.prepare(inj);
      const s = await measureOnce(inj, counter, run, ctx.frames);
      out.get(v.name)!.push(s);
      v.finish?.(s);
      ctx.log(`  ${label} ${v.name} #${r + 1}: ${s.mpps.toFixed(3)} Mpps (${s.delivered}/${ctx.frames} delivered)`);
    }
  }
  return out;
}
