// Dump requests over a native netlink socket we own. Messages are handed to the caller as
// they arrive (no buffering of a 100k-route dump), one request at a time per socket.
import type { NetlinkSocket } from '../native/types';
import {
  AF_BRIDGE, AF_INET, AF_INET6, AF_UNSPEC, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR, RTM,
  splitMessages, type RawMessage,
} from './decode';

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;

export interface DumpRequest {
  type: number;
  header: Buffer; // the family header (ifinfomsg, rtmsg, tcmsg, ...)
  label: string;
  single?: boolean; // a plain request (NLM_F_ACK), answered by one reply and an ack, not a dump
}

function header(size: number, family: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = family;
  return b;
}

export function tcHeader(ifindex: number, parent: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(parent >>> 0, 12);
  return b;
}

// Everything the model holds, in an order where names resolve (links first).
export function fullDumpRequests(): DumpRequest[] {
  return [
    { type: RTM.GETLINK, header: header(16, AF_UNSPEC), label: 'links' },
    { type: RTM.GETLINK, header: header(16, AF_BRIDGE), label: 'bridge ports' },
    { type: RTM.GETADDR, header: header(8, AF_UNSPEC), label: 'addresses' },
    { type: RTM.GETROUTE, header: header(12, AF_INET), label: 'IPv4 routes' },
    { type: RTM.GETROUTE, header: header(12, AF_INET6), label: 'IPv6 routes' },
    { type: RTM.GETRULE, header: header(12, AF_INET), label: 'IPv4 rules' },
    { type: RTM.GETRULE, header: header(12, AF_INET6), label: 'IPv6 rules' },
    { type: RTM.GETNEXTHOP, header: header(8, AF_UNSPEC), label: 'nexthops' },
    { type: RTM.GETNEIGH, header: header(12, AF_UNSPEC), label: 'neighbours' },
    { type: RTM.GETNEIGH, header: header(12, AF_BRIDGE), label: 'fdb' },
    { type: RTM.GETQDISC, header: header(20, AF_UNSPEC), label: 'qdiscs' },
  ];
}

export function routeDumpRequest(family: 4 | 6): DumpRequest {
  return { type: RTM.GETROUTE, header: header(12, family === 4 ? AF_INET : AF_INET6), label: `IPv${family} routes` };
}

export function filterDumpRequest(ifindex: number, parent: number): DumpRequest {
  return { type: RTM.GETTFILTER, header: tcHeader(ifindex, parent), label: `filters of ${ifindex}` };
}

export class DumpError extends Error {
  constructor(message: string, readonly errno: number) {
    super(message);
  }
}

// Fast path: called with the message's place in the datagram instead of a RawMessage;
// return false to get the RawMessage call after all.
export type RawHook = (dgram: Buffer, payloadStart: number, payloadEnd: number, type: number) => boolean;

interface Pending {
  seq: number;
  req: DumpRequest;
  onMessage: (m: RawMessage) => void;
  raw?: RawHook;
  resolve: (interrupted: boolean) => void;
  reject: (e: Error) => void;
  interrupted: boolean;
}

// Owns the request side of a socket: feed it the socket's datagrams and overflows.
export class Dumper {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private current: Pending | null = null;
  private queue: Array<() => void> = [];
  private sock: NetlinkSocket | null = null;

  attach(sock: NetlinkSocket): void {
    this.sock = sock;
  }

  onDatagrams(datagrams: Buffer[]): void {
    const msgs: RawMessage[] = [];
    for (const d of datagrams) {
      const p = this.current;
      if (p?.raw) this.rawWalk(d, p, msgs);
      else splitMessages(d, msgs);
    }
    this.deliver(msgs);
  }

  // Messages of the running dump go to the raw hook; anything else (DONE, ERROR, other
  // sequence numbers, messages the hook declines) is collected for deliver().
  private rawWalk(d: Buffer, p: Pending, out: RawMessage[]): void {
    let off = 0;
    while (off + 16 <= d.length) {
      const len = d.readUInt32LE(off);
      if (len < 16 || off + len > d.length) break;
      const type = d.readUInt16LE(off + 4);
      const flags = d.readUInt16LE(off + 6);
      const seq = d.readUInt32LE(off + 8);
      let handled = false;
      if (seq === p.seq && type > NLMSG_OVERRUN && this.current === p) {
        if (flags & NLM_F_DUMP_INTR) p.interrupted = true;
        try {
          handled = p.raw!(d, off + 16, off + len, type);
        } catch (e) {
          this.finish(e as Error, false);
          return;
        }
      }
      if (!handled) out.push({ type, flags, seq, pid: d.readUInt32LE(off + 12), payload: d.subarray(off + 16, off + len) });
      off += (len + 3) & ~3;
    }
  }

  private deliver(msgs: RawMessage[]): void {
    for (const m of msgs) {
      const p = this.current;
      if (!p || m.seq !== p.seq) continue; // stale reply of an aborted dump
      if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) continue;
      if (m.type === NLMSG_DONE) {
        this.finish(null, p.interrupted || (m.flags & NLM_F_DUMP_INTR) !== 0);
        continue;
      }
      if (m.type === NLMSG_ERROR) {
        const code = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
        if (code === 0) {
          if (p.req.single) this.finish(null, false);
          continue;
        }
        this.finish(new DumpError(`netlink dump of ${p.req.label} failed: errno ${code}`, code), false);
        continue;
      }
      if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      try {
        p.onMessage(m);
      } catch (e) {
        this.finish(e as Error, false);
      }
    }
  }

  // A dump reply was lost: fail the running dump; the caller retries.
  onOverflow(): void {
    if (this.current) this.finish(new DumpError(`netlink dump of ${this.current.req.label} overflowed`, 105), false);
  }

  abortAll(reason: string): void {
    if (this.current) this.finish(new Error(reason), false);
    const q = this.queue;
    this.queue = [];
    for (const start of q) start();
  }

  // Resolves with true when the kernel flagged the dump as interrupted (inconsistent).
  dump(req: DumpRequest, onMessage: (m: RawMessage) => void, raw?: RawHook): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const start = (): void => {
        if (!this.sock) {
          reject(new Error('dump socket is closed'));
          this.next();
          return;
        }
        this.seq = (this.seq + 1) >>> 0 || 1;
        const p: Pending = { seq: this.seq, req, onMessage, raw, resolve, reject, interrupted: false };
        this.current = p;
        const hdr = Buffer.alloc(16);
        hdr.writeUInt32LE(16 + req.header.length, 0);
        hdr.writeUInt16LE(req.type, 4);
        hdr.writeUInt16LE(NLM_F_REQUEST | (req.single ? NLM_F_ACK : NLM_F_DUMP), 6);
        hdr.writeUInt32LE(p.seq, 8);
        try {
          this.sock.send(Buffer.concat([hdr, req.header]));
        } catch (e) {
          this.finish(e as Error, false);
        }
      };
      if (this.current) this.queue.push(start);
      else start();
    });
  }

  detach(): void {
    this.sock = null;
    this.abortAll('dump socket closed');
  }

  private finish(err: Error | null, interrupted: boolean): void {
    const p = this.current;
    this.current = null;
    if (p) {
      if (err) p.reject(err);
      else p.resolve(interrupted);
    }
    this.next();
  }

  private next(): void {
    if (this.current) return;
    const start = this.queue.shift();
    if (start) start();
  }
}
