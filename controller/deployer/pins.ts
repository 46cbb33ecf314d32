import * as fs from 'fs';
import * as path from 'path';

// bpffs layout: <root>/<netns>/maps/<name>, <root>/<netns>/dev/<ifindex>/{link,root_slot,gen-<n>}
export class PinLayout {
  readonly base: string;
  constructor(root: string, netns: string | null) {
    this.base = path.join(root, netns ?? 'init');
  }
  get mapsDir(): string {
    return path.join(this.base, 'maps');
  }
  map(name: string): string {
    return path.join(this.mapsDir, name);
  }
  devDir(ifindex: number): string {
    return path.join(this.base, 'dev', String(ifindex));
  }
  link(ifindex: number): string {
    return path.join(this.devDir(ifindex), 'link');
  }
  rootSlot(ifindex: number): string {
    return path.join(this.devDir(ifindex), 'root_slot');
  }
  generation(ifindex: number, gen: number): string {
    return path.join(this.devDir(ifindex), `gen-${gen}`);
  }
  pinnedDevices(): number[] {
    const d = path.join(this.base, 'dev');
    if (!fs.existsSync(d)) return [];
    return fs.readdirSync(d).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  }
  pinnedGenerations(ifindex: number): number[] {
    const d = this.devDir(ifindex);
    if (!fs.existsSync(d)) return [];
    return fs
      .readdirSync(d)
      .map((f) => /^gen-(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }
  ensureDir(p: string): void {
    fs.mkdirSync(p, { recursive: true, mode: 0o700 });
  }
  removeDevDir(ifindex: number): void {
    fs.rmSync(this.devDir(ifindex), { recursive: true, force: true });
  }
  // The shared root goes too once no other namespace's daemon uses it.
  removeAll(): void {
    fs.rmSync(this.base, { recursive: true, force: true });
    try {
      fs.rmdirSync(path.dirname(this.base));
    } catch {
      /* not empty: another namespace's daemon still has pins there */
    }
  }
}
