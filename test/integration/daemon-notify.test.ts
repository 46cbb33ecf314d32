// systemd's notify protocol, as the unit (Type=notify, WatchdogSec) uses it: READY=1 only once
// the first generation is live, WATCHDOG=1 within every half period, STOPPING=1 on SIGTERM.
// Node has no unix datagram sockets, so a python3 child plays systemd's side.
import t from 'tap';
import { eachLine } from '../../controller/util/lines';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Lab, bridgeLab } from '../lab';
import { startDaemon, type DaemonHandle, type LogLine } from '../harness/daemon';

interface Notice {
  t: number; // ms since the epoch, when the listener got it
  msg: string;
}

const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"t": time.time() * 1000, "msg": data.decode("utf-8", "replace")}), flush=True)
`;

interface Listener {
  socket: string;
  notices: Notice[];
  waitFor(pred: (n: Notice) => boolean, timeoutMs: number): Promise<Notice>;
}

async function notifyListener(t: { teardown(fn: () => unknown): void }): Promise<Listener> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-notify-'));
  const sock = path.join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', LISTENER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const notices: Notice[] = [];
  let ready: () => void = () => undefined;
  const listening = new Promise<void>((r) => (ready = r));
  eachLine(child.stdout!, (line) => {
    if (line === 'listening') ready();
    else notices.push(JSON.parse(line) as Notice);
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await Promise.race([
    listening,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`python3 listener did not start: ${stderr}`)), 5000)),
  ]);
  return {
    socket: sock,
    notices,
    async waitFor(pred, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = notices.find(pred);
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`no such notification within ${timeoutMs} ms; got ${JSON.stringify(notices.map((n) => n.msg))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const logTime = (l: LogLine): number => Date.parse(String(l.time));
const has = (n: Notice, kv: string): boolean => n.msg.split('\n').includes(kv);

t.test('READY, WATCHDOG and STOPPING', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const l = await notifyListener(t);
  delete process.env.WATCHDOG_PID;
  let d: DaemonHandle | null = await startDaemon({ netns: topo.sw, env: { NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '2000000' } });
  t.teardown(() => d?.stop());

  const ready = await l.waitFor((n) => has(n, 'READY=1'), 5000);
  t.match(ready.msg, /STATUS=slipstream running/, 'READY=1 comes with a STATUS line');
  t.equal(l.notices.filter((n) => has(n, 'READY=1')).length, 1, 'READY=1 once');
  t.equal(l.notices.indexOf(ready), 0, 'nothing before READY=1');

  // Every device of the first plan went live before systemd was told.
  const readyLog = d.logs.find((x) => x.msg === 'ready')!;
  const planned = (readyLog.pipelines as string[]).map((p) => p.split(':')[0]).sort();
  t.same(planned, topo.ports.map((p) => p.ifname).sort(), 'the first plan covers every bridge port');
  for (const dev of planned) {
    const live = d.logs.find((x) => x.msg === 'generation live' && x.device === dev);
    t.ok(live, `${dev}: a generation went live`);
    if (live) t.ok(logTime(live) <= ready.t + 1, `${dev}: live at ${String(live.time)}, before READY=1 (${new Date(ready.t).toISOString()})`);
  }
  const xdp = JSON.parse(lab.exec(topo.sw, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string; xdp?: unknown }>;
  for (const dev of planned) t.ok(xdp.find((x) => x.ifname === dev)?.xdp, `${dev} has its XDP program attached`);

  // WATCHDOG_USEC=2 s: a keep-alive at least every second.
  await l.waitFor((n) => l.notices.filter((x) => has(x, 'WATCHDOG=1')).length >= 2 && has(n, 'WATCHDOG=1'), 5000);
  await new Promise((r) => setTimeout(r, 1200));
  const wd = l.notices.filter((n) => has(n, 'WATCHDOG=1'));
  t.ok(wd.length >= 2, `${wd.length} WATCHDOG=1 notifications`);
  t.ok(wd[0].t >= ready.t, 'the first WATCHDOG=1 follows READY=1');
  const gaps = wd.slice(1).map((n, i) => n.t - wd[i].t);
  t.ok(gaps.every((g) => g < 2000), `every gap within the 2 s watchdog period: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
  t.ok(gaps.every((g) => g > 500), 'about half the period apart, not a busy loop');

  const code = await d.stop('SIGTERM');
  d = null;
  t.equal(code, 0, 'exit 0 on SIGTERM');
  const stopping = await l.waitFor((n) => has(n, 'STOPPING=1'), 3000);
  const after = l.notices.filter((n) => n.t > stopping.t && has(n, 'WATCHDOG=1'));
  t.equal(after.length, 0, 'no WATCHDOG=1 after STOPPING=1');
});

t.test('WATCHDOG_PID of another process: no keep-alives from this one', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 1 });
  const l = await notifyListener(t);
  const d = await startDaemon({ netns: topo.sw, env: { NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '400000', WATCHDOG_PID: '1' } });
  t.teardown(() => d.stop());
  await l.waitFor((n) => has(n, 'READY=1'), 5000);
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(l.notices.filter((n) => has(n, 'WATCHDOG=1')).length, 0, 'the watchdog belongs to pid 1, so none sent');
  t.equal(await d.stop(), 0);
});

// sd_notify(3) failures are not fatal for a daemon. Today run.ts lets the sdNotify exception
// escape runDaemon after start-up: `run` returns 1 with the API and pipelines still up and no
// signal handlers, so SIGTERM kills it without detaching. Fix: wrap sdNotify in run.ts.
t.test('an unreachable NOTIFY_SOCKET does not stop the daemon', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const d = await startDaemon({ netns: topo.sw, env: { NOTIFY_SOCKET: path.join(dir, 'nobody-listens.sock'), WATCHDOG_USEC: '1000000' } });
  t.teardown(() => d.stop());
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await d.get<{ pipelines: unknown[] }>('/v1/pipelines')).pipelines.length, 2, 'still serving its pipelines');
  t.equal(await d.stop('SIGTERM'), 0, 'a clean stop on SIGTERM');
  const xdp = JSON.parse(lab.exec(topo.sw, ['ip', '-j', 'link', 'show'])) as Array<{ ifname: string; xdp?: unknown }>;
  t.notOk(xdp.some((x) => x.xdp), 'programs detached');
});
