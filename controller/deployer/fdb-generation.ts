import type { NativeAddon } from '../native/types';
import { u32Key } from './layout';

// The FDB mirror's generation (ss_fdb_gen). l2-bridge remembers, per port and CPU, the last
// source MAC the mirror confirmed on that port, and trusts that memo only while this value
// is unchanged. So every change to ss_fdb must be followed by bump(): a moved or deleted
// source then reaches the kernel on its next frame, as it would without the memo.
export class FdbGeneration {
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
