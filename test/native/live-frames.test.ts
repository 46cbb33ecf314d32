// BPF_F_TEST_XDP_LIVE_FRAMES: frames generated in the switch namespace, redirected out a
// port and counted by an XDP counter on the far host's veth.
import t from 'tap';
import { BPF_F_TEST_XDP_LIVE_FRAMES, native, XDP_DROP, XDP_REDIRECT } from '../../controller/native';
import { bridgeLab, Lab, pingOk, udp4Frame } from '../lab';
import { catchNative, loadTestObject, readCounter } from './helpers';

const DPORT = 9999;

t.test('live frames through a devmap redirect reach the far host', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const [h1, h2] = topo.hosts;

  // Far-host counter: only our UDP flow is counted (and dropped); ARP/ND pass.
  const counter = loadTestObject('xdp_count', { rodata: { match_proto: 17, match_dport: DPORT, match_verdict: XDP_DROP } });
  const redir = loadTestObject('xdp_redirect');
  t.teardown(() => {
    counter.close();
    redir.close();
  });
  const link = native.inNetns(h2.ns, () => native.xdpLinkCreate(counter.program('xdp_count').fd, h2.ifindex, 0));
  t.teardown(() => native.closeFd(link));
  await pingOk(h1.ns, h2.ip4); // the counter passes ICMP and ARP

  // The kernel resolves a devmap ifindex in the updating thread's netns: update from sw.
  native.inNetns(topo.sw, () => native.devmapSet(redir.map('tx_ports').fd, 0, h2.port.ifindex));
  const frame = udp4Frame({ srcMac: h1.mac, dstMac: h2.mac, src: h1.ip4, dst: h2.ip4, dport: DPORT });
  t.equal(frame.length, 60);

  const prog = redir.program('redirect_devmap').fd;
  // Plain (not live) run first: the verdict only, nothing is sent.
  const dry = native.inNetns(topo.sw, () => native.testRun(prog, { data: frame, ingressIfindex: h1.port.ifindex }));
  t.equal(dry.retval, XDP_REDIRECT);
  t.equal(readCounter(counter.map('counters').fd, 0).packets, 0n, 'a dry run delivers nothing');

  const n = 2000;
  const res = await native.inNetns(topo.sw, () =>
    native.testRunAsync(prog, {
      data: frame,
      repeat: n,
      flags: BPF_F_TEST_XDP_LIVE_FRAMES,
      batchSize: 64,
      ingressIfindex: h1.port.ifindex,
      cpu: 0,
    }),
  );
  t.equal(res.dataOut.length, 0, 'live runs return no frame');
  // the far side's NAPI may lag the generator briefly
  let got = 0n;
  for (let i = 0; i < 50; i++) {
    got = readCounter(counter.map('counters').fd, 0).packets;
    if (got >= BigInt(n)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(got, BigInt(n), `${n} frames delivered and counted`);
  t.equal(readCounter(counter.map('counters').fd, 0).bytes, BigInt(n * 60));

  // Same, with the netns given as an option instead of inNetns.
  const res2 = await native.testRunAsync(prog, {
    data: frame,
    repeat: 100,
    flags: BPF_F_TEST_XDP_LIVE_FRAMES,
    ingressIfindex: h1.port.ifindex,
    netns: topo.sw,
  });
  t.equal(res2.retval, 0);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(readCounter(counter.map('counters').fd, 0).packets, BigInt(n + 100), 'netns option works too');

  // The ingress ifindex only exists inside sw: from the root netns it is refused.
  const bad = await native
    .testRunAsync(prog, { data: frame, ingressIfindex: 999999, flags: BPF_F_TEST_XDP_LIVE_FRAMES })
    .then(() => null, (e: unknown) => e as { code: string });
  t.equal(bad?.code, 'ENODEV', 'unknown ingress device rejects the promise');
  t.equal(catchNative(() => native.testRun(prog, { data: frame, ingressIfindex: 999999 })).code, 'ENODEV');
  await t.rejects(native.testRunAsync(prog, { data: frame, netns: 'no-such-ns' }), { code: 'ENOENT' }, 'bad input rejects');
});

t.test('testRunAsync keeps its own program reference and pins to a CPU', async (t) => {
  const obj = loadTestObject('xdp_redirect');
  const frame = udp4Frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '198.18.0.1', dst: '198.18.0.2', dport: 1 });
  const fd = obj.program('xdp_drop_all').fd;
  const p = native.testRunAsync(fd, { data: frame, repeat: 100000, cpu: 1 % native.numPossibleCpus() });
  obj.close(); // closes fd while the worker runs
  const r = await p;
  t.equal(r.retval, XDP_DROP);
  t.ok(r.durationNs >= 0);
  t.equal(catchNative(() => native.testRun(fd, { data: frame })).code, 'EBADF', 'the original fd is gone');
});
