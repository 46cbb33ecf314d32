// The namespace lab harness itself: presets work, teardown and sweep leave nothing behind.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  checkLabAddress,
  gatewayLab,
  Lab,
  labSubnet,
  MARKER_DIR,
  ping,
  routerLab,
} from '../lab';
import { sweep } from '../lab/sweep';
import { captureInbound } from '../lab/capture';

function netnsList(): string[] {
  return fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : [];
}

t.test('routerLab forwards IPv4 and IPv6', async (t) => {
  const lab = new Lab({ t });
  const r = routerLab(lab);
  t.match(r.hostA, { ip4: '198.18.1.2', gw4: '198.18.1.1', ip6: '2001:2:0:1::2', gw6: '2001:2:0:1::1' });
  t.equal(r.portA.ifindex, lab.ifindex(r.router, 'pa'));
  t.equal(r.hostA.port.ifname, 'pa');
  t.equal((await ping(r.hostA.ns, r.hostB.ip4, { count: 2, interval: 0.05 })).received, 2);
  t.equal((await ping(r.hostB.ns, r.hostA.ip6, { count: 2, interval: 0.05 })).received, 2);
  t.match(lab.exec(r.hostA.ns, ['ethtool', '-k', 'eth0']), /tx-checksumming: off/, 'hosts have TX csum off');
  t.match(lab.exec(r.router, ['ethtool', '-k', 'pa']), /generic-receive-offload: on/, 'GRO on router ports');
});

t.test('a capture stopped right after the traffic holds every frame the interface received', async (t) => {
  const lab = new Lab({ t });
  const r = routerLab(lab);
  const rx = (): number => lab.rxPackets(r.hostB.ns, 'eth0');
  const cap = await captureInbound(lab, r.hostB.ns, 'eth0');
  const before = rx();
  t.equal((await ping(r.hostA.ns, r.hostB.ip4, { count: 20, interval: 0.01 })).received, 20);
  // Counted before the stop: a frame arriving later (an ARP probe) may or may not make it in.
  const received = rx() - before;
  const frames = await cap.stop();
  t.ok(frames.length >= received, `captured ${frames.length} of the ${received} frames eth0 had received when the stop began`);
  t.ok(cap.tally && cap.tally.received >= received && cap.tally.captured === frames.length, `its tally agrees: ${JSON.stringify(cap.tally)}`);
  // IPv4, protocol ICMP, type 8
  const requests = frames.filter((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 1 && f[34] === 8).length;
  t.equal(requests, 20, 'the last echo requests too');
});

t.test('gatewayLab: LAN bridge with two hosts routed to a WAN host', async (t) => {
  const lab = new Lab({ t });
  const g = gatewayLab(lab);
  t.equal(g.lanHosts.length, 2);
  t.equal(g.lanPorts[1].ifname, 'lan2');
  t.equal(g.bridge.ifname, 'br0');
  t.equal(g.bridge.ip4, '198.18.10.1');
  t.equal((await ping(g.lanHosts[0].ns, g.lanHosts[1].ip4, { count: 2, interval: 0.05 })).received, 2, 'bridged');
  t.equal((await ping(g.lanHosts[1].ns, g.wanHost.ip4, { count: 2, interval: 0.05 })).received, 2, 'routed v4');
  t.equal((await ping(g.wanHost.ns, g.lanHosts[0].ip6, { count: 2, interval: 0.05 })).received, 2, 'routed v6');
  t.match(lab.exec(g.gw, ['ip', '-d', 'link', 'show', 'lan1']), /master br0/);
});

t.test('destroy removes namespaces and marker; exec errors carry stderr', (t) => {
  const lab = new Lab();
  const ns = lab.addNamespace('x');
  t.ok(netnsList().includes(ns));
  t.ok(fs.existsSync(path.join(MARKER_DIR, `${lab.prefix}.json`)));
  t.match(lab.prefix, /^ss[0-9a-z]{4}$/);
  t.throws(() => lab.exec(ns, ['ip', 'link', 'set', 'nope0', 'up']), /Cannot find device/);
  t.equal(lab.sh(ns, 'echo hi').trim(), 'hi');
  lab.destroy();
  lab.destroy();
  t.notOk(netnsList().includes(ns), 'namespace gone');
  t.notOk(fs.existsSync(path.join(MARKER_DIR, `${lab.prefix}.json`)), 'marker gone');
  t.throws(() => lab.addNamespace('y'), /destroyed/);
  t.end();
});

t.test('sweep removes labs of dead processes only', (t) => {
  // A lab "owned" by a process that has exited.
  const dead = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
  const prefix = 'sszz' + Math.floor(Math.random() * 1296).toString(36).padStart(2, '0');
  const ns = `${prefix}-left`;
  execFileSync('ip', ['netns', 'add', ns]);
  fs.mkdirSync(MARKER_DIR, { recursive: true });
  fs.writeFileSync(path.join(MARKER_DIR, `${prefix}.json`), JSON.stringify({ pid: dead, prefix, created: 0, namespaces: [ns] }));
  const pinDir = `/sys/fs/bpf/slipstream/${ns}`;
  fs.mkdirSync(pinDir, { recursive: true });

  const live = new Lab({ t });
  const mine = live.addNamespace('keep');
  const removed = sweep();
  t.ok(removed.includes(ns), 'dead lab swept');
  t.notOk(netnsList().includes(ns));
  t.notOk(fs.existsSync(pinDir), 'its pins swept');
  t.ok(netnsList().includes(mine), 'a live lab is kept');
  t.end();
});

t.test('addresses stay in the benchmarking ranges', (t) => {
  t.doesNotThrow(() => checkLabAddress('198.18.0.1/24'));
  t.doesNotThrow(() => checkLabAddress('198.19.255.1/24'));
  t.doesNotThrow(() => checkLabAddress('2001:2::1/64'));
  t.doesNotThrow(() => checkLabAddress('2001:2:0:ff::1/64'));
  t.throws(() => checkLabAddress('10.0.0.1/24'));
  t.throws(() => checkLabAddress('198.20.0.1/24'));
  t.throws(() => checkLabAddress('2001:db8::1/64'));
  t.throws(() => checkLabAddress('2001:2:1::1/64'));
  t.equal(labSubnet(300).v4, '198.19.44.0/24');
  t.equal(labSubnet(10).host6(2), '2001:2:0:a::2');
  t.throws(() => labSubnet(512));
  t.end();
});
