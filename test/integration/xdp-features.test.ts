// XdpFeatureWatcher against the real kernel: a veth's NDO_XMIT follows its PEER's GRO and
// XDP state, the change arrives as a netdev notification in the veth's own namespace, and
// the bit really decides whether bpf_redirect_map delivers (checked with live frames).
import t from 'tap';
import { BPF_F_TEST_XDP_LIVE_FRAMES, native } from '../../controller/native';
import { XdpFeatureWatcher, describeXdpFeatures, type XdpFeatureChange } from '../../controller/model/xdp-features';
import { Lab, udp4Frame } from '../lab';

const XDP_COUNT_OBJ = 'build/bpf/test/xdp_count.bpf.o';

function nextChange(w: XdpFeatureWatcher, pred: (c: XdpFeatureChange) => boolean, what: string, ms = 3000): Promise<XdpFeatureChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.off('change', on);
      reject(new Error(`timed out waiting for: ${what}`));
    }, ms);
    const on = (c: XdpFeatureChange): void => {
      if (!pred(c)) return;
      clearTimeout(timer);
      w.off('change', on);
      resolve(c);
    };
    w.on('change', on);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('veth NDO_XMIT follows the peer, live', async (t) => {
  const lab = new Lab({ t });
  const a = lab.addNamespace('a');
  const b = lab.addNamespace('b');
  const c = lab.addNamespace('c');
  lab.veth(a, 'xa', b, 'xb');
  lab.veth(a, 'xi', c, 'ci');
  // veth() leaves GRO on at both ends; the peer of xa loses it before we look.
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'off']);
  const xa = lab.ifindex(a, 'xa');
  const xi = lab.ifindex(a, 'xi');

  const w = new XdpFeatureWatcher({ netns: a });
  t.teardown(() => w.stop());
  await w.start();
  t.equal(w.supported, true, 'kernel has the netdev family');
  t.same(describeXdpFeatures(w.features(xa)!), ['basic', 'redirect', 'rx-sg'], 'xa: no ndo-xmit while xb has no GRO');
  t.equal(w.canRedirectInto(xa), false);
  t.equal(w.canRedirectInto(xi), true, 'xi: its peer has GRO on');
  t.equal(w.canRedirectInto(1), false, 'lo cannot transmit XDP frames');
  t.equal(w.canRedirectInto(9999), undefined);
  const inA = (JSON.parse(lab.exec(a, ['ip', '-j', 'link', 'show'])) as Array<{ ifindex: number }>).map((l) => l.ifindex);
  t.same([...w.snapshot().keys()].sort((x, y) => x - y), inA.sort((x, y) => x - y), 'exactly the devices of the watched namespace');
  const all: XdpFeatureChange[] = [];
  w.on('change', (c) => all.push(c));

  // The premise, on the kernel: frames redirected into xa reach xb only with NDO_XMIT set.
  const obj = native.openObject('build/bpf/test/xdp_redirect.bpf.o');
  t.teardown(() => obj.close());
  obj.load();
  native.inNetns(a, () => native.devmapSet(obj.map('tx_ports').fd, 0, xa));
  const frame = udp4Frame({ srcMac: lab.mac(c, 'ci'), dstMac: lab.mac(b, 'xb'), src: '198.18.0.1', dst: '198.18.0.2', dport: 9 });
  // Our frames are counted exactly as UDP datagrams to a closed port in b (other traffic,
  // like MLD after a link change, would blur the veth's rx counters).
  lab.addr(b, 'xb', '198.18.0.2/24');
  const udpNoPorts = (): number => {
    const lines = lab.exec(b, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf('NoPorts')]);
  };
  const blast = async (n: number): Promise<number> => {
    const before = udpNoPorts();
    await native.testRunAsync(obj.program('redirect_devmap').fd, {
      data: frame, repeat: n, flags: BPF_F_TEST_XDP_LIVE_FRAMES, ingressIfindex: xi, netns: a,
    });
    let got = 0;
    for (let i = 0; i < 25; i++) {
      got = udpNoPorts() - before;
      if (got >= n) break;
      await sleep(20);
    }
    return got;
  };
  t.equal(await blast(200), 0, 'without ndo-xmit the kernel drops every redirected frame');

  let ch = nextChange(w, (c) => c.ifindex === xa, 'xa gains ndo-xmit');
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'on']);
  let ev = await ch;
  t.same(ev, { ifindex: xa, before: 35n, after: 103n, reason: 'change' }, 'GRO on at the peer: ndo-xmit and ndo-xmit-sg');
  t.equal(w.canRedirectInto(xa), true);
  t.equal(await blast(200), 200, 'with ndo-xmit the frames arrive');

  ch = nextChange(w, (c) => c.ifindex === xa, 'xa loses ndo-xmit');
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'off']);
  ev = await ch;
  t.equal(ev.after, 35n);
  t.equal(w.canRedirectInto(xa), false);

  ch = nextChange(w, (c) => c.ifindex === xa, 'XDP on the peer');
  lab.exec(b, ['ip', 'link', 'set', 'dev', 'xb', 'xdp', 'obj', XDP_COUNT_OBJ, 'sec', 'xdp']);
  ev = await ch;
  t.equal(ev.after, 103n, 'an XDP program on the peer sets ndo-xmit too');
  t.equal(w.canRedirectInto(xa), true);
  ch = nextChange(w, (c) => c.ifindex === xa, 'XDP off the peer');
  lab.exec(b, ['ip', 'link', 'set', 'dev', 'xb', 'xdp', 'off']);
  ev = await ch;
  t.equal(ev.after, 35n);
  t.equal(w.canRedirectInto(xa), false);

  // Trap the lab's veth() works around: GRO switched on while the peer is down does not
  // recompute xa's features, and bringing the peer up does not either.
  lab.exec(b, ['ip', 'link', 'set', 'xb', 'down']);
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'on']);
  lab.exec(b, ['ip', 'link', 'set', 'xb', 'up']);
  await sleep(200);
  t.equal(w.canRedirectInto(xa), false, 'GRO set on a down peer: still no ndo-xmit');
  t.equal(await blast(100), 0, 'and the kernel agrees: dropped');
  ch = nextChange(w, (c) => c.ifindex === xa && c.after === 103n, 'toggle on a running peer');
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'off']);
  lab.exec(b, ['ethtool', '-K', 'xb', 'gro', 'on']);
  await ch;
  t.equal(w.canRedirectInto(xa), true);

  // Devices coming and going: each end of a new veth is announced, then its features.
  lab.exec(a, ['ip', 'link', 'add', 'xn', 'type', 'veth', 'peer', 'name', 'xm']);
  const xn = lab.ifindex(a, 'xn');
  const xm = lab.ifindex(a, 'xm');
  for (let i = 0; i < 50 && !(all.some((c) => c.ifindex === xn && c.reason === 'add') && all.some((c) => c.ifindex === xm && c.after === 35n)); i++) await sleep(20);
  t.ok(all.some((c) => c.ifindex === xn && c.reason === 'add' && c.before === undefined), 'add notification for xn');
  t.ok(all.some((c) => c.ifindex === xm && c.reason === 'add'), 'add notification for xm');
  t.equal(w.features(xn), 35n, 'features set right after the add');
  t.equal(w.canRedirectInto(xn), false, 'a fresh veth (GRO off by default) is no redirect target');
  const gone = nextChange(w, (c) => c.ifindex === xn && c.reason === 'del', 'veth deleted');
  lab.exec(a, ['ip', 'link', 'del', 'xn']);
  t.same(await gone, { ifindex: xn, before: 35n, after: undefined, reason: 'del' });
  t.equal(w.features(xn), undefined);

  // A forced re-dump finds nothing out of date.
  const r = new Promise<{ changes: number }>((res) => w.once('resync', res));
  await w.resync();
  t.equal((await r).changes, 0);
});
