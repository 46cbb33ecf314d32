import * as fs from 'fs';
import type { BpfObject, MapInfo, NativeAddon } from '../native/types';
import type { PinLayout } from './pins';

// Maps that are not shared: the root's per-device slot and each generation's chain.
export const PER_DEVICE_MAPS = new Set(['ss_root_slot']);
export const PER_GENERATION_MAPS = new Set(['ss_chain']);

function isInternal(name: string): boolean {
  return name.includes('.'); // .rodata, .bss, .data and friends
}

// Registry of maps shared by every object slipstream loads in one netns. The first object
// that declares a map creates it; every later one reuses its fd. All are pinned, so data
// survives generation swaps and daemon restarts.
export class SharedMaps {
  private fds = new Map<string, number>();

  constructor(
    private readonly native: NativeAddon,
    private readonly pins: PinLayout,
  ) {}

  // Reopen maps pinned by an earlier daemon.
  adopt(): string[] {
    const adopted: string[] = [];
    if (!fs.existsSync(this.pins.mapsDir)) return adopted;
    for (const name of fs.readdirSync(this.pins.mapsDir)) {
      try {
        this.fds.set(name, this.native.objGet(this.pins.map(name)));
        adopted.push(name);
      } catch {
        this.native.unpin(this.pins.map(name));
      }
    }
    return adopted;
  }

  fd(name: string): number | undefined {
    return this.fds.get(name);
  }

  info(name: string): MapInfo | undefined {
    const fd = this.fds.get(name);
    return fd === undefined ? undefined : this.native.mapInfo(fd);
  }

  names(): string[] {
    return [...this.fds.keys()];
  }

  // Before load: point the object's shared maps at existing fds. Returns names it will create.
  prepare(obj: BpfObject): string[] {
    const creates: string[] = [];
    for (const m of obj.maps()) {
      if (isInternal(m.name) || PER_DEVICE_MAPS.has(m.name) || PER_GENERATION_MAPS.has(m.name)) continue;
      const fd = this.fds.get(m.name);
      if (fd === undefined) {
        creates.push(m.name);
        continue;
      }
      const have = this.native.mapInfo(fd);
      if (have.type !== m.type || have.keySize !== m.keySize || have.valueSize !== m.valueSize || have.maxEntries !== m.maxEntries) {
        // A pin from an older layout: start that map afresh rather than misread it.
        this.forget(m.name);
        creates.push(m.name);
        continue;
      }
      obj.reuseMap(m.name, fd);
    }
    return creates;
  }

  // After load: register and pin the maps this object created.
  register(obj: BpfObject, names: string[]): void {
    for (const name of names) {
      const fd = this.native.dupFd(obj.map(name).fd);
      this.pins.ensureDir(this.pins.mapsDir);
      this.native.unpin(this.pins.map(name));
      this.native.pin(fd, this.pins.map(name));
      this.fds.set(name, fd);
    }
  }

  forget(name: string): void {
    const fd = this.fds.get(name);
    if (fd !== undefined) this.native.closeFd(fd);
    this.fds.delete(name);
    this.native.unpin(this.pins.map(name));
  }

  closeAll(unpin: boolean): void {
    for (const [name, fd] of this.fds) {
      this.native.closeFd(fd);
      if (unpin) this.native.unpin(this.pins.map(name));
    }
    this.fds.clear();
  }
}
