// Ring buffer, netns switching, interface lookups, ethtool, sd_notify.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addonPath, native } from '../../controller/native';
import { bridgeLab, Lab, udp4Frame } from '../lab';
import { catchNative, loadTestObject, sleep } from './helpers';

const frame = udp4Frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '198.18.0.1', dst: '198.18.0.2', dport: 7 });

t.test('ring buffer records arrive on the event loop', async (t) => {
  const obj = loadTestObject('ringbuf_emit');
  t.teardown(() => obj.close());
  const prog = obj.program('ringbuf_emit').fd;
  const records: Buffer[] = [];
  const rb = native.ringBufferOpen(obj.map('events').fd, (r) => records.push(r));
  t.teardown(() => rb.close());
  native.testRun(prog, { data: frame, repeat: 5 });
  t.equal(records.length, 0, 'nothing is delivered synchronously');
  for (let i = 0; i < 50 && records.length < 5; i++) await sleep(10);
  t.equal(records.length, 5);
  t.same(
    records.map((r) => r.readUInt32LE(0)),
    [0, 1, 2, 3, 4],
    'sequence numbers in order',
  );
  t.ok(records.every((r) => r.length === 24 && r.readUInt32LE(4) === 60), 'record layout and frame length');
  t.same(records[0].subarray(8, 24), frame.subarray(0, 16), 'frame head copied');

  rb.close();
  rb.close();
  native.testRun(prog, { data: frame, repeat: 3 });
  await sleep(100);
  t.equal(records.length, 5, 'nothing after close');

  // A consumer that closes itself from its callback.
  const seen: number[] = [];
  const rb2 = native.ringBufferOpen(obj.map('events').fd, (r) => {
    seen.push(r.readUInt32LE(0));
    rb2.close();
  });
  await sleep(50);
  t.equal(seen.length, 1, 'the 3 pending records: first delivered, then closed');
  native.testRun(prog, { data: frame, repeat: 2 });
  await sleep(50);
  t.equal(seen.length, 1);

  t.match(catchNative(() => native.ringBufferOpen(obj.map('seq').fd, () => {})), { code: 'EINVAL' }, 'not a ringbuf');
  t.match(catchNative(() => native.ringBufferOpen(99999, () => {})), { code: 'EBADF' });
});

t.test('inNetns switches the calling thread and always restores it', (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 1 });
  const home = native.currentNetnsInode();
  const swInode = Number(execFileSync('stat', ['-L', '-c', '%i', `/var/run/netns/${topo.sw}`], { encoding: 'utf8' }));
  t.equal(native.inNetns(topo.sw, () => native.currentNetnsInode()), swInode, 'inside sw');
  t.equal(native.currentNetnsInode(), home, 'back home');
  t.equal(native.inNetns(topo.sw, () => native.ifNameToIndex('br0')), topo.bridge.ifindex);
  t.equal(native.ifNameToIndex('br0'), 0, 'br0 does not exist at home');
  t.equal(native.ifNameToIndex('a-name-too-long-for-linux'), 0);

  t.throws(
    () =>
      native.inNetns(topo.sw, () => {
        throw new Error('boom');
      }),
    { message: 'boom' },
  );
  t.equal(native.currentNetnsInode(), home, 'restored after a throw');
  const nested = native.inNetns(topo.sw, () => native.inNetns(topo.hosts[0].ns, () => native.ifNameToIndex('eth0')));
  t.equal(nested, topo.hosts[0].ifindex, 'nested');
  t.equal(native.currentNetnsInode(), home);

  t.match(catchNative(() => native.inNetns('no-such-netns', () => 1)), { code: 'ENOENT', errno: 2 });
  t.match(catchNative(() => native.inNetns('../etc', () => 1)), { code: 'EINVAL' });
  t.match(catchNative(() => native.enterNetns('no-such-netns')), { code: 'ENOENT' });

  t.same(
    native.inNetns(topo.sw, () => native.ethtoolDriver('p1')),
    { driver: 'veth', busInfo: '' },
  );
  t.match(catchNative(() => native.ethtoolDriver('nonexistent0')), { code: 'ENODEV' });
  t.equal(native.currentNetnsInode(), home);

  // A namespace deleted while we hold nothing of it: clean ENOENT, no crash.
  const gone = lab.addNamespace('gone');
  execFileSync('ip', ['netns', 'del', gone]);
  t.match(catchNative(() => native.inNetns(gone, () => 1)), { code: 'ENOENT' });
  t.end();
});

t.test('enterNetns moves the process for good (in a child)', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('e');
  const script = `const n=require(${JSON.stringify(addonPath)});n.enterNetns(${JSON.stringify(ns)});` +
    `console.log(JSON.stringify({ino:n.currentNetnsInode(), lo:n.ifNameToIndex('lo')}))`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const ino = Number(execFileSync('stat', ['-L', '-c', '%i', `/var/run/netns/${ns}`], { encoding: 'utf8' }));
  t.same(JSON.parse(out), { ino, lo: 1 });
});

function listen(addr: string): Promise<{ ready: Promise<void>; message: Promise<string> }> {
  const py =
    'import socket,sys\n' +
    'a=sys.argv[1]\n' +
    's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n' +
    "s.bind('\\0'+a[1:] if a.startswith('@') else a)\n" +
    "print('ready',flush=True)\n" +
    's.settimeout(10)\n' +
    "print(s.recv(4096).decode(),end='',flush=True)\n";
  const child = spawn('/usr/bin/python3', ['-c', py, addr], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error('listener exited early')));
  });
  const message = new Promise<string>((resolve) => child.once('exit', () => resolve(out.replace(/^ready\n/, ''))));
  return Promise.resolve({ ready, message });
}

t.test('sdNotify', async (t) => {
  const saved = process.env.NOTIFY_SOCKET;
  t.teardown(() => {
    if (saved === undefined) delete process.env.NOTIFY_SOCKET;
    else process.env.NOTIFY_SOCKET = saved;
  });
  delete process.env.NOTIFY_SOCKET;
  t.equal(native.sdNotify('READY=1'), false, 'unset: false');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sockPath = path.join(dir, 'notify');
  const l1 = await listen(sockPath);
  await l1.ready;
  process.env.NOTIFY_SOCKET = sockPath;
  t.equal(native.sdNotify('READY=1\nSTATUS=accelerating'), true);
  t.equal(await l1.message, 'READY=1\nSTATUS=accelerating', 'path socket');

  const abstract = `@slipstream-test-${process.pid}`;
  const l2 = await listen(abstract);
  await l2.ready;
  process.env.NOTIFY_SOCKET = abstract;
  t.equal(native.sdNotify('WATCHDOG=1'), true);
  t.equal(await l2.message, 'WATCHDOG=1', 'abstract socket');

  process.env.NOTIFY_SOCKET = path.join(dir, 'nobody-listens');
  t.match(catchNative(() => native.sdNotify('READY=1')), { code: 'ENOENT' });
  process.env.NOTIFY_SOCKET = 'relative/path';
  t.match(catchNative(() => native.sdNotify('READY=1')), { code: 'EINVAL' });
});
