// XDP and tc attachment on lab veths, with real traffic.
import t from 'tap';
import {
  BPF_LINK_TYPE,
  native,
  u32,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
} from '../../controller/native';
import { bridgeLab, Lab, ping, pingOk } from '../lab';
import { catchNative, loadTestObject, readCounter, sleep } from './helpers';

t.test('XDP counter through a bpf_link counts pings', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const [h1, h2] = topo.hosts;
  const obj = loadTestObject('xdp_count', { rodata: { match_proto: 1 } }); // ICMP only
  t.teardown(() => obj.close());
  const prog = obj.program('xdp_count');
  const counters = obj.map('counters').fd;

  const linkFd = native.inNetns(topo.sw, () => native.xdpLinkCreate(prog.fd, h1.port.ifindex, XDP_FLAGS_DRV_MODE));
  t.teardown(() => native.closeFd(linkFd));
  const info = native.linkInfo(linkFd);
  t.match(info, { progId: prog.id, type: BPF_LINK_TYPE.XDP, ifindex: h1.port.ifindex });
  const q = native.inNetns(topo.sw, () => native.xdpQuery(h1.port.ifindex));
  t.match(q, { progId: prog.id, mode: 'native', drvProgId: prog.id });
  t.equal(native.linkFdById(info.id) > 0, true, 'link reachable by id');

  const r = await ping(h1.ns, h2.ip4, { count: 20, interval: 0.01 });
  t.equal(r.received, 20, 'pings pass the program');
  t.equal(readCounter(counters, 0).packets, 20n, 'echo requests from h1 counted on p1 ingress');
  t.ok(readCounter(counters, 1).packets >= 20n, 'all frames seen');

  // closing the link fd detaches (no pin holds it)
  native.closeFd(native.linkFdById(info.id));
  native.linkDetach(linkFd);
  t.equal(native.inNetns(topo.sw, () => native.xdpQuery(h1.port.ifindex)).mode, 'none', 'detached');
  await pingOk(h1.ns, h2.ip4);
});

t.test('link update replaces the program under a ping flood without loss', async (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 2 });
  const [h1, h2] = topo.hosts;
  const a = loadTestObject('xdp_count', { rodata: { match_proto: 1, tag: 1n } });
  const b = loadTestObject('xdp_count', { rodata: { match_proto: 1, tag: 2n } });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const pa = a.program('xdp_count').fd;
  const pb = b.program('xdp_count').fd;
  const linkFd = native.inNetns(topo.sw, () => native.xdpLinkCreate(pa, h1.port.ifindex, 0));
  t.teardown(() => native.closeFd(linkFd));
  await pingOk(h1.ns, h2.ip4);

  const count = 400;
  const flood = ping(h1.ns, h2.ip4, { count, interval: 0.005, timeout: 2 });
  let swaps = 0;
  let current = pa;
  const deadline = Date.now() + 1800;
  while (Date.now() < deadline) {
    const next = current === pa ? pb : pa;
    native.linkUpdate(linkFd, next, current); // BPF_F_REPLACE with the expected old program
    current = next;
    swaps++;
    await sleep(15);
  }
  const r = await flood;
  t.ok(swaps >= 50, `${swaps} atomic swaps`);
  t.equal(r.transmitted, count);
  t.equal(r.received, count, 'no echo lost across swaps');
  const ca = readCounter(a.map('counters').fd, 0).packets;
  const cb = readCounter(b.map('counters').fd, 0).packets;
  t.ok(ca > 0n && cb > 0n, `both programs ran (${ca} + ${cb})`);
  t.equal(ca + cb, BigInt(count + 2), 'every echo request counted exactly once');
  t.equal(native.linkInfo(linkFd).progId, native.progInfo(current).id, 'link runs the last program');

  const stale = current === pa ? pb : pa;
  t.equal(catchNative(() => native.linkUpdate(linkFd, pa, stale)).code, 'EPERM', 'stale expected program refused');
});

t.test('netlink-mode attach with replace, and query modes', (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 1 });
  const ifindex = topo.ports[0].ifindex;
  const a = loadTestObject('xdp_count');
  const b = loadTestObject('xdp_count');
  t.teardown(() => {
    a.close();
    b.close();
  });
  const pa = a.program('xdp_count');
  const pb = b.program('xdp_count');
  native.inNetns(topo.sw, () => {
    t.match(native.xdpQuery(ifindex), { progId: 0, mode: 'none' });
    native.xdpAttach(ifindex, pa.fd, XDP_FLAGS_DRV_MODE);
    t.match(native.xdpQuery(ifindex), { progId: pa.id, mode: 'native', drvProgId: pa.id, skbProgId: 0 });
    native.xdpAttach(ifindex, pb.fd, XDP_FLAGS_DRV_MODE, pa.fd);
    t.match(native.xdpQuery(ifindex), { progId: pb.id, mode: 'native' }, 'replaced');
    const e = catchNative(() => native.xdpAttach(ifindex, pa.fd, XDP_FLAGS_DRV_MODE, pa.fd));
    t.equal(e.code, 'EEXIST', 'replace with a wrong expected program fails');
    t.match(native.xdpQuery(ifindex), { progId: pb.id }, 'and leaves the program in place');
    // the kernel keeps native and generic exclusive ('multi' needs offload, absent on veth)
    t.equal(catchNative(() => native.xdpAttach(ifindex, pa.fd, XDP_FLAGS_SKB_MODE)).code, 'EEXIST');
    native.xdpDetach(ifindex, XDP_FLAGS_DRV_MODE, pb.fd);
    t.match(native.xdpQuery(ifindex), { mode: 'none' });
    native.xdpAttach(ifindex, pa.fd, XDP_FLAGS_SKB_MODE);
    t.match(native.xdpQuery(ifindex), { mode: 'generic', skbProgId: pa.id });
    native.xdpDetach(ifindex, XDP_FLAGS_SKB_MODE);
  });
  t.match(catchNative(() => native.xdpQuery(999999)), { code: 'ENODEV' });
  t.match(catchNative(() => native.xdpAttach(999999, pa.fd, 0)), { code: 'ENODEV' });
  t.match(catchNative(() => native.xdpLinkCreate(pa.fd, 999999, 0)), { code: 'ENODEV' });
  t.match(catchNative(() => native.xdpLinkCreate(99999, 1, 0)), { code: 'EBADF' });
  t.end();
});

for (const mode of ['tcx', 'clsact'] as const) {
  t.test(`tc egress attach/detach (${mode})`, async (t) => {
    const lab = new Lab({ t });
    const topo = bridgeLab(lab, { hosts: 2 });
    const [h1, h2] = topo.hosts;
    const obj = loadTestObject('tc_count');
    t.teardown(() => obj.close());
    const prog = obj.program('tc_count');
    const m = obj.map('tc_packets').fd;
    const read = (): bigint => native.mapLookup(m, u32(0))?.readBigUInt64LE(0) ?? -1n;
    const att = native.inNetns(h1.ns, () => native.tcAttachEgress(h1.ifindex, prog.fd, mode));
    t.equal(att.kind, mode);
    t.equal(att.ifindex, h1.ifindex);
    if (mode === 'tcx') {
      t.ok(att.linkFd > 2);
      t.match(native.linkInfo(att.linkFd), { type: BPF_LINK_TYPE.TCX, ifindex: h1.ifindex, progId: prog.id });
    } else {
      t.equal(att.linkFd, -1);
      t.ok(att.handle > 0 && att.priority > 0, `handle ${att.handle} prio ${att.priority}`);
      t.match(lab.exec(h1.ns, ['tc', 'filter', 'show', 'dev', 'eth0', 'egress']), /tc_count/);
    }
    const r = await ping(h1.ns, h2.ip4, { count: 5, interval: 0.05 });
    t.equal(r.received, 5);
    t.ok(read() >= 5n, `egress counted ${read()}`);
    native.inNetns(h1.ns, () => native.tcDetach(att));
    const after = read();
    await pingOk(h1.ns, h2.ip4);
    t.equal(read(), after, 'detached: no more counting');
    if (mode === 'clsact') t.notMatch(lab.exec(h1.ns, ['tc', 'filter', 'show', 'dev', 'eth0', 'egress']), /tc_count/);
  });
}

t.test('tcAttachEgress auto picks tcx on this kernel; bad inputs', (t) => {
  const lab = new Lab({ t });
  const topo = bridgeLab(lab, { hosts: 1 });
  const obj = loadTestObject('tc_count');
  t.teardown(() => obj.close());
  const att = native.inNetns(topo.sw, () => native.tcAttachEgress(topo.ports[0].ifindex, obj.program('tc_count').fd));
  t.equal(att.kind, 'tcx');
  native.inNetns(topo.sw, () => native.tcDetach(att));
  t.match(catchNative(() => native.tcAttachEgress(999999, obj.program('tc_count').fd, 'clsact')), { code: 'ENODEV' });
  t.match(catchNative(() => native.tcDetach({ kind: 'bogus' } as never)), { code: 'EINVAL' });
  t.end();
});
