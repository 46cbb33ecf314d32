// Removes lab namespaces (and their bpffs pins) left behind by killed test runs.
// A lab is leftover when the pid in its marker is dead; unmarked ss????-* namespaces are
// removed when older than 10 minutes. Run by scripts/test.sh before the suite.
import fs from 'node:fs';
import path from 'node:path';
import { deleteNamespace, LAB_NS_RE, MARKER_DIR } from './lab';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function sweep(log: (msg: string) => void = () => {}): string[] {
  const removed: string[] = [];
  const livePrefixes = new Set<string>();
  const netnsDir = '/var/run/netns';
  const existing = fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir) : [];
  const markers = fs.existsSync(MARKER_DIR) ? fs.readdirSync(MARKER_DIR).filter((f) => f.endsWith('.json')) : [];
  for (const f of markers) {
    const file = path.join(MARKER_DIR, f);
    let m: { pid?: number; prefix?: string; namespaces?: string[] };
    try {
      m = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof m;
    } catch {
      m = {};
    }
    const prefix = m.prefix ?? f.replace(/\.json$/, '');
    if (typeof m.pid === 'number' && alive(m.pid)) {
      livePrefixes.add(prefix);
      continue;
    }
    const names = new Set([...(m.namespaces ?? []), ...existing.filter((n) => n.startsWith(prefix + '-'))]);
    for (const ns of names) {
      deleteNamespace(ns);
      removed.push(ns);
      log(`removed leftover lab namespace ${ns}`);
    }
    fs.rmSync(file, { force: true });
  }
  const cutoff = Date.now() - 10 * 60 * 1000;
  for (const ns of existing) {
    if (!LAB_NS_RE.test(ns) || livePrefixes.has(ns.slice(0, 6)) || removed.includes(ns)) continue;
    let mtime = Date.now();
    try {
      mtime = fs.statSync(path.join(netnsDir, ns)).mtimeMs;
    } catch {
      continue;
    }
    if (mtime < cutoff) {
      deleteNamespace(ns);
      removed.push(ns);
      log(`removed unmarked stale lab namespace ${ns}`);
    }
  }
  return removed;
}

if (require.main === module) {
  const removed = sweep((m) => process.stderr.write(`[sweep] ${m}\n`));
  if (removed.length) process.stderr.write(`[sweep] ${removed.length} namespace(s) removed\n`);
}
