// The netdev generic-netlink XDP feature watcher on messages recorded from a lab namespace
// (kernel 6.18: lo=1, a veth va=2 whose peer had GRO off, a tap tp0=3; then a second veth
// vc=4 added, the peer of va toggled GRO on and off, vc deleted) and crafted ones. The
// socket is a fake: these tests cover the bookkeeping, test/integration covers the kernel.
import t, { type Test } from 'tap';
import {
  XdpFeatureWatcher, XDP_ACT, describeXdpFeatures, devGetDumpRequest, getFamilyRequest, parseDevMessage,
  parseFamilyReply, splitDatagram, type XdpFeatureChange,
} from '../../controller/model/xdp-features';
import type { NativeAddon, NetlinkSocket, NetlinkSocketOptions } from '../../controller/native/types';

const REC = {
  // CTRL_CMD_NEWFAMILY for "netdev": id 20, groups mgmt=4, page-pool=5.
  family:
    '1c0100001000000001000000aa440000010200000b0002006e657464657600000600010014000000080003000100000008000400000000000800050000000000a4000600140001000800010001000000080002000e000000140002000800010005000000080002000e00000014000300080001000a000000080002000e00000014000400080001000b000000080002000e00000014000500080001000c000000080002000c00000014000600080001000d000000080002000b00000014000700080001000e000000080002000b00000014000800080001000f000000080002000a00000038000700180001000800020004000000090001006d676d74000000001c00020008000200050000000e000100706167652d706f6f6c000000',
  // DEV_GET dump: lo=0, va=35 (basic, redirect, rx-sg), tp0=7 (basic, redirect, ndo-xmit), then NLMSG_DONE.
  dump:
    '400000001400000002000000aa4400000101000008000100010000000c00030000000000000000000c00050000000000000000000c0006000000000000000000400000001400000002000000aa4400000101000008000100020000000c00030023000000000000000c00050007000000000000000c0006000000000000000000400000001400000002000000aa4400000101000008000100030000000c00030007000000000000000c00050000000000000000000c0006000000000000000000140000000300020002000000aa44000000000000',
  addVc: '400000001400000000000000000000000201000008000100040000000c00030000000000000000000c00050007000000000000000c0006000000000000000000',
  changeVc35: '400000001400000000000000000000000401000008000100040000000c00030023000000000000000c00050007000000000000000c0006000000000000000000',
  changeVa103: '400000001400000000000000000000000401000008000100020000000c00030067000000000000000c00050007000000000000000c0006000000000000000000',
  changeVa35: '400000001400000000000000000000000401000008000100020000000c00030023000000000000000c00050007000000000000000c0006000000000000000000',
  delVc: '400000001400000000000000000000000301000008000100040000000c00030023000000000000000c00050007000000000000000c0006000000000000000000',
};

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

// Every message of a recorded datagram with its sequence number replaced.
function withSeq(h: string, seq: number): Buffer {
  const d = hex(h);
  let off = 0;
  while (off + 16 <= d.length) {
    d.writeUInt32LE(seq, off + 8);
    off += (d.readUInt32LE(off) + 3) & ~3;
  }
  return d;
}

function nlError(seq: number, errno: number): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  return b;
}

// A single-device DEV_GET message with a 4-byte features attribute (the kernel's "uint" may shrink).
function devMsg(cmd: number, ifindex: number, features?: number): Buffer {
  const attrs = [Buffer.from([8, 0, 1, 0, 0, 0, 0, 0])];
  attrs[0].writeUInt32LE(ifindex, 4);
  if (features !== undefined) {
    const f = Buffer.from([8, 0, 3, 0x80, 0, 0, 0, 0]); // with NLA_F_NESTED set: must be masked off
    f.writeUInt32LE(features, 4);
    attrs.push(f);
  }
  const body = Buffer.concat([Buffer.from([cmd, 1, 0, 0]), ...attrs]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(20, 4);
  return Buffer.concat([h, body]);
}

class FakeSocket implements NetlinkSocket {
  readonly fd = 99;
  readonly portId = 1234;
  sent: Buffer[] = [];
  closed = false;
  constructor(readonly opts: NetlinkSocketOptions) {}
  send(msg: Buffer): void {
    if (this.closed) throw new Error('closed');
    this.sent.push(Buffer.from(msg));
  }
  addMembership(): void {}
  dropMembership(): void {}
  setsockoptInt(): void {}
  close(): void {
    this.closed = true;
  }
  ref(): void {}
  unref(): void {}
  lastSeq(): number {
    const m = this.sent[this.sent.length - 1];
    if (!m) throw new Error('nothing sent');
    return m.readUInt32LE(8);
  }
  deliver(...d: Buffer[]): void {
    this.opts.onMessages(d);
  }
}

function fakeNative(): { native: NativeAddon; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const native = {
    netlinkOpen(opts: NetlinkSocketOptions): NetlinkSocket {
      const s = new FakeSocket(opts);
      sockets.push(s);
      return s;
    },
  } as unknown as NativeAddon;
  return { native, sockets };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('describeXdpFeatures uses the kernel names', async (t) => {
  t.same(describeXdpFeatures(103n), ['basic', 'redirect', 'ndo-xmit', 'rx-sg', 'ndo-xmit-sg']);
  t.same(describeXdpFeatures(35), ['basic', 'redirect', 'rx-sg']);
  t.same(describeXdpFeatures(0n), []);
  t.same(describeXdpFeatures(XDP_ACT.XSK_ZEROCOPY | XDP_ACT.HW_OFFLOAD | (1n << 9n)), ['xsk-zerocopy', 'hw-offload', 'bit9']);
});

t.test('request building', async (t) => {
  // nlmsghdr(len 32, GENL_ID_CTRL, REQUEST, seq 7) + genl(GETFAMILY v1) + FAMILY_NAME "netdev\0" padded.
  t.equal(getFamilyRequest('netdev', 7).toString('hex'), '20000000100001000700000000000000030100000b0002006e65746465760000');
  // nlmsghdr(len 20, family 20, REQUEST|DUMP, seq 9) + genl(DEV_GET v1), no attributes.
  t.equal(devGetDumpRequest(20, 9).toString('hex'), '14000000140001030900000000000000' + '01010000');
  t.equal(getFamilyRequest('x', 0xffffffff).readUInt32LE(8), 0xffffffff);
});

t.test('family reply parsing (recorded)', async (t) => {
  const [m] = splitDatagram(hex(REC.family));
  const f = parseFamilyReply(m.payload);
  t.equal(f.id, 20);
  t.equal(f.name, 'netdev');
  t.same([...f.groups], [['mgmt', 4], ['page-pool', 5]]);
  t.throws(() => parseFamilyReply(Buffer.from([1, 2])), /shorter/);
  t.throws(() => parseFamilyReply(Buffer.from([1, 2, 0, 0])), /no family id/);
  t.throws(() => parseFamilyReply(Buffer.from([3, 2, 0, 0])), /unexpected nlctrl command 3/);
});

t.test('device message parsing (recorded and crafted)', async (t) => {
  const msgs = splitDatagram(hex(REC.dump));
  t.equal(msgs.length, 4);
  t.equal(msgs[3].type, 3, 'ends with NLMSG_DONE');
  t.same(msgs.slice(0, 3).map((m) => parseDevMessage(m.payload)), [
    { cmd: 1, ifindex: 1, xdpFeatures: 0n },
    { cmd: 1, ifindex: 2, xdpFeatures: 35n },
    { cmd: 1, ifindex: 3, xdpFeatures: 7n },
  ]);
  const ntf = (h: string) => parseDevMessage(splitDatagram(hex(h))[0].payload);
  t.same(ntf(REC.addVc), { cmd: 2, ifindex: 4, xdpFeatures: 0n });
  t.same(ntf(REC.changeVa103), { cmd: 4, ifindex: 2, xdpFeatures: 103n });
  t.same(ntf(REC.delVc), { cmd: 3, ifindex: 4, xdpFeatures: 35n });
  t.same(parseDevMessage(devMsg(4, 7, 0x45).subarray(16)), { cmd: 4, ifindex: 7, xdpFeatures: 0x45n }, 'u32-sized features, flag bits in the type masked');
  t.same(parseDevMessage(devMsg(2, 8).subarray(16)), { cmd: 2, ifindex: 8, xdpFeatures: undefined });
  t.equal(parseDevMessage(Buffer.from([6, 1, 0, 0])), null, 'page-pool notification ignored');
  t.throws(() => parseDevMessage(Buffer.from([4, 1, 0, 0])), /without an ifindex/);
  t.throws(() => parseDevMessage(Buffer.from([4])), /shorter/);
  // A truncated attribute stops parsing instead of reading past the end.
  const cut = devMsg(4, 9, 4).subarray(16);
  t.same(parseDevMessage(cut.subarray(0, cut.length - 2)), { cmd: 4, ifindex: 9, xdpFeatures: undefined });
});

// Starts a watcher over fake sockets; `duringDump` runs after the dump request went out.
async function started(t: Test, duringDump?: (ev: FakeSocket) => void): Promise<{ w: XdpFeatureWatcher; req: FakeSocket; ev: FakeSocket; changes: XdpFeatureChange[] }> {
  const { native, sockets } = fakeNative();
  const w = new XdpFeatureWatcher({ native, netns: undefined });
  const p = w.start();
  const req = sockets[0];
  t.equal(req.opts.protocol, 16);
  t.equal(req.sent[0].readUInt16LE(4), 0x10, 'family lookup goes to nlctrl');
  req.deliver(withSeq(REC.family, req.lastSeq()));
  await tick();
  const ev = sockets[1];
  t.same(ev.opts.groups, [4], 'joined mgmt');
  t.equal(req.sent.length, 2);
  t.equal(req.sent[1].readUInt16LE(4), 20, 'dump goes to the netdev family');
  t.equal(req.sent[1].readUInt16LE(6), 0x301);
  duringDump?.(ev);
  req.deliver(withSeq(REC.dump, req.lastSeq()));
  await p;
  const changes: XdpFeatureChange[] = [];
  w.on('change', (c) => changes.push(c));
  return { w, req, ev, changes };
}

t.test('watcher: dump, events held during the dump, live changes', async (t) => {
  const { w, ev, changes } = await started(t, (ev) => ev.deliver(hex(REC.changeVa103)));
  t.equal(w.supported, true);
  t.equal(w.features(2), 103n, 'event received during the dump replayed over it');
  t.equal(w.canRedirectInto(2), true);
  t.equal(w.canRedirectInto(3), true, 'tap has ndo-xmit');
  t.equal(w.canRedirectInto(1), false, 'lo has nothing');
  t.equal(w.canRedirectInto(42), undefined);
  t.equal(changes.length, 0, 'no events for the initial state');

  ev.deliver(hex(REC.changeVa35));
  t.equal(w.canRedirectInto(2), false);
  ev.deliver(hex(REC.addVc), hex(REC.changeVc35));
  ev.deliver(hex(REC.changeVc35)); // repeat: no event
  ev.deliver(hex(REC.delVc));
  t.equal(w.features(4), undefined);
  t.same(changes, [
    { ifindex: 2, before: 103n, after: 35n, reason: 'change' },
    { ifindex: 4, before: undefined, after: 0n, reason: 'add' },
    { ifindex: 4, before: 0n, after: 35n, reason: 'change' },
    { ifindex: 4, before: 35n, after: undefined, reason: 'del' },
  ]);
  // Foreign message types (another family id, NLMSG_ERROR) are ignored.
  ev.deliver(withSeq(REC.family, 0), nlError(0, 1));
  t.equal(changes.length, 4);
  t.same([...w.snapshot()], [[1, 0n], [2, 35n], [3, 7n]]);
  w.stop();
  t.equal(w.supported, false);
  t.equal(w.features(2), undefined);
  t.equal(w.canRedirectInto(2), undefined);
});

t.test('watcher: ENOBUFS drops queued events and re-dumps', async (t) => {
  const { w, req, ev, changes } = await started(t);
  t.equal(w.features(2), 35n);
  const resync = new Promise<{ changes: number }>((r) => w.once('resync', r));
  // The kernel reports the overflow before older queued messages: they must not apply.
  ev.opts.onOverflow();
  ev.deliver(hex(REC.changeVa103));
  t.equal(w.features(2), 35n, 'stale event after ENOBUFS discarded');
  await tick();
  t.equal(req.sent.length, 3, 're-dump requested');
  const seq = req.lastSeq();
  // An event during the re-dump is held and replayed: vc appears.
  ev.deliver(hex(REC.addVc));
  // Re-dump: lo, va with ndo-xmit now, tp0 gone.
  const fresh = Buffer.concat([
    withSeq(REC.dump, seq).subarray(0, 64),
    devMsg(1, 2, 103),
    withSeq(REC.dump, seq).subarray(192),
  ]);
  fresh.writeUInt32LE(seq, 64 + 8);
  req.deliver(fresh);
  const r = await resync;
  t.equal(r.changes, 3);
  t.same(changes, [
    { ifindex: 2, before: 35n, after: 103n, reason: 'resync' },
    { ifindex: 3, before: 7n, after: undefined, reason: 'resync' },
    { ifindex: 4, before: undefined, after: 0n, reason: 'resync' },
  ]);
  t.equal(w.canRedirectInto(2), true);
  t.equal(w.canRedirectInto(3), undefined);
  ev.deliver(hex(REC.changeVc35));
  t.same(changes[3], { ifindex: 4, before: 0n, after: 35n, reason: 'change' }, 'live again after the re-dump');
  w.stop();
});

t.test('watcher: a failed re-dump keeps state and reports an error', async (t) => {
  const { w, req, ev } = await started(t);
  const errors: Error[] = [];
  w.on('error', (e) => errors.push(e));
  ev.opts.onOverflow();
  await tick();
  ev.deliver(hex(REC.changeVa103));
  req.deliver(nlError(req.lastSeq(), 16));
  await tick();
  t.match(errors[0]?.message, /re-dump failed: netdev device dump failed: errno 16/);
  t.equal(w.features(2), 103n, 'events held during the failed dump still applied');
  w.stop();
});

t.test('watcher: kernel without the netdev family', async (t) => {
  const { native, sockets } = fakeNative();
  const w = new XdpFeatureWatcher({ native });
  const p = w.start();
  sockets[0].deliver(nlError(sockets[0].lastSeq(), 2));
  await p;
  t.equal(w.supported, false);
  t.equal(w.canRedirectInto(1), undefined);
  t.equal(sockets.length, 1, 'no event socket');
  t.ok(sockets[0].closed, 'request socket closed');
  await t.rejects(w.start(), /already started/);
});

t.test('watcher: other lookup errors reject start and close the sockets', async (t) => {
  const { native, sockets } = fakeNative();
  const w = new XdpFeatureWatcher({ native });
  const p = w.start();
  sockets[0].deliver(nlError(sockets[0].lastSeq(), 1));
  await t.rejects(p, /netdev family lookup failed: errno 1/);
  t.ok(sockets[0].closed);
  t.equal(w.supported, false);
});

t.test('watcher: no reply times out', async (t) => {
  const { native, sockets } = fakeNative();
  const w = new XdpFeatureWatcher({ native, requestTimeoutMs: 20 });
  await t.rejects(w.start(), /no reply from the kernel/);
  t.ok(sockets[0].closed);
});

t.test('watcher: stop during start rejects', async (t) => {
  const { native, sockets } = fakeNative();
  const w = new XdpFeatureWatcher({ native });
  const p = w.start();
  sockets[0].deliver(withSeq(REC.family, sockets[0].lastSeq()));
  await tick();
  w.stop();
  await t.rejects(p, /socket closed|stopped/);
  t.ok(sockets.every((s) => s.closed));
});

t.test('watcher: unknown netns', async (t) => {
  const { native } = fakeNative();
  const w = new XdpFeatureWatcher({ native, netns: 'no-such-ns-xdpf' });
  await t.rejects(w.start(), /network namespace no-such-ns-xdpf not found/);
});
