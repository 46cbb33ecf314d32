import type { NativeAddon } from '../native/types';
import { u32Key } from './layout';

// The mirrors' generation (ss_mirror_gen). l2-bridge caches, per CPU, the port-level verdict
// of recently bridged flows, and trusts an entry only while this value is what it was when
// the entry was filled. So every change to ss_fdb or ss_devs must be followed by bump(): a
// moved source, a deleted entry or a port that stops forwarding then decides the flow's next
// frame, as it would without the cache.
export class MirrorGeneration {
  private value: bigint;

  constructor(
    private readonly native: NativeAddon,
    private readonly fd: number,
  ) {
    const v = native.mapLookup(fd, u32Key(0)); // pinned by an earlier daemon: continue from it
    this.value = v ? v.readBigUInt64LE(0) : 0n;
  }

  get current(): bigint {
    return this.value;
  }

  bump(): void {
    this.value++;
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(this.value, 0);
    this.native.mapUpdate(this.fd, u32Key(0), b);
  }
}
