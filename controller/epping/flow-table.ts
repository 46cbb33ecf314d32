// ss_ep_flows as the controller sees it: an array of slots (bpf/include/ss_epping.h), of
// which the live ones hold a flow. BPF claims a free slot with a compare-and-swap on the
// tuple's last word; the controller frees one by writing zeros, and only for a slot that
// still holds the flow it decided about.
import type { NativeAddon } from '../native/types';
import { FLOW_TUPLE_OFFSET, FLOW_VAL_SIZE, TUPLE_SIZE } from './layout';

export interface FlowSlot {
  key: Buffer; // u32 slot index
  value: Buffer;
}

// What the cleanup needs of the flow table (a fixture in unit tests).
export interface FlowOps {
  dump(): FlowSlot[]; // live slots only
  lookup(key: Buffer): Buffer | null; // null when the slot is free
  update(key: Buffer, value: Buffer): void;
  free(key: Buffer, tuple: Buffer): boolean; // false when the slot no longer holds that flow
}

// Whether a flow value is a live slot: its tuple's last word (ports, protocol, IP version) is not 0.
export function slotLive(value: Buffer): boolean {
  return value.readBigUInt64LE(FLOW_TUPLE_OFFSET + TUPLE_SIZE - 8) !== 0n;
}

export function slotTuple(value: Buffer): Buffer {
  return value.subarray(FLOW_TUPLE_OFFSET, FLOW_TUPLE_OFFSET + TUPLE_SIZE);
}

const FREE = Buffer.alloc(FLOW_VAL_SIZE);

export type FlowTableMaps = Pick<NativeAddon, 'mapDump' | 'mapLookup' | 'mapUpdate' | 'mapUpdateBatch'>;

export class FlowTable implements FlowOps {
  constructor(
    private readonly nat: FlowTableMaps,
    private readonly fd: number,
  ) {}

  dump(): FlowSlot[] {
    return this.nat.mapDump(this.fd).filter((e) => slotLive(e.value));
  }

  lookup(key: Buffer): Buffer | null {
    const v = this.nat.mapLookup(this.fd, key);
    return v && slotLive(v) ? v : null;
  }

  update(key: Buffer, value: Buffer): void {
    this.nat.mapUpdate(this.fd, key, value);
  }

  // Between the check and the write BPF could free the slot and hand it to another flow,
  // which the write then frees as well: that flow is recreated by its next message.
  free(key: Buffer, tuple: Buffer): boolean {
    const v = this.lookup(key);
    if (!v || !slotTuple(v).equals(tuple)) return false;
    this.nat.mapUpdate(this.fd, key, FREE);
    return true;
  }

  // Frees every slot; returns how many were live.
  clear(): number {
    const live = this.dump();
    if (live.length) this.nat.mapUpdateBatch(this.fd, live.map((e) => e.key), live.map(() => FREE));
    return live.length;
  }
}
