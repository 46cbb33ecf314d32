import * as path from 'path';

// dist/controller/util/paths.js -> repo root is three levels up; source runs are not supported.
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const bpfBuildDir = path.join(repoRoot, 'build', 'bpf');
export const fpmLibraryDir = path.join(repoRoot, 'fpm-library');
export const reasonsHeader = path.join(repoRoot, 'bpf', 'include', 'ss_reasons.h');

export function bpfObjectPath(rel: string): string {
  return path.join(bpfBuildDir, rel);
}
