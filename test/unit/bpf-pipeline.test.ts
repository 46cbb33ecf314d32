// The real FPM objects (parse, l2-bridge, l3-router, nop, root) loaded into fresh chains
// with shared maps, driven frame by frame through BPF_PROG_TEST_RUN inside a lab namespace
// whose routes and neighbours bpf_fib_lookup really consults. Each case checks the verdict
// and that exactly one counter moved: the expected one.
import t, { type Test } from 'tap';
import { DataPathLab, FOLDED, MAC, type ChainName } from './bpf-datapath-lab';
import type { XfrmPolicy } from '../../controller/model/types';
import {
  ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, arpRequest, eth, ext6, frag6, icmpEcho, ipv4, ipv4HeaderChecksum, ipv6, mac, udp, vlanTag,
} from './bpf-frames';
import { localV4Bit } from '../../controller/deployer/local-addrs';
import { nhBit, usedNextHops } from '../../controller/deployer/neigh-refresh';
import {
  SS_DEV_BRIDGE, SS_DEV_ISOLATED, SS_DEV_L3, SS_DEV_NF_OUT4, SS_DEV_NF_OUT6, SS_DEV_PORT_FWD, SS_DEV_QDISC, SS_DEV_TX, SS_DEV_UP, SS_FDB_LOCAL, SS_FDB_STATIC,
  decodeFdbValue,
} from '../../controller/deployer/layout';

const XDP_PASS = 2;
const XDP_REDIRECT = 4;

const lab = new DataPathLab(t);
const X = lab.ifx;

// Frames from h1 (behind p1) to h2 (behind p2), and from h1 to the router.
const v4 = (dst: string, o: Partial<Parameters<typeof ipv4>[0]> = {}, payload = udp(40000, 5201)) =>
  ipv4({ src: '198.18.0.3', dst, ...o }, payload);
const v6 = (dst: string, o: Partial<Parameters<typeof ipv6>[0]> = {}, payload = udp(40000, 5201)) =>
  ipv6({ src: '2001:2::3', dst, ...o }, payload);
const bridged4 = (o: Partial<Parameters<typeof ipv4>[0]> = {}) => eth(MAC.h2, MAC.h1, ETH_P_IP, v4('198.18.0.2', o));
const routed4 = (dst: string, o: Partial<Parameters<typeof ipv4>[0]> = {}, payload?: Buffer) => eth(MAC.br0, MAC.h1, ETH_P_IP, v4(dst, o, payload));
const routed6 = (dst: string, o: Partial<Parameters<typeof ipv6>[0]> = {}, payload?: Buffer) => eth(MAC.br0, MAC.h1, ETH_P_IPV6, v6(dst, o, payload));
// From the routed port r1: next hop n1, sources behind it in 198.18.2.0/24.
const fromR1 = (dst: string, o: Partial<Parameters<typeof ipv4>[0]> = {}, payload?: Buffer) =>
  eth(MAC.r1, MAC.n1, ETH_P_IP, ipv4({ src: '198.18.2.7', dst, ...o }, payload ?? udp(40000, 5201)));
const fromR1v6 = (dst: string, o: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  eth(MAC.r1, MAC.n1, ETH_P_IPV6, ipv6({ src: '2001:2:0:2::7', dst, ...o }, udp(40000, 5201)));

interface Case {
  name: string;
  chain?: ChainName; // default gw
  ingress?: number; // default p1
  frame: Buffer;
  expect: string; // counter name
  verdict?: number; // default: REDIRECT for fast_*, else PASS
  setup?: () => void;
  cleanup?: () => void;
  slot?: ChainName; // counter row, default the chain's
  check?: (out: Buffer, tt: Test) => void;
  folded?: Partial<Pick<Case, 'expect' | 'verdict' | 'check'>>; // where the folded form differs, and why
  unfoldedOnly?: boolean; // the case is about the parse stage itself (its tail call, its position)
}

// Chains with a parse stage run each case twice: as written, and as the deployer loads them
// (parse folded into l3-router, which runs right after l2-bridge); both must agree.
function runCase(c: Case): void {
  const chain = c.chain ?? 'gw';
  runOn(c, chain, c.name);
  const folded = FOLDED[chain];
  if (folded && !c.unfoldedOnly) runOn({ ...c, ...c.folded }, folded, `${c.name} (parse folded in)`);
}

function runOn(c: Case, chain: ChainName, name: string): void {
  t.test(name, async (tt) => {
    lab.fillMaps();
    c.setup?.();
    try {
      const slot = c.slot ?? chain;
      const before = lab.counters(slot);
      const res = lab.run(chain, c.ingress ?? X.p1, c.frame);
      const after = lab.counters(slot);
      const moved = after.map((v, i) => [i, v - before[i]] as const).filter(([, d]) => d !== 0);
      tt.equal(res.retval, c.verdict ?? (c.expect.startsWith('fast_') ? XDP_REDIRECT : XDP_PASS), 'verdict');
      tt.same(moved.map(([i, d]) => `${lab.counterName(i)}+${d}`), [`${c.expect}+1`], 'exactly one counter, once');
      c.check?.(res.dataOut, tt);
    } finally {
      c.cleanup?.();
    }
  });
}

// ---- l2-bridge
runCase({
  name: 'known unicast between two forwarding ports is bridged unchanged',
  frame: bridged4(),
  expect: 'fast_l2',
  check: (out, tt) => tt.same(out, bridged4(), 'frame untouched'),
});
runCase({ name: 'non-IP unicast is bridged too', frame: eth(MAC.h2, MAC.h1, ETH_P_ARP, arpRequest(MAC.h1, '198.18.0.3', '198.18.0.2')), expect: 'fast_l2' });
runCase({ name: 'a pure switch port bridges without parsing IP', chain: 'bridge', frame: bridged4({ badChecksum: true }), expect: 'fast_l2' });
runCase({ name: 'a pure switch port passes tagged frames (no parser before it)', chain: 'bridge', frame: Buffer.concat([eth(MAC.h2, MAC.h1, 0x8100, Buffer.from([0, 5, 0x08, 0x00])), v4('198.18.0.2')]), expect: 'vlan' });
// br_netfilter (bridge-nf-call-iptables/ip6tables): the bridge validates and trims IP like ip_rcv.
runCase({ name: 'br_netfilter: a good IPv4 frame is bridged unchanged', chain: 'bridgeNf', frame: bridged4(), expect: 'fast_l2', check: (out, tt) => tt.same(out, bridged4(), 'frame untouched') });
runCase({ name: 'br_netfilter: a bad IPv4 checksum goes to the kernel', chain: 'bridgeNf', frame: bridged4({ badChecksum: true }), expect: 'bad_checksum' });
runCase({ name: 'br_netfilter: IPv4 options go to the kernel', chain: 'bridgeNf', frame: bridged4({ options: Buffer.from([1, 1, 1, 0]) }), expect: 'ip_options' });
runCase({ name: 'br_netfilter: a tot_len beyond the frame goes to the kernel', chain: 'bridgeNf', frame: bridged4({ totLenDelta: 8 }), expect: 'malformed' });
// Unicast ARP (a reply, or a refresh to a known MAC) is bridged like any frame, unless
// bridge-nf-call-arptables hands it to arptables' FORWARD chain.
const unicastArp = eth(MAC.h2, MAC.h1, ETH_P_ARP, arpRequest(MAC.h1, '198.18.0.10', '198.18.0.2'));
runCase({ name: 'a unicast ARP frame is bridged', chain: 'bridge', frame: unicastArp, expect: 'fast_l2' });
runCase({ name: 'br_netfilter with call-arptables: ARP goes to the kernel', chain: 'bridgeNf', frame: unicastArp, expect: 'brnf_arp' });
// neigh_suppress/proxy ARP: the bridge may answer ARP and NS itself (br_do_proxy_suppress_arp,
// br_do_suppress_nd looks at IPv6 whose next header is ICMPv6); everything else is bridged.
runCase({ name: 'neighbour suppression: ARP goes to the kernel', chain: 'bridgeSup', frame: unicastArp, expect: 'l2_neigh_suppress' });
runCase({
  name: 'neighbour suppression: ICMPv6 goes to the kernel',
  chain: 'bridgeSup',
  frame: eth(MAC.h2, MAC.h1, ETH_P_IPV6, ipv6({ src: '2001:2::10', dst: '2001:2::2', nextHeader: 58 }, icmpEcho(128, 1, 1))),
  expect: 'l2_neigh_suppress',
});
runCase({ name: 'neighbour suppression: IPv4 is still bridged', chain: 'bridgeSup', frame: bridged4(), expect: 'fast_l2' });
runCase({
  name: 'neighbour suppression: IPv6 UDP is still bridged',
  chain: 'bridgeSup',
  frame: eth(MAC.h2, MAC.h1, ETH_P_IPV6, ipv6({ src: '2001:2::10', dst: '2001:2::2', nextHeader: 17 }, udp(1, 2))),
  expect: 'fast_l2',
});
runCase({
  name: 'br_netfilter: Ethernet padding is trimmed as the bridge trims it',
  chain: 'bridgeNf',
  frame: Buffer.concat([bridged4(), Buffer.alloc(10)]),
  expect: 'fast_l2',
  check: (out, tt) => tt.same(out, bridged4(), 'trimmed to the IP length'),
});
runCase({ name: 'br_netfilter: IPv6 with hop-by-hop options goes to the kernel', chain: 'bridgeNf', frame: eth(MAC.h2, MAC.h1, ETH_P_IPV6, v6('2001:2::2', { nextHeader: 0 }, ext6(17, udp(1, 2)))), expect: 'ip_options' });
runCase({
  name: 'br_netfilter: IPv6 trailing bytes are trimmed',
  chain: 'bridgeNf',
  frame: Buffer.concat([eth(MAC.h2, MAC.h1, ETH_P_IPV6, v6('2001:2::2')), Buffer.alloc(6)]),
  expect: 'fast_l2',
  check: (out, tt) => tt.same(out, eth(MAC.h2, MAC.h1, ETH_P_IPV6, v6('2001:2::2')), 'trimmed'),
});
runCase({ name: 'without br_netfilter the same padded frame is bridged as it is', chain: 'bridge', frame: Buffer.concat([bridged4(), Buffer.alloc(10)]), expect: 'fast_l2', check: (out, tt) => tt.equal(out.length, bridged4().length + 10) });
runCase({ name: 'broadcast goes to the kernel', frame: eth('ff:ff:ff:ff:ff:ff', MAC.h1, ETH_P_ARP, arpRequest(MAC.h1, '198.18.0.3', '198.18.0.2')), expect: 'l2_multicast' });
runCase({ name: 'multicast goes to the kernel', frame: eth('01:00:5e:00:00:05', MAC.h1, ETH_P_IP, v4('224.0.0.5')), expect: 'l2_multicast' });
runCase({ name: 'an unlearned source goes to the kernel to be learned', frame: eth(MAC.h2, MAC.stranger, ETH_P_IP, v4('198.18.0.2')), expect: 'l2_unknown_src' });
runCase({ name: 'a source learned on another port has moved', frame: eth(MAC.h1, MAC.h2, ETH_P_IP, v4('198.18.0.3')), expect: 'l2_src_moved' });

// The counters of `chain` that `fn` moved, as "name+delta".
function countersMoved(chain: ChainName, fn: () => void): string[] {
  const before = lab.counters(chain);
  fn();
  const after = lab.counters(chain);
  return after.map((v, i) => [i, v - before[i]] as const).filter(([, d]) => d !== 0).map(([i, d]) => `${lab.counterName(i)}+${d}`);
}

t.test('the flow cache is trusted only while the mirrors are unchanged, and for 25 jiffies', async (tt) => {
  lab.fillMaps();
  const cpu = 0;
  const counted = (fn: () => void): string[] => countersMoved('gw', fn);
  const send = (): void => void lab.run('gw', X.p1, bridged4(), cpu);
  const flows = (): ReturnType<typeof lab.l2Flows> => lab.l2Flows(cpu, X.p1, MAC.h2, MAC.h1);
  tt.same(counted(send), ['fast_l2+1'], 'forwarded after the FDB lookups');
  tt.match(flows(), [{ gen: lab.mirrorGen().current, outIf: X.p2, outMtu: 1500 }], 'the flow is cached at the mirrors\' generation');

  // Mirror writes without the bump are what the cache would hide: the controller never does this.
  // Each such check refills the entry first (a bump, then a frame), so it is milliseconds old
  // and cannot expire in between on a loaded machine.
  const refill = (): void => {
    lab.mirrorGen().bump();
    send();
  };
  refill();
  lab.setFdb(MAC.h1, { portIfindex: X.p2, flags: 0, lastSeenNs: 0n }, { bump: false });
  tt.same(counted(send), ['fast_l2+1'], 'unbumped, the cache still vouches for the moved source: the bump is what keeps it honest');
  lab.mirrorGen().bump();
  tt.same(counted(send), ['l2_src_moved+1'], 'after the bump the move is seen at once');
  lab.setFdb(MAC.h1, { portIfindex: X.p1, flags: 0, lastSeenNs: 0n });
  tt.same(counted(send), ['fast_l2+1'], 'back on its port: cached again');

  refill();
  lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX }, { bump: false });
  tt.same(counted(send), ['fast_l2+1'], 'unbumped, a port that stopped forwarding would still be used');
  lab.mirrorGen().bump();
  tt.same(counted(send), ['l2_port_state+1'], 'a device change with its bump reaches the next frame');
  lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD });
  tt.same(counted(send), ['fast_l2+1']);

  tt.same(counted(() => void lab.run('gw', X.p1, Buffer.concat([bridged4(), Buffer.alloc(1500)]), cpu)), ['mtu+1'], 'a cached flow still checks each frame\'s length');

  // After 25 jiffies (100 ms at HZ=250, at most 250 ms) the source is looked up again and its last_seen refreshed.
  lab.setFdb(MAC.h1, { portIfindex: X.p1, flags: 0, lastSeenNs: 0n });
  tt.same(counted(send), ['fast_l2+1']);
  lab.setFdb(MAC.h1, { portIfindex: X.p1, flags: 0, lastSeenNs: 0n }, { bump: false });
  send();
  tt.equal(decodeFdbValue(lab.getFdb(MAC.h1)!).lastSeenNs, 0n, 'while cached the entry is not touched');
  await new Promise((r) => setTimeout(r, 300));
  tt.same(counted(send), ['fast_l2+1']);
  tt.ok(decodeFdbValue(lab.getFdb(MAC.h1)!).lastSeenNs > 0n, 'once the entry expired the source is looked up and last_seen refreshed');
});
runCase({ name: 'an unknown destination is flooded by the kernel', frame: eth(MAC.stranger, MAC.h1, ETH_P_IP, v4('198.18.0.9')), expect: 'l2_unknown_dst' });
runCase({ name: 'a destination behind the ingress port is not hairpinned', frame: eth(MAC.h3, MAC.h1, ETH_P_IP, v4('198.18.0.9')), expect: 'l2_same_port' });
runCase({ name: 'an ingress device that is not a port', frame: bridged4(), expect: 'not_a_port', setup: () => lab.delDev(X.p1) });
runCase({ name: 'the routed port is not a bridge port', ingress: X.r1, frame: eth(MAC.h2, MAC.n1, ETH_P_IP, v4('198.18.0.2')), expect: 'not_a_port' });
runCase({ name: 'an ingress port not forwarding (STP)', frame: bridged4(), expect: 'l2_port_state', setup: () => lab.patchDev(X.p1, { flags: SS_DEV_UP | SS_DEV_TX }) });
runCase({ name: 'an egress port that is down', frame: bridged4(), expect: 'l2_port_state', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_PORT_FWD | SS_DEV_TX }) });
runCase({ name: 'an egress port of another bridge', frame: bridged4(), expect: 'l2_port_state', setup: () => lab.patchDev(X.p2, { bridgeIfindex: X.r1 }) });
runCase({
  name: 'two isolated ports do not talk',
  frame: bridged4(),
  expect: 'l2_isolated',
  setup: () => {
    for (const p of [X.p1, X.p2]) lab.patchDev(p, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_ISOLATED });
  },
});
runCase({
  name: 'one isolated port may talk to a normal one',
  frame: bridged4(),
  expect: 'fast_l2',
  setup: () => lab.patchDev(X.p1, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_ISOLATED }),
});
runCase({ name: 'an egress with a shaping qdisc', frame: bridged4(), expect: 'egress_qdisc', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_QDISC }) });
runCase({ name: 'an egress that cannot take redirects', frame: bridged4(), expect: 'egress_not_redirectable', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_PORT_FWD }) });
runCase({ name: 'an egress missing from the devmap', frame: bridged4(), expect: 'egress_not_redirectable', setup: () => lab.delTx(X.p2) });
runCase({ name: 'a frame over the egress MTU', frame: eth(MAC.h2, MAC.h1, ETH_P_IP, v4('198.18.0.2', {}, udp(1, 2, Buffer.alloc(1100)))), expect: 'mtu', setup: () => lab.patchDev(X.p2, { mtu: 1000 }) });
runCase({ name: 'a frame of exactly the egress MTU still goes', frame: eth(MAC.h2, MAC.h1, ETH_P_IP, v4('198.18.0.2', {}, udp(1, 2, Buffer.alloc(972)))), expect: 'fast_l2', setup: () => lab.patchDev(X.p2, { mtu: 1000 }) });
runCase({ name: 'a frame to the bridge itself on a pure switch', chain: 'bridge', frame: routed4('198.18.2.5'), expect: 'l2_local' });
runCase({ name: '802.1Q tagged frames go to the kernel', frame: eth(MAC.h2, MAC.h1, ETH_P_8021Q, vlanTag(10, ETH_P_IP, v4('198.18.0.2'))), expect: 'vlan' });

t.test('the source entry is refreshed at most every 250 ms, static ones never', async (tt) => {
  lab.fillMaps();
  tt.equal(lab.run('gw', X.p1, bridged4()).retval, XDP_REDIRECT);
  const first = decodeFdbValue(lab.getFdb(MAC.h1)!).lastSeenNs;
  tt.ok(first > 0n, 'last_seen_ns written');
  tt.equal(decodeFdbValue(lab.getFdb(MAC.h2)!).lastSeenNs, 0n, 'the destination entry is not touched');
  lab.run('gw', X.p1, bridged4());
  tt.equal(decodeFdbValue(lab.getFdb(MAC.h1)!).lastSeenNs, first, 'not rewritten within 250 ms');
  lab.setFdb(MAC.h1, { portIfindex: X.p1, flags: SS_FDB_STATIC, lastSeenNs: 0n });
  tt.equal(lab.run('gw', X.p1, bridged4()).retval, XDP_REDIRECT);
  tt.equal(decodeFdbValue(lab.getFdb(MAC.h1)!).lastSeenNs, 0n, 'static entry untouched');
});

// ---- parse
// Bridged, these reach the parser only while it runs first. Where the deployer puts it (right
// before l3-router) they are bridged untouched, as br_forward does: the bridge reads no IP
// header unless br_netfilter is on (l2-bridge's cfg_brnf_*). Routed, they are refused either way.
const bridgedAsIs = { expect: 'fast_l2' } as const;
const badV4 = (f: Buffer): Buffer => { f[14] = 0x55; return f; };
const shortIhl = (f: Buffer): Buffer => { f[14] = 0x44; return f; };
runCase({ name: 'IPv4 whose tot_len runs past the frame', frame: bridged4({ totLenDelta: 40 }), expect: 'malformed', folded: bridgedAsIs });
runCase({ name: 'IPv4 with a bad version', frame: badV4(bridged4()), expect: 'malformed', folded: bridgedAsIs });
runCase({ name: 'IPv4 with ihl < 5', frame: shortIhl(bridged4()), expect: 'malformed', folded: bridgedAsIs });
runCase({ name: 'IPv6 whose payload runs past the frame', frame: eth(MAC.h2, MAC.h1, ETH_P_IPV6, v6('2001:2::2', { payloadLenDelta: 8 })), expect: 'malformed', folded: bridgedAsIs });
runCase({ name: 'IPv6 with a truncated extension header', frame: eth(MAC.h2, MAC.h1, ETH_P_IPV6, ipv6({ src: '2001:2::3', dst: '2001:2::2', nextHeader: 0 }, Buffer.alloc(4))), expect: 'malformed', folded: bridgedAsIs });
runCase({ name: 'routed IPv4 whose tot_len runs past the frame', frame: routed4('198.18.1.2', { totLenDelta: 40 }), expect: 'malformed' });
runCase({ name: 'routed IPv4 with a bad version', frame: badV4(routed4('198.18.1.2')), expect: 'malformed' });
runCase({ name: 'routed IPv4 with ihl < 5 from the routed port', chain: 'router', ingress: X.r1, frame: shortIhl(fromR1('198.18.0.2')), expect: 'malformed' });
runCase({ name: 'routed IPv6 whose payload runs past the frame', frame: routed6('2001:2:0:1::2', { payloadLenDelta: 8 }), expect: 'malformed' });
runCase({ name: 'routed IPv6 with a truncated extension header', chain: 'router', ingress: X.r1, frame: eth(MAC.r1, MAC.n1, ETH_P_IPV6, ipv6({ src: '2001:2:0:2::7', dst: '2001:2::2', nextHeader: 0 }, Buffer.alloc(4))), expect: 'malformed' });
runCase({ name: 'a tagged frame to the router goes to the kernel', chain: 'router', ingress: X.r1, frame: Buffer.concat([eth(MAC.r1, MAC.n1, 0x8100, Buffer.from([0, 5, 0x08, 0x00])), ipv4({ src: '198.18.2.7', dst: '198.18.0.2' }, udp(1, 2))]), expect: 'vlan' });
runCase({ name: 'a bare Ethernet header continues down the chain', chain: 'nop', frame: eth(MAC.h2, MAC.h1, 0x88b5, Buffer.alloc(0)), expect: 'end_of_chain' });
runCase({
  name: 'a missing successor is a counted tail-call miss',
  chain: 'nop',
  frame: bridged4(),
  expect: 'tailcall_miss',
  setup: () => lab.chainSlot('nop', 1, false),
  cleanup: () => lab.chainSlot('nop', 1, true),
});

// The bit l3-router sets for the next hop it forwarded to is the one the controller computes
// for that neighbour entry (controller/deployer/neigh-refresh.ts mirrors ss_nh_bit).
t.test('forwarding marks the next hop, in the bit the controller looks for', async (tt) => {
  const setBits = (b: Buffer): number => [...b].reduce((a, x) => a + x.toString(2).replace(/0/g, '').length, 0);
  const cases = [
    { frame: routed4('198.18.2.5'), family: 4 as const, nh: '198.18.1.2', wrong: '198.18.1.3' },
    { frame: routed6('2001:2:0:2::5'), family: 6 as const, nh: '2001:2:0:1::2', wrong: '2001:2:0:1::3' },
  ];
  for (const c of cases) {
    for (const chain of ['gw', FOLDED.gw] as ChainName[]) {
      lab.fillMaps();
      lab.clearNhMarks();
      tt.equal(lab.run(chain, X.p1, c.frame).retval, XDP_REDIRECT, `${chain}: IPv${c.family} forwarded`);
      const marks = lab.nhMarks();
      tt.equal(setBits(marks), 1, `${chain}: one bit set`);
      const bit = nhBit(Buffer.from(c.family === 4 ? c.nh.split('.').map(Number) : [0x20, 0x01, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]), X.r1);
      tt.ok(marks[bit >> 3] & (1 << (bit & 7)), `${chain}: it is nhBit(${c.nh}, r1)`);
      const neigh = (dst: string, state: number) => ({ family: c.family, ifindex: X.r1, dst, state });
      const used = usedNextHops(marks, [neigh(c.nh, 0x04), neigh(c.wrong, 0x04), neigh(c.nh, 0x20)]);
      tt.same(used.map((u) => u.addr.length), [c.family === 4 ? 4 : 16], `${chain}: only the STALE entry of the used next hop gets NTF_USE (not a FAILED one)`);
    }
  }
});

// ---- l3-router, IPv4
const checkRouted4 = (dmac: string, smac: string, ttl: number) => (out: Buffer, tt: Test) => {
  tt.same(out.subarray(0, 6), mac(dmac), 'dst MAC is the next hop');
  tt.same(out.subarray(6, 12), mac(smac), 'src MAC is the egress device');
  tt.equal(out[14 + 8], ttl, 'TTL decremented');
  tt.equal(out.readUInt16BE(14 + 10), ipv4HeaderChecksum(out.subarray(14, 34)), 'header checksum still right');
};
runCase({ name: 'routed IPv4 from a bridge port out the routed port', frame: routed4('198.18.2.5'), expect: 'fast_l3', check: checkRouted4(MAC.n1, MAC.r1, 63) });
runCase({ name: 'routed IPv4 with the lowest forwardable TTL', frame: routed4('198.18.2.5', { ttl: 2 }), expect: 'fast_l3', check: checkRouted4(MAC.n1, MAC.r1, 1) });
runCase({ name: 'routed IPv4 from the routed port into the bridge resolves the port', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'fast_l3', check: checkRouted4(MAC.h2, MAC.br0, 63) });
runCase({
  name: 'Ethernet padding is trimmed to the IP length',
  chain: 'router',
  ingress: X.r1,
  frame: Buffer.concat([fromR1('198.18.0.2', {}, udp(1, 2, Buffer.alloc(2))), Buffer.alloc(12, 0xee)]),
  expect: 'fast_l3',
  check: (out, tt) => tt.equal(out.length, 14 + 20 + 8 + 2, 'trailing bytes dropped'),
});
runCase({ name: 'a frame not addressed to the router MAC', chain: 'router', ingress: X.r1, frame: eth(MAC.stranger, MAC.n1, ETH_P_IP, ipv4({ src: '198.18.2.7', dst: '198.18.0.2' }, udp(1, 2))), expect: 'l3_not_for_us' });
runCase({ name: 'routing not enabled on the ingress device', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'l3_disabled', setup: () => lab.patchDev(X.r1, { flags: SS_DEV_UP | SS_DEV_TX }) });
runCase({ name: 'an ingress device unknown to the fast path', chain: 'router', ingress: X.r1x, frame: fromR1('198.18.0.2'), expect: 'l3_disabled' });
runCase({ name: 'non-IP to the router', frame: eth(MAC.br0, MAC.h1, ETH_P_ARP, arpRequest(MAC.h1, '198.18.0.3', '198.18.0.1')), expect: 'unparsed_proto' });
runCase({ name: 'TTL 1 is the kernel\'s (ICMP time exceeded)', frame: routed4('198.18.2.5', { ttl: 1 }), expect: 'ttl' });
runCase({ name: 'IPv4 options', frame: routed4('198.18.2.5', { options: Buffer.from([1, 1, 1, 0]) }), expect: 'ip_options' });
runCase({ name: 'first fragment', frame: routed4('198.18.2.5', { fragOff: 0x2000 }), expect: 'fragment' });
runCase({ name: 'later fragment', frame: routed4('198.18.2.5', { fragOff: 0x0010 }), expect: 'fragment' });
runCase({ name: 'bad header checksum', frame: routed4('198.18.2.5', { badChecksum: true }), expect: 'bad_checksum' });
runCase({ name: 'loopback destination', frame: routed4('127.0.0.1'), expect: 'martian' });
runCase({ name: 'limited broadcast destination', frame: routed4('255.255.255.255'), expect: 'martian' });
runCase({ name: 'zero-net source', frame: eth(MAC.br0, MAC.h1, ETH_P_IP, ipv4({ src: '0.0.0.0', dst: '198.18.2.5' }, udp(1, 2))), expect: 'martian' });
runCase({ name: 'addressed to the router itself', frame: routed4('198.18.0.1'), expect: 'fib_local' });
runCase({ name: 'the router\'s address on another interface', frame: routed4('198.18.1.1'), expect: 'fib_local' });
runCase({ name: 'a subnet broadcast', frame: routed4('198.18.1.255'), expect: 'fib_local' });
runCase({ name: 'no route at all', frame: routed4('198.19.200.1'), expect: 'fib_local' });
runCase({ name: 'blackhole route', frame: routed4('198.18.9.1'), expect: 'fib_blackhole' });
runCase({ name: 'unreachable route', frame: routed4('198.18.10.1'), expect: 'fib_blackhole' });
runCase({ name: 'prohibit route', frame: routed4('198.18.11.1'), expect: 'fib_blackhole' });
runCase({ name: 'next hop without a neighbour entry', frame: routed4('198.18.3.5'), expect: 'fib_no_neigh' });
runCase({ name: 'larger than the route MTU', frame: routed4('198.18.4.5', {}, udp(1, 2, Buffer.alloc(700))), expect: 'fib_frag_needed' });
runCase({
  name: 'forwarding disabled on the (bridge) ingress',
  frame: routed4('198.18.2.5'),
  expect: 'fib_fwd_disabled',
  setup: () => lab.sysctl('net.ipv4.conf.br0.forwarding', 0),
  cleanup: () => lab.sysctl('net.ipv4.conf.br0.forwarding', 1),
});
runCase({ name: 'strict rp_filter: source routed out another device', frame: eth(MAC.br0, MAC.h1, ETH_P_IP, ipv4({ src: '198.18.2.9', dst: '198.18.1.2' }, udp(1, 2))), expect: 'rp_filter' });
runCase({ name: 'loose rp_filter: source with no route back', chain: 'router', ingress: X.r1, frame: eth(MAC.r1, MAC.n1, ETH_P_IP, ipv4({ src: '198.19.77.1', dst: '198.18.0.2' }, udp(1, 2))), expect: 'rp_filter' });
runCase({ name: 'loose rp_filter: a route back via another device is fine', chain: 'router', ingress: X.r1, frame: eth(MAC.r1, MAC.n1, ETH_P_IP, ipv4({ src: '198.18.0.77', dst: '198.18.0.2' }, udp(1, 2))), expect: 'fast_l3' });
// Routed from r1 (next hop n1) to 198.18.0.2 with rp_filter off on r1: only the source varies.
function rpOffCase(name: string, chain: ChainName, src: string, expect: string): void {
  runCase({
    name,
    chain,
    ingress: X.r1,
    frame: eth(MAC.r1, MAC.n1, ETH_P_IP, ipv4({ src, dst: '198.18.0.2' }, udp(1, 2))),
    expect,
    setup: () => lab.patchDev(X.r1, { rpFilter: 0 }),
  });
}
rpOffCase('rp_filter off: a source that is the router\'s own address', 'router', '198.18.0.1', 'martian');
rpOffCase('rp_filter off: any routable source is fine', 'router', '198.18.0.77', 'fast_l3');
// With rp_filter off and no custom rules the kernel asks only "is the source one of my
// addresses?" (ss_local_v4); broadcast addresses of the local table are refused too.
rpOffCase('rp_filter off: a subnet broadcast source goes to the kernel', 'router', '198.18.0.255', 'martian');
rpOffCase('rp_filter off: a source with no route back is forwarded, as the kernel does', 'router', '198.19.77.1', 'fast_l3');
// The filter in front of ss_local_v4 only says "maybe": a source on the bit of a local
// address must still be looked up, and forwarded when it is not the box's.
function sourceSharingABit(): string {
  const bits = new Set([...lab.localAddrs].map((a) => localV4Bit(Buffer.from(a.split('.').map(Number)))));
  for (let i = 2 * 256; i < 2 * 65536; i++) {
    const a = [198, 18 + (i >> 16), (i >> 8) & 255, i & 255];
    const s = a.join('.');
    if (!lab.localAddrs.has(s) && a[3] !== 0 && a[3] !== 255 && bits.has(localV4Bit(Buffer.from(a)))) return s;
  }
  throw new Error('no address shares a filter bit with a local one');
}
rpOffCase('rp_filter off: a source that shares a filter bit with a local address is looked up and forwarded', 'router', sourceSharingABit(), 'fast_l3');
rpOffCase('rp_filter off, full lookup: the router\'s own address is refused', 'routerFib', '198.18.0.1', 'martian');
rpOffCase('rp_filter off, full lookup: no route back is passed (the helper cannot tell it from local)', 'routerFib', '198.19.77.1', 'martian');
rpOffCase('rp_filter off, full lookup: a routable source is forwarded', 'routerFib', '198.18.0.77', 'fast_l3');
// IPsec policies: l3-router hands the kernel every packet whose source lies in some policy's
// source prefix and whose destination in some policy's destination prefix.
const xpol = (src: string, srcLen: number, dst: string, dstLen: number, family: 0 | 4 | 6 = 4): XfrmPolicy => ({
  index: 1, priority: 0, dir: 'fwd', action: 'block', family, src, srcLen, dst, dstLen, proto: 0, ifindex: 0, templates: [],
});
const xfrmCase = (name: string, ingress: number, frame: Buffer, policies: XfrmPolicy[], expect: string): void =>
  runCase({ name: `IPsec selectors: ${name}`, chain: 'routerXfrm', ingress, frame, expect, setup: () => lab.setXfrm(policies) });
xfrmCase('none stored, the router forwards', X.r1, fromR1('198.18.0.2'), [], 'fast_l3');
xfrmCase('source and destination within one policy go to the kernel', X.r1, fromR1('198.18.0.2'), [xpol('198.18.2.0', 24, '198.18.0.0', 24)], 'xfrm_policy');
xfrmCase('the reverse direction is outside the selector', X.p1, routed4('198.18.2.5'), [xpol('198.18.2.0', 24, '198.18.0.0', 24)], 'fast_l3');
xfrmCase('a longer prefix of another policy does not hide a covering one', X.r1, fromR1('198.19.1.1'),
  [xpol('198.18.0.0', 16, '198.19.0.0', 16), xpol('198.19.9.0', 24, '198.18.2.0', 24)], 'xfrm_policy');
xfrmCase('source and destination each within some policy: passed (a superset)', X.r1, fromR1('198.18.0.2'),
  [xpol('198.18.2.0', 24, '198.19.0.0', 16), xpol('198.19.5.0', 24, '198.18.0.0', 16)], 'xfrm_policy');
xfrmCase('a destination outside every destination prefix is forwarded', X.r1, fromR1('198.18.0.2'),
  [xpol('198.18.2.0', 24, '198.19.0.0', 16), xpol('198.19.9.0', 24, '198.18.2.0', 24)], 'fast_l3');
xfrmCase('IPv6 within a policy goes to the kernel', X.p1, routed6('2001:2:0:2::5'), [xpol('2001:2::', 64, '2001:2:0:2::', 64, 6)], 'xfrm_policy');
xfrmCase('IPv4 policies leave IPv6 alone', X.p1, routed6('2001:2:0:2::5'), [xpol('198.18.0.0', 15, '198.18.0.0', 15)], 'fast_l3');
xfrmCase('a selector without a family covers everything', X.p1, routed6('2001:2:0:2::5'), [xpol('', 0, '', 0, 0)], 'xfrm_policy');
runCase({ name: 'routed back out the ingress device', chain: 'router', ingress: X.r1, frame: fromR1('198.18.1.2'), expect: 'l3_hairpin' });
runCase({ name: 'routed between two hosts of the same bridge', frame: routed4('198.18.0.2'), expect: 'l3_hairpin' });
// l3-router keeps, per CPU, the port the FDB mirror gave for a (bridge, next-hop MAC): like
// the flow cache, trusted only while ss_mirror_gen is unchanged. The port's checks are made
// on every frame.
for (const chain of ['router', 'routerFold'] as const) {
  t.test(`${chain}: the bridge-port cache is trusted only while the mirrors are unchanged`, async (tt) => {
    lab.fillMaps();
    const cpu = 0;
    const counted = (): string[] => countersMoved(chain, () => void lab.run(chain, X.r1, fromR1('198.18.0.2'), cpu));
    const PORT = SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_L3;
    // p1 would show where a frame went: its rules make the next frame through it nf_egress.
    lab.patchDev(X.p1, { flags: PORT | SS_DEV_NF_OUT4 });
    tt.same(counted(), ['fast_l3+1'], 'routed out br0 through p2');
    tt.same(lab.l3Ports(cpu, X.br0, MAC.h2), [{ portIf: X.p2, gen: lab.mirrorGen().current }], 'the port is cached at the mirrors\' generation');

    // A mirror write without the bump is what the cache would hide: the controller never does this.
    lab.setFdb(MAC.h2, { portIfindex: X.p1, flags: 0, lastSeenNs: 0n }, { bump: false });
    tt.same(counted(), ['fast_l3+1'], 'unbumped, the cache still sends h2 to p2: the bump is what keeps it honest');
    lab.mirrorGen().bump();
    tt.same(counted(), ['nf_egress+1'], 'after the bump the move is seen at once');
    tt.same(lab.l3Ports(cpu, X.br0, MAC.h2), [{ portIf: X.p1, gen: lab.mirrorGen().current }], 'the port is a fact of the mirror: cached, though p1 passed the frame');
    lab.setFdb(MAC.h2, { portIfindex: X.p2, flags: 0, lastSeenNs: 0n });
    tt.same(counted(), ['fast_l3+1'], 'back on p2');
    tt.same(lab.l3Ports(cpu, X.br0, MAC.h2), [{ portIf: X.p2, gen: lab.mirrorGen().current }], 'cached again');

    lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_L3 }, { bump: false });
    tt.same(counted(), ['l2_port_state+1'], 'the port\'s state is checked on every frame, bump or not');
    lab.patchDev(X.p2, { flags: PORT | SS_DEV_QDISC }, { bump: false });
    tt.same(counted(), ['egress_qdisc+1'], 'and its qdisc');
    lab.patchDev(X.p2, { flags: PORT });
    tt.same(counted(), ['fast_l3+1']);

    lab.delFdb(MAC.h2);
    tt.same(counted(), ['bridge_egress_miss+1'], 'a deleted entry is missed at once');
    lab.setFdb(MAC.h2, { portIfindex: X.br0, flags: SS_FDB_LOCAL, lastSeenNs: 0n });
    tt.same(counted(), ['fib_local+1'], 'a local entry goes to the kernel');
    const gen = lab.mirrorGen().current;
    tt.same(lab.l3Ports(cpu, X.br0, MAC.h2).filter((e) => e.gen === gen), [], 'and is never cached');
    lab.fillMaps();
  });
}
runCase({ name: 'route out the bridge, next hop MAC not in the FDB mirror', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'bridge_egress_miss', setup: () => lab.delFdb(MAC.h2) });
runCase({ name: 'route out the bridge to a port not forwarding', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'l2_port_state', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_L3 }) });
runCase({ name: 'route out the bridge whose port has a qdisc', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'egress_qdisc', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_QDISC }) });
runCase({ name: 'route out a device with a qdisc', frame: routed4('198.18.2.5'), expect: 'egress_qdisc', setup: () => lab.patchDev(X.r1, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_L3 | SS_DEV_QDISC }) });
// Netfilter rules bounded to an egress device (oifname): per family, on the FIB's device and
// on the bridge port it resolves to.
const R1 = SS_DEV_UP | SS_DEV_TX | SS_DEV_L3;
runCase({ name: 'route out a device with IPv4 netfilter rules bound to it', frame: routed4('198.18.2.5'), expect: 'nf_egress', setup: () => lab.patchDev(X.r1, { flags: R1 | SS_DEV_NF_OUT4 }) });
runCase({ name: 'an IPv4 bound leaves routed IPv6 alone', frame: routed6('2001:2:0:2::5'), expect: 'fast_l3', setup: () => lab.patchDev(X.r1, { flags: R1 | SS_DEV_NF_OUT4 }) });
runCase({ name: 'route IPv6 out a device with IPv6 rules bound to it', frame: routed6('2001:2:0:2::5'), expect: 'nf_egress', setup: () => lab.patchDev(X.r1, { flags: R1 | SS_DEV_NF_OUT6 }) });
runCase({ name: 'route out a bridge with rules bound to it', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'nf_egress', setup: () => lab.patchDev(X.br0, { flags: SS_DEV_UP | SS_DEV_BRIDGE | SS_DEV_L3 | SS_DEV_NF_OUT4 }) });
runCase({ name: 'route out a bridge to a port with rules bound to it', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2'), expect: 'nf_egress', setup: () => lab.patchDev(X.p2, { flags: SS_DEV_UP | SS_DEV_TX | SS_DEV_PORT_FWD | SS_DEV_NF_OUT4 }) });
runCase({ name: 'route out a device that takes no redirects', frame: routed4('198.18.2.5'), expect: 'egress_not_redirectable', setup: () => lab.patchDev(X.r1, { flags: SS_DEV_UP | SS_DEV_L3 }) });
runCase({ name: 'route out a device unknown to the fast path', frame: routed4('198.18.2.5'), expect: 'egress_not_redirectable', setup: () => lab.delDev(X.r1) });
runCase({ name: 'route out a device with a smaller MTU than the frame', frame: routed4('198.18.2.5', {}, udp(1, 2, Buffer.alloc(700))), expect: 'mtu', setup: () => lab.patchDev(X.r1, { mtu: 600 }) });
// ip_forward honours an IPv4 route's MTU metric, locked or not; bpf_fib_lookup only a locked
// one: the controller writes the smallest per egress device (route_mtu4).
const big = udp(1, 2, Buffer.alloc(700));
runCase({ name: 'an IPv4 route MTU smaller than the packet', frame: routed4('198.18.2.5', {}, big), expect: 'mtu', setup: () => lab.patchDev(X.r1, { routeMtu4: 600 }) });
runCase({ name: 'a packet within the IPv4 route MTU is forwarded', frame: routed4('198.18.2.5', {}, udp(1, 2, Buffer.alloc(500))), expect: 'fast_l3', setup: () => lab.patchDev(X.r1, { routeMtu4: 600 }) });
runCase({ name: 'an IPv4 route MTU leaves IPv6 alone', frame: routed6('2001:2:0:2::5', {}, big), expect: 'fast_l3', setup: () => lab.patchDev(X.r1, { routeMtu4: 600 }) });
runCase({ name: 'an IPv4 route MTU on a bridge applies to routing out its ports', chain: 'router', ingress: X.r1, frame: fromR1('198.18.0.2', {}, big), expect: 'mtu', setup: () => lab.patchDev(X.br0, { routeMtu4: 600 }) });
// Neighbour discovery: a proxying router (proxy_ndp) answers it itself.
const icmp6 = (type: number): Buffer => Buffer.concat([Buffer.from([type, 0, 0, 0]), Buffer.alloc(20)]);
for (const [type, what] of [[133, 'router solicitation'], [135, 'neighbour solicitation'], [136, 'neighbour advertisement'], [137, 'redirect']] as const) {
  runCase({ name: `a routed ${what} goes to the kernel`, frame: routed6('2001:2:0:2::5', { nextHeader: 58, hopLimit: 255 }, icmp6(type)), expect: 'ndp' });
}
runCase({ name: 'a routed ICMPv6 echo request is forwarded', frame: routed6('2001:2:0:2::5', { nextHeader: 58 }, icmpEcho(128, 1, 1)), expect: 'fast_l3' });
runCase({ name: 'an empty ICMPv6 packet is forwarded, as the kernel does', frame: routed6('2001:2:0:2::5', { nextHeader: 58 }, Buffer.alloc(0)), expect: 'fast_l3' });
// ICMP errors: over a multipath route the kernel follows the flow they quote.
const quoted4 = ipv4({ src: '198.18.2.5', dst: '198.18.0.3' }, udp(5201, 40000)).subarray(0, 28);
for (const [type, what] of [[3, 'destination unreachable'], [4, 'source quench'], [5, 'redirect'], [11, 'time exceeded'], [12, 'parameter problem']] as const) {
  runCase({ name: `a routed ICMP ${what} goes to the kernel`, frame: routed4('198.18.2.5', { proto: 1 }, Buffer.concat([Buffer.from([type, 0, 0, 0, 0, 0, 0, 0]), quoted4])), expect: 'icmp_error' });
}
runCase({ name: 'a routed ICMP echo request is forwarded', frame: routed4('198.18.2.5', { proto: 1 }, icmpEcho(8, 1, 1)), expect: 'fast_l3' });
runCase({ name: 'an empty ICMP packet is forwarded, as the kernel does', frame: routed4('198.18.2.5', { proto: 1 }, Buffer.alloc(0)), expect: 'fast_l3' });
for (const [type, what] of [[1, 'destination unreachable'], [2, 'packet too big'], [3, 'time exceeded'], [4, 'parameter problem']] as const) {
  runCase({ name: `a routed ICMPv6 ${what} goes to the kernel`, frame: routed6('2001:2:0:2::5', { nextHeader: 58 }, icmp6(type)), expect: 'icmp_error' });
}
runCase({
  name: 'a failed redirect leaves the frame untouched',
  frame: routed4('198.18.2.5'),
  expect: 'egress_not_redirectable',
  setup: () => lab.delTx(X.r1),
  check: (out, tt) => tt.same(out, routed4('198.18.2.5')),
});

// ---- l3-router, IPv6
const checkRouted6 = (dmac: string, smac: string, hops: number) => (out: Buffer, tt: Test) => {
  tt.same(out.subarray(0, 6), mac(dmac), 'dst MAC is the next hop');
  tt.same(out.subarray(6, 12), mac(smac), 'src MAC is the egress device');
  tt.equal(out[14 + 7], hops, 'hop limit decremented');
};
runCase({ name: 'routed IPv6 out the routed port', frame: routed6('2001:2:0:2::5'), expect: 'fast_l3', check: checkRouted6(MAC.n1, MAC.r1, 63) });
runCase({ name: 'routed IPv6 into the bridge', chain: 'router', ingress: X.r1, frame: fromR1v6('2001:2::2'), expect: 'fast_l3', check: checkRouted6(MAC.h2, MAC.br0, 63) });
runCase({ name: 'routed ICMPv6 echo', frame: routed6('2001:2:0:2::5', { nextHeader: 58 }, icmpEcho(128, 7, 1)), expect: 'fast_l3' });
runCase({ name: 'IPv6 hop limit 1', frame: routed6('2001:2:0:2::5', { hopLimit: 1 }), expect: 'ttl' });
runCase({ name: 'IPv6 hop-by-hop header', frame: routed6('2001:2:0:2::5', { nextHeader: 0 }, ext6(17, udp(1, 2))), expect: 'ip_options' });
runCase({ name: 'IPv6 fragment header', frame: routed6('2001:2:0:2::5', { nextHeader: 44 }, frag6(17, 0, true, udp(1, 2))), expect: 'ip_options' });
runCase({ name: 'IPv6 link-local destination', frame: routed6('fe80::1'), expect: 'martian' });
runCase({ name: 'IPv6 multicast destination', frame: routed6('ff02::1'), expect: 'martian' });
runCase({ name: 'IPv6 loopback source', frame: eth(MAC.br0, MAC.h1, ETH_P_IPV6, ipv6({ src: '::1', dst: '2001:2:0:2::5' }, udp(1, 2))), expect: 'martian' });
runCase({ name: 'IPv6 to the router', frame: routed6('2001:2::1'), expect: 'fib_local' });
runCase({ name: 'IPv6 blackhole route', frame: routed6('2001:2:0:9::1'), expect: 'fib_blackhole' });
runCase({ name: 'IPv6 next hop without a neighbour', frame: routed6('2001:2:0:3::5'), expect: 'fib_no_neigh' });

// ---- root dispatcher
runCase({ name: 'root: a fresh heartbeat runs the pipeline', chain: 'root', slot: 'gw', frame: bridged4(), expect: 'fast_l2' });
runCase({ name: 'root: a stale heartbeat fails open', chain: 'root', frame: bridged4(), expect: 'heartbeat_stale', setup: () => lab.heartbeat(false) });
runCase({ name: 'root: an unset heartbeat fails open', chain: 'root', frame: bridged4(), expect: 'heartbeat_stale', setup: () => lab.heartbeat('unset') });
runCase({ name: 'root: a heartbeat just inside its timeout is fresh', chain: 'root', slot: 'gw', frame: bridged4(), expect: 'fast_l2', setup: () => lab.heartbeat(-900_000_000n) });
runCase({ name: 'root: a heartbeat just past its timeout is stale', chain: 'root', frame: bridged4(), expect: 'heartbeat_stale', setup: () => lab.heartbeat(-1_100_000_000n) });
runCase({ name: 'root: a heartbeat a few ms ahead (coarse clock lag) is fresh', chain: 'root', slot: 'gw', frame: bridged4(), expect: 'fast_l2', setup: () => lab.heartbeat(20_000_000n) });
runCase({ name: 'root: a heartbeat far in the future is garbage and fails open', chain: 'root', frame: bridged4(), expect: 'heartbeat_stale', setup: () => lab.heartbeat(3_600_000_000_000n) });
runCase({
  name: 'root: no generation installed',
  chain: 'root',
  frame: bridged4(),
  expect: 'no_pipeline',
  setup: () => lab.rootAttach(null),
  cleanup: () => lab.rootAttach('gw'),
});
runCase({
  name: 'root: swapping the slot switches generations',
  chain: 'root',
  slot: 'bridge',
  frame: routed4('198.18.2.5'),
  expect: 'l2_local',
  setup: () => lab.rootAttach('bridge'),
  cleanup: () => lab.rootAttach('gw'),
});
