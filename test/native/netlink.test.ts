// The addon's rtnetlink socket with the npm `netlink` package's parsers and formatters.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttrStream, formatMessage, parseMessages, rt } from 'netlink';
import t from 'tap';
import { native, NETLINK_ROUTE, RTNLGRP, type NetlinkSocket } from '../../controller/native';
import { bridgeLab, Lab, runAsync } from '../lab';
import { sleep } from './helpers';

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;

interface LinkEvent {
  type: number;
  seq: number;
  port: number;
  index: number;
  ifname?: string;
  mtu?: number;
}

// A socket plus a parsed event log, and a dump helper that waits for NLMSG_DONE.
class Rtnl {
  readonly events: LinkEvent[] = [];
  overflows = 0;
  datagrams = 0;
  batches = 0;
  readonly errors: Error[] = [];
  readonly sock: NetlinkSocket;
  private seq = 1000;
  private waiters: Array<{ seq: number; resolve: (l: LinkEvent[]) => void; reject: (e: Error) => void; got: LinkEvent[] }> =
    [];

  constructor(opts: { netns?: string; groups?: number[]; rcvbuf?: number }) {
    this.sock = native.netlinkOpen({
      protocol: NETLINK_ROUTE,
      ...opts,
      onMessages: (dgs) => this.onMessages(dgs),
      onOverflow: () => {
        this.overflows++;
      },
      onError: (e) => this.errors.push(e),
    });
  }

  private onMessages(dgs: Buffer[]): void {
    this.batches++;
    for (const dg of dgs) {
      this.datagrams++;
      for (const m of parseMessages(dg)) {
        const w = this.waiters.find((x) => x.seq === m.seq && m.port === this.sock.portId);
        if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) {
          if (w) {
            this.waiters = this.waiters.filter((x) => x !== w);
            if (m.type === NLMSG_ERROR && m.data.readInt32LE(0) !== 0) w.reject(new Error(`errno ${-m.data.readInt32LE(0)}`));
            else w.resolve(w.got);
          }
          continue;
        }
        const parsed = rt.parseMessage(m.type, m.data);
        if (parsed.kind !== 'link') continue;
        const ev: LinkEvent = {
          type: m.type,
          seq: m.seq,
          port: m.port,
          index: parsed.data.index ?? 0,
          ifname: parsed.attrs.ifname,
          mtu: parsed.attrs.mtu,
        };
        if (w) w.got.push(ev);
        else this.events.push(ev);
      }
    }
  }

  dumpLinks(timeoutMs = 10000): Promise<LinkEvent[]> {
    const seq = ++this.seq;
    const body = new AttrStream();
    rt.formatLinkMessage({ kind: 'link', data: {}, attrs: {} }, body);
    const msg = Buffer.concat(formatMessage({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP, seq, port: 0, data: body.bufs }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('dump timed out')), timeoutMs);
      this.waiters.push({
        seq,
        got: [],
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sock.send(msg);
    });
  }

  async waitFor(pred: (e: LinkEvent) => boolean, timeoutMs = 5000): Promise<LinkEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error('event not seen');
      await sleep(20);
    }
  }

  close(): void {
    this.sock.close();
  }
}

t.test('dump links inside a lab namespace and receive RTM_NEWLINK', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const nl = new Rtnl({ netns: topo.sw, groups: [RTNLGRP.LINK] });
  t.teardown(() => nl.close());
  t.ok(nl.sock.fd > 2 && nl.sock.portId > 0, `fd ${nl.sock.fd} port ${nl.sock.portId}`);
  t.not(native.currentNetnsInode(), 0);

  const links = await nl.dumpLinks();
  const byName = new Map(links.map((l) => [l.ifname, l.index]));
  t.same([...byName.keys()].sort(), ['br0', 'lo', 'p1', 'p2'], 'exactly the links of the sw namespace');
  t.equal(byName.get('br0'), topo.bridge.ifindex);
  t.equal(byName.get('p1'), topo.ports[0].ifindex);
  t.ok(links.every((l) => l.type === RTM_NEWLINK && l.seq > 1000));

  lab.exec(topo.sw, ['ip', 'link', 'set', 'p1', 'mtu', '1400']);
  const ev = await nl.waitFor((e) => e.ifname === 'p1' && e.mtu === 1400);
  t.equal(ev.type, RTM_NEWLINK);
  t.equal(ev.index, topo.ports[0].ifindex);
  t.equal(ev.seq, 0, 'a notification, not a dump reply');

  // A host's change is not seen by the sw socket.
  lab.exec(topo.hosts[0].ns, ['ip', 'link', 'set', 'eth0', 'mtu', '1300']);
  lab.exec(topo.sw, ['ip', 'link', 'set', 'p2', 'mtu', '1280']);
  await nl.waitFor((e) => e.ifname === 'p2' && e.mtu === 1280);
  t.notOk(nl.events.some((e) => e.mtu === 1300), 'namespaces stay apart');

  nl.sock.dropMembership(RTNLGRP.LINK);
  const before = nl.events.length;
  lab.exec(topo.sw, ['ip', 'link', 'set', 'p2', 'mtu', '1500']);
  await sleep(200);
  t.equal(nl.events.length, before, 'no events after dropMembership');
  nl.sock.addMembership(RTNLGRP.LINK);
  lab.exec(topo.sw, ['ip', 'link', 'set', 'p2', 'mtu', '1450']);
  await nl.waitFor((e) => e.ifname === 'p2' && e.mtu === 1450);

  nl.close();
  nl.close(); // idempotent
  t.throws(() => nl.sock.send(Buffer.alloc(16)), { code: 'EBADF' });
  t.equal(nl.errors.length, 0);
});

t.test('an event storm overflows a small buffer; the socket survives and re-dumps', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('storm');
  const nl = new Rtnl({ netns: ns, groups: [RTNLGRP.LINK], rcvbuf: 4096 });
  t.teardown(() => nl.close());

  const pairs = 1000;
  const deleted = 50;
  const lines: string[] = [];
  for (let i = 0; i < pairs; i++) lines.push(`link add v${i} type veth peer name w${i}`);
  for (let i = 0; i < pairs; i++) lines.push(`link set v${i} mtu ${1000 + (i % 400)}`);
  for (let i = 0; i < deleted; i++) lines.push(`link del v${i}`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ss-storm-')), 'batch');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  t.teardown(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
  await runAsync(['ip', '-n', ns, '-batch', file], { timeoutMs: 60000 });
  await sleep(200);

  t.ok(nl.overflows >= 1, `overflow reported ${nl.overflows} time(s)`);
  t.ok(nl.events.length > 0, `${nl.events.length} events still received`);
  t.equal(nl.errors.length, 0, 'no socket errors');

  const links = await nl.dumpLinks(20000);
  const expected = 1 + 2 * (pairs - deleted);
  t.equal(links.length, expected, `re-dump on the same socket lists all ${expected} links`);
  t.equal(new Set(links.map((l) => l.index)).size, expected, 'no duplicates');
  t.notOk(links.some((l) => l.ifname === 'v0'), 'deleted links are gone');
  t.ok(links.some((l) => l.ifname === `v${pairs - 1}` && l.mtu === 1000 + ((pairs - 1) % 400)), 'latest state');

  // still receiving notifications afterwards
  lab.exec(ns, ['ip', 'link', 'set', 'lo', 'mtu', '1500']);
  await nl.waitFor((e) => e.ifname === 'lo' && e.mtu === 1500);
});

t.test('netlinkOpen errors', (t) => {
  const cb = { onMessages: () => {}, onOverflow: () => {} };
  t.throws(() => native.netlinkOpen({ protocol: NETLINK_ROUTE, netns: 'no-such-netns-x', ...cb }), { code: 'ENOENT' });
  t.throws(() => native.netlinkOpen({ protocol: 99, ...cb }), { code: 'EINVAL' });
  t.throws(() => native.netlinkOpen({ protocol: NETLINK_ROUTE } as never), { code: 'EINVAL' });
  const s = native.netlinkOpen({ protocol: NETLINK_ROUTE, ...cb });
  t.throws(() => s.addMembership(100000), { code: 'EINVAL' });
  t.throws(() => s.send(Buffer.alloc(3)), { code: 'EINVAL' });
  s.setsockoptInt(1 /* SOL_SOCKET */, 8 /* SO_RCVBUF */, 1 << 20);
  s.close();
  t.end();
});

t.test('a callback that closes its own socket', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('c');
  let calls = 0;
  const s = native.netlinkOpen({
    protocol: NETLINK_ROUTE,
    netns: ns,
    groups: [RTNLGRP.LINK],
    onMessages: () => {
      calls++;
      s.close();
    },
    onOverflow: () => {},
  });
  lab.exec(ns, ['ip', 'link', 'set', 'lo', 'mtu', '1400']);
  lab.exec(ns, ['ip', 'link', 'set', 'lo', 'mtu', '1300']);
  await sleep(200);
  t.equal(calls, 1, 'no delivery after close');
});

t.test('a process exits cleanly with an unref()ed socket that has replies waiting', async (t) => {
  // The poll callback may run while Node tears the environment down, when N-API calls
  // throw: that once aborted the process (SIGABRT, "terminate called ...").
  const addon = path.join(__dirname, '..', '..', 'controller', 'native');
  const script = `
    const { native } = require(${JSON.stringify(addon)});
    const s = native.netlinkOpen({ protocol: 0, onMessages: () => {}, onOverflow: () => {} });
    s.unref();
    const h = Buffer.alloc(20);
    h.writeUInt32LE(20, 0); h.writeUInt16LE(${RTM_GETLINK}, 4); h.writeUInt16LE(${NLM_F_REQUEST | NLM_F_DUMP}, 6); h.writeUInt32LE(1, 8);
    s.send(h);
  `;
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0) {
      t.fail(`exit ${r.status} signal ${r.signal}: ${r.stderr.trim()}`);
      return;
    }
  }
  t.pass('five exits, status 0');
});
