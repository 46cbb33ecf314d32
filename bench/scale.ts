import type { BenchContext, ScenarioResult } from './context';
export async function runControlPlaneScale(ctx: BenchContext, ..._a: unknown[]): Promise<ScenarioResult> { void ctx; throw new Error('todo'); }
