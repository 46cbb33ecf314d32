// buildGraph: the dependency graph with services, verdicts and reasons. Pure and
// deterministic: the same model, capabilities and config always give the same JSON.
// Each rule below is written up in docs/graph-rules.md; comments name the rule.
import { globMatch } from '../model/addr';
import type { KernelModel, Link } from '../model/types';
import { scanRoutes } from '../model/routes';
import { nexthopResolver } from './nexthops';
import { SERVICE_NEEDS, type Capabilities } from '../capabilities/types';
import type { GraphConfig } from './config';
import { bridgeNetfilter } from './brnf';
import { bridgeAnswersNeighbours } from './bridge-neigh';
import type { AttrValue, Graph, GraphEdge, GraphNode, ServiceNode } from './types';
import {
  egressHookReasons, egressReasons, foreignXdpReason, ingressBlockReasons, isUp, kindReason, managedReason, missingFor,
  describePolicy, netfilterFacts, qdiscInfo, ruleReasons, scopeHits, xfrmFacts, type NetfilterFacts,
} from './analysis';

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

// The smaller of two MTUs where 0 or undefined means none; null when neither is set.
function smallestMtu(a: number | undefined, b: number): number | null {
  const x = a || b;
  return x ? Math.min(x, b || x) : null;
}

export function tableName(id: number): string {
  return TABLE_NAMES[id] ?? String(id);
}

interface DeviceFacts {
  link: Link;
  managed: string | null;
  ingress: string[]; // why this device's ingress can't carry a pipeline (empty: it can)
  egress: string[]; // why XDP must not redirect out of it (empty: it may)
  qdisc: string;
  role: { l2: string | null; v4: boolean; v6: boolean; epping: boolean; queueing: boolean };
}

function deviceFacts(m: KernelModel, caps: Capabilities, cfg: GraphConfig): Map<number, DeviceFacts> {
  const out = new Map<number, DeviceFacts>();
  for (const link of m.links.values()) {
    const managed = managedReason(link, cfg);
    const ingress: string[] = [];
    if (managed) ingress.push(managed);
    if (!isUp(link)) ingress.push(`${link.name} is down`);
    const k = kindReason(link);
    if (k) ingress.push(k);
    const fx = foreignXdpReason(link, cfg);
    if (fx) ingress.push(fx);
    ingress.push(...ingressBlockReasons(link, m));
    const q = qdiscInfo(link, m);
    out.set(link.ifindex, {
      link,
      managed,
      ingress,
      egress: egressReasons(link, m, cfg, caps),
      qdisc: q.nonDefaultKind ?? q.kind,
      role: { l2: null, v4: false, v6: false, epping: false, queueing: false },
    });
  }
  return out;
}

// Which forward-path rules see a bridge's bridged traffic under br_netfilter, as a reason, or
// null. The IP hooks see such packets with the bridge (or a VLAN device on top of it) as their
// in and out device, so rules bounded to other devices never match them.
function bridgedRules(nf: NetfilterFacts, k: 'v4' | 'v6', br: Link, links: Link[]): string | null {
  if (nf[k].length) return nf[k][0];
  const names = [br.name, ...links.filter((l) => l.kind === 'vlan' && l.parent === br.ifindex).map((l) => l.name)];
  for (const n of names) {
    const hits = [...new Set([...scopeHits(nf.scoped[k].in, n), ...scopeHits(nf.scoped[k].out, n)])];
    if (hits.length) return `netfilter rules match traffic through ${n} (${hits.join(', ')})`;
  }
  return null;
}

function scopeList(m: Map<string, string[]>): string[] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([n, l]) => `${n} (${l.join(', ')})`);
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function buildGraph(m: KernelModel, caps: Capabilities, cfg: GraphConfig, version: number): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const services: ServiceNode[] = [];
  const facts = deviceFacts(m, caps, cfg);
  const links = [...m.links.values()].sort(byName);
  const nameOf = (ifindex: number): string => m.links.get(ifindex)?.name ?? `if${ifindex}`;
  const nf = netfilterFacts(m);
  const xf = xfrmFacts(m.xfrm);
  const sys = m.sysctls;

  // Address presence per device and family.
  const addr4 = new Set<number>();
  const addr6 = new Set<number>();
  for (const a of m.addresses.values()) (a.family === 4 ? addr4 : addr6).add(a.ifindex);

  // ---- L2: one service per bridge.
  const bridges = links.filter((l) => l.kind === 'bridge');
  const l2Accelerated = new Map<number, string[]>(); // bridge ifindex -> accelerated ports
  for (const br of bridges) {
    const id = `l2-bridge:${br.name}`;
    const reasons: string[] = [];
    const blockers: string[] = [];
    const brFacts = facts.get(br.ifindex)!;
    if (brFacts.managed) blockers.push(brFacts.managed);
    if (!isUp(br)) blockers.push(`${br.name} is down`);
    // Rule: VLAN filtering is not supported yet.
    if (br.bridge?.vlanFiltering) blockers.push(`${br.name} has vlan_filtering on (not supported yet)`);
    // Rule: bridge netfilter (nft bridge family, or br_netfilter handing bridged frames to
    // iptables/ip6tables that have forward-path rules) keeps bridged traffic in the kernel.
    blockers.push(...nf.bridge);
    const brnf = bridgeNetfilter(m, br.ifindex);
    const brnfV4 = brnf.v4 ? bridgedRules(nf, 'v4', br, links) : null;
    if (brnfV4) {
      const via = sys.bridgeNfCallIptables ? 'net.bridge.bridge-nf-call-iptables=1' : `${br.name} nf_call_iptables on`;
      blockers.push(`br_netfilter passes bridged IPv4 to netfilter (${via}) and ${brnfV4}`);
    }
    // Rule: under bridge-nf-call-arptables, ARP stays with the kernel (arptables' FORWARD
    // chain sees bridged ARP); the rest of the bridge is still accelerated.
    if (brnf.arp) reasons.push('br_netfilter passes bridged ARP to arptables: ARP frames stay with the kernel');
    // Rule: with ARP/ND suppression or proxy ARP the bridge may answer them itself.
    const answers = bridgeAnswersNeighbours(m, br.ifindex);
    if (answers) reasons.push(`${answers}: ARP and ICMPv6 frames stay with the kernel`);
    const brnfV6 = brnf.v6 ? bridgedRules(nf, 'v6', br, links) : null;
    if (brnfV6) {
      const via = sys.bridgeNfCallIp6tables ? 'net.bridge.bridge-nf-call-ip6tables=1' : `${br.name} nf_call_ip6tables on`;
      blockers.push(`br_netfilter passes bridged IPv6 to netfilter (${via}) and ${brnfV6}`);
    }
    const missing = missingFor(caps, SERVICE_NEEDS['l2-bridge']);
    if (missing.length) blockers.push(`this kernel lacks ${missing.join(', ')}`);
    // Rule: ports not forwarding are left out with a reason, not the whole bridge.
    const ports = links.filter((l) => l.master === br.ifindex);
    const usable: string[] = [];
    for (const p of ports) {
      const f = facts.get(p.ifindex)!;
      if (f.ingress.length) {
        reasons.push(...f.ingress);
        continue;
      }
      if (!p.port) {
        reasons.push(`port ${p.name} has no bridge port state yet`);
        continue;
      }
      if (p.port.state !== 'forwarding') {
        reasons.push(`port ${p.name} is in STP ${p.port.state} state`);
        continue;
      }
      if (p.port.hairpin) {
        reasons.push(`port ${p.name} has hairpin mode on (not supported yet)`);
        continue;
      }
      // Rule: a locked port (802.1X/MAB) has every source checked by the kernel; the fast
      // path cannot tell an authorized entry from a locked one.
      if (p.port.locked) {
        reasons.push(`port ${p.name} is locked (802.1X/MAB): its traffic stays with the kernel`);
        continue;
      }
      // Rule: bridge-family rules bounded to a port keep the frames entering it and those
      // bound for it with the kernel; the fast path leaves the port out both ways.
      const nfHits = scopeHits(nf.bridgePorts, p.name);
      if (nfHits.length) {
        reasons.push(`port ${p.name} is named by bridge-family netfilter rules (${nfHits.join(', ')}): its bridged traffic stays with the kernel`);
        continue;
      }
      usable.push(p.name);
      if (f.egress.length) reasons.push(`${f.egress.join('; ')}: bridged traffic out of ${p.name} stays on the slow path`);
      if (p.port.isolated) reasons.push(`port ${p.name} is isolated: the fast path keeps it from other isolated ports`);
    }
    // Rule: a bridge needs >= 2 up, forwarding, usable ports to be an L2 service.
    if (usable.length < 2) blockers.push(`${br.name} has ${usable.length} usable forwarding port${usable.length === 1 ? '' : 's'} (needs 2)`);
    if (br.bridge && br.bridge.stpState !== 0 && blockers.length === 0) {
      reasons.push(`STP is on: BPDUs and ports that are not forwarding stay with the kernel`);
    }
    const ok = blockers.length === 0;
    if (ok) {
      l2Accelerated.set(br.ifindex, usable);
      for (const n of usable) {
        const l = links.find((x) => x.name === n)!;
        facts.get(l.ifindex)!.role.l2 = br.name;
      }
    }
    services.push({ id, kind: 'l2-bridge', devices: ok ? usable : [], verdict: ok ? 'accelerated' : 'slow-path', reasons: [...blockers, ...reasons] });
    edges.push({ from: id, to: `bridge:${br.name}`, kind: 'depends-on' });
    edges.push({ from: id, to: 'netfilter', kind: 'depends-on' });
    edges.push({ from: id, to: 'sysctl', kind: 'depends-on' });
  }

  // ---- L3: one router service; per family verdicts.
  // One walk over the routes (100k+ on a big router) gathers everything the graph shows and
  // the rules below need: egress devices, multipath routes, route MTUs.
  const egressDevs = new Set<number>();
  const perTable = new Map<number, { v4: number; v6: number; multipath: number; dflt4: boolean; dflt6: boolean }>();
  let lastHops: readonly unknown[] | null = null; // lists are often shared: skip repeats
  // Rule: ip_forward honours an IPv4 route's MTU metric and bpf_fib_lookup only a locked
  // one: l3-router compares with the smallest of each egress device (IPv6 forwarding uses
  // a route's MTU only when locked, as the helper does).
  const routeMtu4 = new Map<number, number>();
  let routeMtu4Any = 0; // an MTU route whose devices are unknown binds every device
  const multipath = { v4: 0, v6: 0 };
  const objectHops = nexthopResolver(m.nexthops);
  let unresolved = 0;
  scanRoutes(m.routes, (table, family, dstLen, type, listed, mtu, nhId) => {
    let t = perTable.get(table);
    if (!t) perTable.set(table, (t = { v4: 0, v6: 0, multipath: 0, dflt4: false, dflt6: false }));
    if (family === 4) t.v4++; else t.v6++;
    const resolved = listed.length || !nhId ? listed : objectHops(nhId);
    if (!resolved) unresolved++;
    const nexthops = resolved ?? [];
    const multi = !resolved || nexthops.length > 1;
    if (multi) t.multipath++;
    if (type !== 'unicast') return;
    if (multi) multipath[family === 4 ? 'v4' : 'v6']++;
    if (mtu && family === 4) {
      if (!resolved && !(routeMtu4Any && routeMtu4Any <= mtu)) routeMtu4Any = mtu;
      for (const h of nexthops) if (h.ifindex && !(routeMtu4.get(h.ifindex)! <= mtu)) routeMtu4.set(h.ifindex, mtu);
    }
    if (dstLen === 0) {
      if (family === 4) t.dflt4 = true; else t.dflt6 = true;
    }
    if (nexthops === lastHops) return;
    lastHops = nexthops;
    for (const h of nexthops) if (h.ifindex) egressDevs.add(h.ifindex);
  });
  const famBlock = { v4: [] as string[], v6: [] as string[] };
  const famNotes = { v4: [] as string[], v6: [] as string[] };
  if (unresolved) famNotes.v4.push(`${unresolved} route${unresolved === 1 ? ' names a nexthop object' : 's name nexthop objects'} not known yet: counted as multipath, an IPv4 route MTU binding every device`);
  // Rule: ip_forward=0 keeps IPv4 routing on the slow path; IPv6 separately.
  if (sys.ipv4Forward !== true) famBlock.v4.push(`IPv4 forwarding is off (net.ipv4.ip_forward=${sys.ipv4Forward === null ? 'unknown' : 0})`);
  if (sys.ipv6Forward === null) famBlock.v6.push('IPv6 is disabled in this namespace');
  else if (!sys.ipv6Forward) famBlock.v6.push('IPv6 forwarding is off (net.ipv6.conf.all.forwarding=0)');
  // Rule: with multipath routes, a hash policy other than 0 (L3) picks the path from what
  // bpf_fib_lookup cannot see: the NIC's flow hash (policy 1 uses it when the driver set
  // one), inner headers (2) or chosen fields (3). Policy 0 agrees with the helper except for
  // ICMP errors, which l3-router always leaves to the kernel.
  for (const [k, fam, pol] of [['v4', 4, sys.multipathPolicy4], ['v6', 6, sys.multipathPolicy6]] as const) {
    const n = multipath[k];
    if (n && pol !== null && pol !== 0) {
      famBlock[k].push(`${n} IPv${fam} multipath route${n === 1 ? '' : 's'} with net.ipv${fam}.fib_multipath_hash_policy=${pol}: the kernel picks the path from hashes bpf_fib_lookup does not compute (only policy 0 is followed)`);
    }
  }
  // Rule: netfilter forward/nat rules keep that family on the slow path.
  famBlock.v4.push(...nf.v4);
  famBlock.v6.push(...nf.v6);
  // Rule: IPsec policies: their selectors are checked per packet; a blocking default keeps
  // the family on the slow path.
  famBlock.v4.push(...xf.v4);
  famBlock.v6.push(...xf.v6);
  // Rule: rules matching ports are honoured only if l3-router hands the lookup the ports:
  // the parser then reads them for every routed packet.
  let portRules = false;
  for (const fam of [4, 6] as const) {
    const k = fam === 4 ? 'v4' : 'v6';
    const rr = ruleReasons(m.rules.values(), fam);
    famBlock[k].push(...rr.blocking);
    if (!famBlock[k].length) famNotes[k].push(...xf.notes[k]);
    if (rr.honoured && !rr.blocking.length) famNotes[k].push(`${rr.honoured} IPv${fam} policy rule${rr.honoured === 1 ? ' is' : 's are'} honoured by bpf_fib_lookup`);
    if (rr.ports && !rr.blocking.length) {
      portRules = true;
      famNotes[k].push(`${rr.ports} IPv${fam} policy rule${rr.ports === 1 ? ' matches' : 's match'} ports: l3-router reads them for the lookup`);
    }
  }
  const l3Missing = missingFor(caps, SERVICE_NEEDS['l3-router']);
  if (l3Missing.length) {
    famBlock.v4.push(`this kernel lacks ${l3Missing.join(', ')}`);
    famBlock.v6.push(`this kernel lacks ${l3Missing.join(', ')}`);
  }
  const l3Reasons: string[] = [];
  const candidates = new Map<number, { v4: boolean; v6: boolean; via: string | null }>();
  const confOf = (name: string) => sys.devices.get(name);
  for (const l of links) {
    const f = facts.get(l.ifindex)!;
    if (l.kind === 'bridge') {
      // Rule: an address on a bridge with forwarding on makes it a gateway: routed traffic
      // enters through the bridge's ports, which become L3 ingress devices.
      const v4 = addr4.has(l.ifindex) && confOf(l.name)?.v4Forwarding !== false;
      const v6 = addr6.has(l.ifindex);
      if (!v4 && !v6) continue;
      const brBlock: string[] = [];
      if (f.managed) brBlock.push(f.managed);
      if (!isUp(l)) brBlock.push(`${l.name} is down`);
      if (l.bridge?.vlanFiltering) brBlock.push(`${l.name} has vlan_filtering on (not supported yet)`);
      // Rule: bridge-family prerouting/input rules, and the bridge device's own tc ingress
      // filters and nft ingress chains, see routed frames before IP does.
      brBlock.push(...nf.bridgeRoutedIn, ...ingressBlockReasons(l, m));
      if (brBlock.length) {
        l3Reasons.push(`routed traffic through ${l.name} stays on the slow path: ${brBlock.join('; ')}`);
        continue;
      }
      // Rule: bridge-family prerouting/input rules bounded to ports keep what is routed from those ports here.
      const ports = links.filter((p) => {
        if (p.master !== l.ifindex || p.port?.state !== 'forwarding' || p.port.hairpin || facts.get(p.ifindex)!.ingress.length > 0) return false;
        const hits = scopeHits(nf.bridgeRoutedInPorts, p.name);
        if (hits.length) l3Reasons.push(`port ${p.name} is named by bridge-family rules that see routed frames (${hits.join('; ')}): traffic routed from it stays with the kernel`);
        return hits.length === 0;
      });
      // A locked port's frames are checked by the bridge before they are routed, too.
      for (const p of ports.filter((x) => x.port?.locked)) l3Reasons.push(`port ${p.name} is locked (802.1X/MAB): traffic routed from it stays with the kernel`);
      for (const p of ports.filter((x) => !x.port?.locked)) candidates.set(p.ifindex, { v4, v6, via: l.name });
      if (ports.length) l3Reasons.push(`${l.name} has an address and routes: its ports (${ports.map((p) => p.name).join(', ')}) take routed traffic`);
      continue;
    }
    if (l.master !== 0 && m.links.get(l.master)?.kind === 'bridge') continue; // routed via its bridge
    if (l.master !== 0) continue; // bond/other slaves
    const v4 = addr4.has(l.ifindex);
    const v6 = addr6.has(l.ifindex);
    if (!v4 && !v6) continue;
    if (f.ingress.length) {
      if (!f.managed && l.kind !== 'other' && l.name !== 'lo') l3Reasons.push(...f.ingress);
      continue;
    }
    // The ingress device's own forwarding switch decides for IPv4 (IN_DEV_FORWARD).
    const c = confOf(l.name);
    if (v4 && c?.v4Forwarding === false && sys.ipv4Forward) l3Reasons.push(`${l.name} has net.ipv4.conf.${l.name}.forwarding=0`);
    candidates.set(l.ifindex, { v4: v4 && c?.v4Forwarding !== false, v6, via: null });
  }
  const v4ok = famBlock.v4.length === 0;
  const v6ok = famBlock.v6.length === 0;
  // Rule: forward-path rules bounded to the devices traffic enters through keep that
  // traffic on the slow path; routed traffic from a bridge port enters through the bridge.
  for (const [ifindex, c] of candidates) {
    const name = nameOf(ifindex);
    for (const fam of [4, 6] as const) {
      const k = fam === 4 ? 'v4' : 'v6';
      if (!c[k] || !(fam === 4 ? v4ok : v6ok)) continue;
      const hits = [...new Set([...scopeHits(nf.scoped[k].in, name), ...(c.via ? scopeHits(nf.scoped[k].in, c.via) : [])])];
      if (!hits.length) continue;
      c[k] = false;
      l3Reasons.push(`IPv${fam} routed in through ${name} stays on the slow path: netfilter rules match traffic entering ${c.via ?? name} (${hits.join(', ')})`);
    }
  }
  const l3Devices: string[] = [];
  const v4Devices: string[] = [];
  const v6Devices: string[] = [];
  for (const [ifindex, c] of [...candidates].sort((a, b) => byName({ name: nameOf(a[0]) }, { name: nameOf(b[0]) }))) {
    const f = facts.get(ifindex)!;
    f.role.v4 = c.v4 && v4ok;
    f.role.v6 = c.v6 && v6ok;
    if (f.role.v4) v4Devices.push(f.link.name);
    if (f.role.v6) v6Devices.push(f.link.name);
    if (f.role.v4 || f.role.v6) l3Devices.push(f.link.name);
  }
  // Routed traffic out of a device XDP must not transmit on stays on the slow path.
  const l3Notes: string[] = [];
  for (const ifindex of [...egressDevs].sort((a, b) => a - b)) {
    const f = facts.get(ifindex);
    if (!f || f.link.name === 'lo') continue;
    // A bridge is never a redirect target (l3-router finds the port), but what runs on its
    // egress (qdisc, tc filters, nft egress chain) runs before br_dev_xmit.
    const q = f.link.kind === 'bridge' ? [...egressHookReasons(f.link, m), ...(qdiscInfo(f.link, m).isDefault ? [] : [`${f.link.name} has a non-default root qdisc`])]
      : f.egress.filter((r) => r.includes('qdisc') || r.includes('filters') || r.includes('egress chain'));
    if (q.length && l3Devices.length) l3Notes.push(`${q.join('; ')}: routed traffic out of ${f.link.name} stays on the slow path`);
  }
  // Rule: rules bounded to the devices traffic leaves through keep the family's routed
  // traffic out of them on the slow path (l3-router checks the flag per packet).
  // Rule: bridge-family output/postrouting rules see what IP routes out through a bridge.
  // Bounded to ports, they keep only what leaves through those ports (l3-router checks the port it resolves).
  const isBridge = new Set(bridges.map((b) => b.name));
  const isBridgePort = new Set(links.filter((l) => l.master !== 0 && m.links.get(l.master)?.kind === 'bridge').map((l) => l.name));
  const nfOut = (name: string, k: 'v4' | 'v6'): string[] => [
    ...scopeHits(nf.scoped[k].out, name),
    ...(isBridge.has(name) ? nf.bridgeRoutedOut : []),
    ...(isBridgePort.has(name) ? scopeHits(nf.bridgeRoutedOutPorts, name) : []),
  ];
  for (const l of links) {
    for (const fam of [4, 6] as const) {
      const k = fam === 4 ? 'v4' : 'v6';
      const hits = nfOut(l.name, k);
      if (hits.length && (fam === 4 ? v4Devices : v6Devices).length) l3Notes.push(`IPv${fam} routed out of ${l.name} stays on the slow path: netfilter rules match traffic leaving it (${hits.join(', ')})`);
    }
  }
  const l3Ok = l3Devices.length > 0;
  const l3AllReasons: string[] = [];
  if (!v4ok) l3AllReasons.push(...famBlock.v4.map((r) => (v6ok && l3Ok ? `IPv4 stays on the slow path: ${r}` : r)));
  if (!v6ok) l3AllReasons.push(...famBlock.v6.map((r) => (v4ok && l3Ok ? `IPv6 stays on the slow path: ${r}` : r)));
  if (candidates.size === 0) l3AllReasons.push('no usable device has an address to take routed traffic');
  l3AllReasons.push(...l3Reasons, ...famNotes.v4, ...famNotes.v6, ...l3Notes);
  services.push({
    id: 'l3-router',
    kind: 'l3-router',
    devices: l3Devices,
    verdict: l3Ok ? 'accelerated' : 'slow-path',
    reasons: dedupe(l3AllReasons),
    attrs: { ipv4: l3Ok && v4ok && v4Devices.length > 0, ipv6: l3Ok && v6ok && v6Devices.length > 0, ipv4_devices: v4Devices, ipv6_devices: v6Devices, port_rules: portRules },
  });
  const tables = [...perTable.keys()].sort((a, b) => a - b);
  for (const t of tables) edges.push({ from: 'l3-router', to: `routes:${tableName(t)}`, kind: 'depends-on' });
  edges.push({ from: 'l3-router', to: 'addresses', kind: 'depends-on' });
  edges.push({ from: 'l3-router', to: 'neighbours', kind: 'depends-on' });
  edges.push({ from: 'l3-router', to: 'netfilter', kind: 'depends-on' });
  edges.push({ from: 'l3-router', to: 'xfrm', kind: 'depends-on' });
  edges.push({ from: 'l3-router', to: 'sysctl', kind: 'depends-on' });
  for (const ifindex of [...egressDevs].sort((a, b) => a - b)) {
    if (m.links.has(ifindex)) edges.push({ from: 'l3-router', to: `device:${nameOf(ifindex)}`, kind: 'egress-via' });
  }

  // ---- Optional services, one node per configured device.
  const accelerated = [...new Set([...[...l2Accelerated.values()].flat(), ...l3Devices])].sort();
  const pick = (globs: string[] | undefined, dflt: string[]): string[] =>
    globs && globs.length ? links.filter((l) => globs.some((g) => globMatch(g, l.name))).map((l) => l.name) : dflt;
  if (cfg.epping?.enabled) {
    const miss = missingFor(caps, SERVICE_NEEDS['latency-monitor']);
    for (const name of pick(cfg.epping.devices, accelerated)) {
      const l = links.find((x) => x.name === name)!;
      const f = facts.get(l.ifindex)!;
      const why = [...f.ingress, ...(miss.length ? [`this kernel lacks ${miss.join(', ')}`] : [])];
      if (!why.length) f.role.epping = true;
      services.push({ id: `latency-monitor:${name}`, kind: 'latency-monitor', devices: why.length ? [] : [name], verdict: why.length ? 'slow-path' : 'accelerated', reasons: why.length ? why : ['passive RTT from TCP timestamps and ICMP echo'] });
      edges.push({ from: `latency-monitor:${name}`, to: `device:${name}`, kind: 'depends-on' });
    }
  }
  if (cfg.queueing?.enabled) {
    const miss = missingFor(caps, SERVICE_NEEDS.queueing);
    const dflt = links.filter((l) => !facts.get(l.ifindex)!.managed && facts.get(l.ifindex)!.qdisc && !qdiscInfo(l, m).isDefault).map((l) => l.name);
    for (const name of pick(cfg.queueing.devices, dflt)) {
      const l = links.find((x) => x.name === name)!;
      const f = facts.get(l.ifindex)!;
      const why: string[] = [];
      if (f.managed) why.push(f.managed);
      if (!isUp(l)) why.push(`${name} is down`);
      if (miss.length) why.push(`this kernel lacks ${miss.join(', ')}`);
      if (!why.length) f.role.queueing = true;
      const note = f.qdisc ? `frames for ${name} go through a cpumap into its ${f.qdisc} qdisc` : `frames for ${name} go through a cpumap into the kernel's qdisc`;
      services.push({ id: `queueing:${name}`, kind: 'queueing', devices: why.length ? [] : [name], verdict: why.length ? 'slow-path' : 'accelerated', reasons: why.length ? why : [note] });
      edges.push({ from: `queueing:${name}`, to: `device:${name}`, kind: 'depends-on' });
    }
  }

  // ---- Nodes.
  for (const l of links) {
    const f = facts.get(l.ifindex)!;
    const c = sys.devices.get(l.name);
    const dc = caps.devices[l.name];
    const owned = new Set(cfg.ownedXdpProgIds ?? []);
    const attrs: Record<string, AttrValue> = {
      ifindex: l.ifindex,
      kind: l.kind,
      info_kind: l.infoKind,
      oper: l.operState,
      admin_up: l.adminUp,
      up: isUp(l),
      mtu: l.mtu,
      mac: l.mac,
      master: l.master ? nameOf(l.master) : null,
      xdp_mode: l.xdp.mode,
      xdp_prog_id: l.xdp.progId,
      xdp_owned: l.xdp.progId > 0 && owned.has(l.xdp.progId),
      driver: dc?.driver ?? null,
      xdp_native: dc?.xdpNative ?? null,
      managed: f.managed === null,
      ingress_ok: f.ingress.length === 0,
      ingress_reasons: f.ingress,
      egress_ok: f.egress.length === 0,
      egress_reasons: f.egress,
      qdisc: f.qdisc || null,
      v4_forwarding: c?.v4Forwarding ?? null,
      rp_filter: c?.rpFilter ?? null,
      v6_forwarding: c?.v6Forwarding ?? null,
      role_l2_bridge: f.role.l2,
      nf_egress_v4: nfOut(l.name, 'v4').length > 0,
      nf_egress_v6: nfOut(l.name, 'v6').length > 0,
      route_mtu_v4: smallestMtu(routeMtu4.get(l.ifindex), routeMtu4Any),
      role_l3_v4: f.role.v4,
      role_l3_v6: f.role.v6,
      role_epping: f.role.epping,
      role_queueing: f.role.queueing,
    };
    if (l.vlanId !== null) attrs.vlan_id = l.vlanId;
    nodes.push({ id: `device:${l.name}`, kind: 'device', name: l.name, attrs });
    const master = l.master ? m.links.get(l.master) : undefined;
    if (master && master.kind !== 'bridge') edges.push({ from: `device:${l.name}`, to: `device:${master.name}`, kind: 'member-of' });
    for (const q of m.qdiscs.values()) {
      if (q.ifindex !== l.ifindex || !(q.root || q.ingress)) continue;
      const qid = `qdisc:${l.name}/${q.ingress ? 'ingress' : 'root'}`;
      const qa: Record<string, AttrValue> = { kind: q.kind, handle: handleString(q.handle) };
      if (q.root) qa.default = qdiscInfo(l, m).isDefault;
      if (q.ingress) qa.filters = [...m.filters.values()].filter((x) => x.ifindex === l.ifindex).length;
      nodes.push({ id: qid, kind: 'qdisc', name: `${l.name} ${q.ingress ? 'ingress' : 'root'}`, attrs: qa });
      edges.push({ from: `device:${l.name}`, to: qid, kind: 'depends-on' });
    }
  }
  for (const br of bridges) {
    const b = br.bridge;
    const ports = links.filter((l) => l.master === br.ifindex);
    nodes.push({
      id: `bridge:${br.name}`, kind: 'bridge', name: br.name,
      attrs: {
        ifindex: br.ifindex, stp_state: b?.stpState ?? 0, ageing_time_cs: b?.ageingTimeCs ?? 0,
        forward_delay_cs: b?.forwardDelayCs ?? 0, vlan_filtering: b?.vlanFiltering ?? false,
        nf_call_iptables: b?.nfCallIptables ?? null, ports: ports.map((p) => p.name),
      },
    });
    edges.push({ from: `bridge:${br.name}`, to: `device:${br.name}`, kind: 'depends-on' });
    edges.push({ from: `bridge:${br.name}`, to: `fdb:${br.name}`, kind: 'depends-on' });
    for (const p of ports) {
      const pid = `port:${br.name}/${p.name}`;
      nodes.push({
        id: pid, kind: 'port', name: p.name,
        attrs: {
          state: p.port?.state ?? null, learning: p.port?.learning ?? null, flood: p.port?.flood ?? null,
          hairpin: p.port?.hairpin ?? null, isolated: p.port?.isolated ?? null, locked: p.port?.locked ?? null,
          neigh_suppress: p.port?.neighSuppress ?? null, proxy_arp: p.port?.proxyArp ?? null,
          accelerated: l2Accelerated.get(br.ifindex)?.includes(p.name) ?? false,
        },
      });
      edges.push({ from: pid, to: `bridge:${br.name}`, kind: 'member-of' });
      edges.push({ from: pid, to: `device:${p.name}`, kind: 'depends-on' });
    }
    let n = 0, local = 0, stat = 0, dyn = 0, ext = 0;
    for (const e of m.fdb.values()) {
      if (e.master !== br.ifindex) continue;
      n++;
      if (e.flags.local) local++;
      else if (e.flags.static) stat++;
      else if (e.flags.dynamic) dyn++;
      if (e.flags.externLearn) ext++;
    }
    nodes.push({ id: `fdb:${br.name}`, kind: 'fdb', name: `${br.name} fdb`, attrs: { entries: n, local, static: stat, dynamic: dyn, extern_learn: ext } });
  }
  let a4 = 0, a6 = 0;
  for (const a of m.addresses.values()) if (a.family === 4) a4++; else a6++;
  nodes.push({ id: 'addresses', kind: 'addresses', name: 'addresses', attrs: { ipv4: a4, ipv6: a6 } });
  for (const t of tables) {
    const s = perTable.get(t)!;
    nodes.push({ id: `routes:${tableName(t)}`, kind: 'routes', name: `table ${tableName(t)}`, attrs: { table: t, ipv4: s.v4, ipv6: s.v6, multipath: s.multipath, default_v4: s.dflt4, default_v6: s.dflt6 } });
  }
  const custom = [...m.rules.values()].filter((r) => !r.isDefault).sort((a, b) => a.priority - b.priority || a.key.localeCompare(b.key));
  if (custom.length) {
    nodes.push({ id: 'routes:rules', kind: 'routes', name: 'policy rules', attrs: { rules: custom.map((r) => `${r.family === 4 ? 'ipv4' : 'ipv6'} ${r.priority} lookup ${tableName(r.table)}`) } });
    edges.push({ from: 'l3-router', to: 'routes:rules', kind: 'depends-on' });
  }
  let n4 = 0, n6 = 0;
  for (const n of m.neighbours.values()) if (n.family === 4) n4++; else n6++;
  nodes.push({ id: 'neighbours', kind: 'neighbours', name: 'neighbours', attrs: { ipv4: n4, ipv6: n6 } });
  nodes.push({
    id: 'netfilter', kind: 'netfilter', name: 'netfilter',
    attrs: {
      checked: m.netfilter.checked,
      chains: m.netfilter.chains.map((c) => `${c.family} ${c.table} ${c.name} (${c.hook}, ${c.rules} rules, policy ${c.policy})`),
      ipv4_blocking: nf.v4, ipv6_blocking: nf.v6, bridge_blocking: nf.bridge,
      // Device-name patterns that forward-path rules are bounded to, and their chains.
      ipv4_bound_in: scopeList(nf.scoped.v4.in), ipv4_bound_out: scopeList(nf.scoped.v4.out),
      ipv6_bound_in: scopeList(nf.scoped.v6.in), ipv6_bound_out: scopeList(nf.scoped.v6.out),
      bridge_bound_ports: scopeList(nf.bridgePorts),
      bridge_routed_bound_in: scopeList(nf.bridgeRoutedInPorts), bridge_routed_bound_out: scopeList(nf.bridgeRoutedOutPorts),
      errors: m.netfilter.errors,
    },
  });
  nodes.push({
    id: 'xfrm', kind: 'xfrm', name: 'IPsec policies',
    attrs: {
      checked: m.xfrm.checked,
      policy_count: m.xfrm.policies.length,
      policies: m.xfrm.policies.slice(0, 50).map(describePolicy), // the first 50
      default_in: m.xfrm.defaults.in, default_fwd: m.xfrm.defaults.fwd, default_out: m.xfrm.defaults.out,
      ipv4_blocking: xf.v4, ipv6_blocking: xf.v6, ipv4_selectors: xf.selectors.v4, ipv6_selectors: xf.selectors.v6,
      error: m.xfrm.error,
    },
  });
  nodes.push({
    id: 'sysctl', kind: 'sysctl', name: 'sysctl',
    attrs: {
      ip_forward: sys.ipv4Forward, ipv6_forwarding: sys.ipv6Forward, rp_filter_all: sys.rpFilterAll,
      fib_multipath_hash_policy_v4: sys.multipathPolicy4, fib_multipath_hash_policy_v6: sys.multipathPolicy6,
      bridge_nf_call_iptables: sys.bridgeNfCallIptables, bridge_nf_call_ip6tables: sys.bridgeNfCallIp6tables,
      bridge_nf_call_arptables: sys.bridgeNfCallArptables, default_qdisc: sys.defaultQdisc,
    },
  });
  nodes.push({
    id: 'capabilities', kind: 'capabilities', name: 'capabilities',
    attrs: { kernel: caps.kernel, btf: caps.btf, bpffs: caps.bpffs, missing: caps.missing },
  });

  nodes.sort((a, b) => cmp(a.id, b.id));
  services.sort((a, b) => cmp(a.id, b.id));
  edges.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to) || cmp(a.kind, b.kind));
  return { version, nodes, edges: dedupeEdges(edges), services };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

function dedupeEdges(es: GraphEdge[]): GraphEdge[] {
  const seen = new Set<string>();
  return es.filter((e) => {
    const k = `${e.from}\0${e.to}\0${e.kind}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function handleString(h: number): string {
  const maj = (h >>> 16).toString(16);
  const min = h & 0xffff;
  return min ? `${maj}:${min.toString(16)}` : `${maj}:`;
}
