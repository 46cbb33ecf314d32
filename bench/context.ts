// What every scenario gets from the runner, and what it hands back.
import type { Spread } from './stats';

export interface BenchOptions {
  quick: boolean;
  cpu: number; // the core the generator (and so the whole data path) runs on
  batchSize: number;
  reps: number; // interleaved repetitions of each variant
  frames: number; // frames per measured run
}

export interface BenchContext extends BenchOptions {
  log(msg: string): void; // progress, on stderr
  // Registered cleanups run (newest first) when the scenario ends, even on failure or SIGINT.
  defer(fn: () => unknown): void;
}

export interface ScenarioResult {
  scenario: string;
  linux_mpps: number | null;
  slipstream_mpps: number | null;
  reference_mpps: number | null;
  speedup_vs_linux: number | null;
  fraction_of_reference: number | null;
  runs: number;
  [extra: string]: unknown;
}

export interface VariantSpread {
  linux: Spread | null;
  slipstream: Spread | null;
  reference: Spread | null;
}

export interface Scenario {
  name: string;
  description: string;
  available: boolean;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
