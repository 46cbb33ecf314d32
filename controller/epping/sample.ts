// What the service hands out: RTT samples and flow events with names and wall-clock time.
import type { EppingProto, FlowReason, FlowRecord, RttRecord } from './layout';

export interface RttSample {
  time: string; // ISO 8601 (ms), reply arrival
  time_us: number; // Unix time in microseconds
  src: string; // the end that sent the timestamped message
  dst: string; // the end that replied: the RTT is box -> dst -> box
  sport: number; // ICMP: echo id
  dport: number;
  proto: EppingProto;
  rtt_us: number;
  min_rtt_us: number; // of this flow direction so far
  srtt_us: number;
  device: string; // the device the reply came in on
  side: string; // its label (config: device name unless mapped, e.g. wan/lan)
  req_device: string; // the device the request came in on; 'local' when the box sent it
  id: number; // the matched identifier: TCP TSval or ICMP echo sequence
}

export interface FlowEvent {
  time: string;
  time_us: number;
  event: 'open' | 'close';
  reason: FlowReason;
  src: string; // direction of the packet that opened or closed the flow
  dst: string;
  sport: number;
  dport: number;
  proto: EppingProto;
  device: string;
  side: string;
}

// Maps ifindex to names and side labels; unknown devices are named 'if<index>'.
export class DeviceNames {
  private names = new Map<number, string>();
  private sides = new Map<string, string>();

  setDevices(devs: Iterable<{ ifindex: number; ifname: string }>): void {
    this.names = new Map([...devs].map((d) => [d.ifindex, d.ifname]));
  }

  setSides(labels: Record<string, string>): void {
    this.sides = new Map(Object.entries(labels));
  }

  name(ifindex: number): string {
    if (ifindex === 0) return 'local';
    return this.names.get(ifindex) ?? `if${ifindex}`;
  }

  side(ifname: string): string {
    return this.sides.get(ifname) ?? ifname;
  }
}

// CLOCK_MONOTONIC (bpf_ktime_get_ns, process.hrtime) to wall time. Re-synced now and then,
// so a stepped wall clock is followed.
export class Clock {
  private offsetNs = 0n;

  constructor() {
    this.sync();
  }

  sync(): void {
    this.offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  }

  nowMonoNs(): bigint {
    return process.hrtime.bigint();
  }

  wallUs(monoNs: bigint): number {
    return Number((monoNs + this.offsetNs) / 1000n);
  }
}

const us = (ns: bigint): number => Number(ns) / 1000;

export function toSample(r: RttRecord, clock: Clock, names: DeviceNames): RttSample {
  const t = clock.wallUs(r.timeNs);
  const device = names.name(r.ifindex);
  return {
    time: new Date(Math.floor(t / 1000)).toISOString(),
    time_us: t,
    src: r.flow.src,
    dst: r.flow.dst,
    sport: r.flow.sport,
    dport: r.flow.dport,
    proto: r.flow.proto,
    rtt_us: us(r.rttNs),
    min_rtt_us: us(r.minRttNs),
    srtt_us: us(r.srttNs),
    device,
    side: names.side(device),
    req_device: names.name(r.reqIfindex),
    id: r.id,
  };
}

export function toFlowEvent(r: FlowRecord, clock: Clock, names: DeviceNames): FlowEvent {
  const t = clock.wallUs(r.timeNs);
  const device = names.name(r.ifindex);
  return {
    time: new Date(Math.floor(t / 1000)).toISOString(),
    time_us: t,
    event: r.event,
    reason: r.reason,
    src: r.flow.src,
    dst: r.flow.dst,
    sport: r.flow.sport,
    dport: r.flow.dport,
    proto: r.flow.proto,
    device,
    side: names.side(device),
  };
}
