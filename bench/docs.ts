import type { ScenarioResult } from './context';
import type { BenchArgs } from './main';
export async function writeDocs(r: ScenarioResult[], cmd: string, a: BenchArgs): Promise<string[]> { void r; void cmd; void a; return []; }
