// Per-device and netfilter facts the graph rules are built from. Pure functions of the
// model, the capabilities and the configuration (docs/graph-rules.md lists the rules).
import { globMatch } from '../model/addr';
import { TC_H_INGRESS, TC_H_MIN_EGRESS } from '../model/decode';
import type { KernelModel, Link, NfChain, Qdisc, Rule, XfrmPolicy, XfrmState } from '../model/types';
import { forwardPolicies } from '../model/xfrm';
import type { Capabilities } from '../capabilities/types';
import type { GraphConfig } from './config';

// Rule: devices excluded by config or disabled via the API are left alone.
export function managedReason(link: Link, cfg: GraphConfig): string | null {
  if (cfg.disabledDevices?.includes(link.name)) return `${link.name} is disabled via the API`;
  if (cfg.exclude?.some((g) => globMatch(g, link.name))) return `${link.name} is excluded by configuration`;
  if (cfg.include && cfg.include.length > 0 && !cfg.include.some((g) => globMatch(g, link.name))) {
    return `${link.name} is not in the configured device list`;
  }
  return null;
}

// Rule: oper-down devices are not used. Devices without carrier reporting (tun, dummy)
// say 'unknown'; they count as up when admin-up with IFF_LOWER_UP.
export function isUp(link: Link): boolean {
  return link.adminUp && (link.operState === 'up' || (link.operState === 'unknown' && link.lowerUp));
}

// Rule: VLAN devices, bonds, macvlan and tun are not accelerated yet; XDP ingress runs on
// physical NICs and veth only.
export function kindReason(link: Link): string | null {
  switch (link.kind) {
    case 'physical': case 'veth': return null;
    case 'vlan': return `${link.name} is an 802.1Q VLAN device (not accelerated yet)`;
    case 'bond': return `${link.name} is a bond (not accelerated yet)`;
    case 'macvlan': return `${link.name} is a macvlan device (not accelerated yet)`;
    case 'tun': return `${link.name} is a tun/tap device (not accelerated yet)`;
    case 'dummy': return `${link.name} is a dummy device (carries no traffic)`;
    case 'bridge': return `${link.name} is a bridge (its ports are accelerated, not the bridge device)`;
    default: return `${link.name} is a ${link.infoKind ?? `type ${link.linkType}`} device (not supported)`;
  }
}

function xdpIds(link: Link): number[] {
  return [link.xdp.progId, link.xdp.drvProgId, link.xdp.skbProgId, link.xdp.hwProgId].filter((x) => x > 0);
}

// Rule: a device that already has someone else's XDP program is left alone.
export function foreignXdpReason(link: Link, cfg: GraphConfig): string | null {
  const owned = new Set(cfg.ownedXdpProgIds ?? []);
  const foreign = [...new Set(xdpIds(link))].filter((id) => !owned.has(id));
  if (foreign.length === 0) return null;
  return `${link.name} already has an XDP program attached by someone else (id ${foreign.join(', ')})`;
}

export function isIngressFilterParent(parent: number): boolean {
  return (parent & 0xffff0000) >>> 0 === (TC_H_INGRESS & 0xffff0000) >>> 0 && (parent & 0xffff) !== TC_H_MIN_EGRESS;
}

function isEgressFilterParent(parent: number): boolean {
  return (parent & 0xffff0000) >>> 0 === (TC_H_INGRESS & 0xffff0000) >>> 0 && (parent & 0xffff) === TC_H_MIN_EGRESS;
}

// slipstream's own tc programs are named ss_*; anything else is someone else's.
function foreignFilter(name: string): boolean {
  return !name.startsWith('ss_');
}

function chainLabel(c: NfChain): string {
  return `${c.family} ${c.table} ${c.name}`;
}

function onDevice(c: NfChain, link: Link): boolean {
  return c.devices.includes(link.name) || c.devices.includes('*');
}

function activeChain(c: NfChain): boolean {
  return c.rules > 0 || c.policy === 'drop';
}

// Rule: tc ingress filters and nftables ingress chains run after XDP, so accelerating the
// device's ingress would bypass them.
export function ingressBlockReasons(link: Link, m: KernelModel): string[] {
  const out: string[] = [];
  const kinds = new Set<string>();
  for (const f of m.filters.values()) {
    if (f.ifindex === link.ifindex && isIngressFilterParent(f.parent) && foreignFilter(f.name)) kinds.add(f.kind || 'unknown');
  }
  if (kinds.size) out.push(`${link.name} has tc ingress filters (${[...kinds].sort().join(', ')}), which run after XDP`);
  for (const c of m.netfilter.chains) {
    if (c.hook === 'ingress' && onDevice(c, link) && activeChain(c)) {
      out.push(`${link.name} has an nftables ingress chain with rules (${chainLabel(c)})`);
    }
  }
  return out;
}

export interface QdiscInfo {
  kind: string; // root kind ('' when the device reports none)
  isDefault: boolean;
  nonDefaultKind: string | null; // the shaping qdisc found (root or an mq child)
}

// Rule: only noqueue, pfifo_fast, mq and the kernel's default qdisc with handle 0: count as
// "default"; anything else on an egress device must not be bypassed by XDP redirects.
export function qdiscInfo(link: Link, m: KernelModel): QdiscInfo {
  let root: Qdisc | null = null;
  const children: Qdisc[] = [];
  for (const q of m.qdiscs.values()) {
    if (q.ifindex !== link.ifindex || q.ingress) continue;
    if (q.root) root = q;
    else children.push(q);
  }
  const isDefaultKind = (q: Qdisc): boolean =>
    q.kind === 'noqueue' || q.kind === 'pfifo_fast' || q.kind === 'mq' || (q.handle === 0 && q.kind === m.sysctls.defaultQdisc);
  if (!root) return { kind: '', isDefault: true, nonDefaultKind: null };
  if (!isDefaultKind(root)) return { kind: root.kind, isDefault: false, nonDefaultKind: root.kind };
  if (root.kind === 'mq') {
    const odd = children.find((c) => (c.parent & 0xffff0000) >>> 0 === (root!.handle & 0xffff0000) >>> 0 && !isDefaultKind(c));
    if (odd) return { kind: root.kind, isDefault: false, nonDefaultKind: odd.kind };
  }
  return { kind: root.kind, isDefault: true, nonDefaultKind: null };
}

// tc egress filters and nftables egress chains on the device: what dev_queue_xmit runs
// before the device gets the packet (for a bridge: before br_dev_xmit).
export function egressHookReasons(link: Link, m: KernelModel): string[] {
  const out: string[] = [];
  const kinds = new Set<string>();
  for (const f of m.filters.values()) {
    if (f.ifindex === link.ifindex && isEgressFilterParent(f.parent) && foreignFilter(f.name)) kinds.add(f.kind || 'unknown');
  }
  if (kinds.size) out.push(`${link.name} has tc egress filters (${[...kinds].sort().join(', ')})`);
  for (const c of m.netfilter.chains) {
    if (c.hook === 'egress' && onDevice(c, link) && activeChain(c)) {
      out.push(`${link.name} has an nftables egress chain with rules (${chainLabel(c)})`);
    }
  }
  return out;
}

// Whether XDP may redirect frames out of this device.
export function egressReasons(link: Link, m: KernelModel, cfg: GraphConfig, caps: Capabilities): string[] {
  const out: string[] = [];
  const managed = managedReason(link, cfg);
  if (managed) out.push(managed);
  if (!isUp(link)) out.push(`${link.name} is down`);
  if (link.kind !== 'physical' && link.kind !== 'veth') out.push(`${link.name} cannot transmit XDP frames (${link.kind})`);
  const q = qdiscInfo(link, m);
  if (!q.isDefault) out.push(`${link.name} has ${article(q.nonDefaultKind ?? q.kind)} ${q.nonDefaultKind ?? q.kind} root qdisc`);
  out.push(...egressHookReasons(link, m));
  const dc = caps.devices[link.name];
  if (dc && !dc.xdpNative && link.kind === 'physical') out.push(`${link.name} (driver ${dc.driver || 'unknown'}) has no native XDP transmit`);
  if (cfg.noXdpTransmit?.includes(link.name)) {
    out.push(link.kind === 'veth'
      ? `${link.name} cannot take XDP redirects: its veth peer has neither GRO nor an XDP program`
      : `${link.name} cannot take XDP redirects (the kernel reports no ndo_xdp_xmit)`);
  }
  return out;
}

function article(word: string): string {
  // Qdisc names are mostly read as letters: "an htb", "an sfq", "a tbf", "a prio".
  return /^([aeiou]|htb|hfsc|fq|sfq|sfb|ets|mq)/i.test(word) ? 'an' : 'a';
}

// Device-name patterns ('*' ends a wildcard) that forward-path rules are bounded to, each
// with the chains that bound it.
export interface NfScope {
  in: Map<string, string[]>; // routed traffic entering a matching device meets rules
  out: Map<string, string[]>; // routed traffic leaving through one does
}

export interface NetfilterFacts {
  v4: string[]; // reasons routed IPv4 must stay on the slow path
  v6: string[];
  bridge: string[]; // nft bridge-family rules on bridged traffic, unbounded: every bridge stays here
  // Bridge ports (name patterns) that bounded bridge-family rules match frames entering or
  // leaving through, with the chains: those ports stay with the kernel, the rest of the bridge not.
  bridgePorts: Map<string, string[]>;
  // nft bridge-family rules that routed traffic meets too: entering through a bridge port
  // (prerouting, input: the frame is the bridge's before IP routes it) and leaving through a
  // bridge (output, postrouting: the bridge transmits what IP routed to it). Unbounded ones
  // keep all routing through bridges with the kernel; ones bounded to ports (iifname on the
  // way in, oifname on the way out) only what enters or leaves through the ports they name.
  bridgeRoutedIn: string[]; // reasons
  bridgeRoutedOut: string[]; // chain labels
  bridgeRoutedInPorts: Map<string, string[]>;
  bridgeRoutedOutPorts: Map<string, string[]>;
  scoped: { v4: NfScope; v6: NfScope }; // rules that only concern some devices
}

const FORWARD_HOOKS = new Set(['prerouting', 'forward', 'postrouting']);

function addScope(m: Map<string, string[]>, names: string[], label: string): void {
  for (const n of names) {
    const l = m.get(n) ?? [];
    if (!l.includes(label)) l.push(label);
    m.set(n, l);
  }
}

function nameMatches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

// The chains whose rules bound routed traffic through a device with this name, or [].
export function scopeHits(m: Map<string, string[]>, name: string): string[] {
  const out: string[] = [];
  for (const [p, labels] of m) if (nameMatches(name, p)) for (const l of labels) if (!out.includes(l)) out.push(l);
  return out;
}

// Reasons a bridge-family chain that bridged frames traverse keeps every bridge with the
// kernel; rules bounded to ports go into `ports` instead. Bridge conntrack must see every
// frame of a flow, a drop policy every frame.
function bridgedFrameRules(c: NfChain, label: string, ports: Map<string, string[]>): string[] {
  const unbounded = `netfilter has rules for bridged traffic (${label})`;
  if (!c.scopes || c.scopes.length < c.rules) return [unbounded];
  const out: string[] = [];
  if (c.policy === 'drop') out.push(`netfilter drops bridged frames by default (${label}: policy drop)`);
  if (c.scopes.some((r) => r.stateful)) out.push(`netfilter uses connection tracking for bridged traffic (${label})`);
  for (const r of c.scopes) {
    if (!r.effect || r.stateful) continue;
    if (r.iif) addScope(ports, r.iif, label);
    else if (r.oif) addScope(ports, r.oif, label);
    else if (!out.includes(unbounded)) out.push(unbounded);
  }
  return out;
}

// Whether a bridge-family chain that routed traffic meets is bounded to ports by `bound`
// (iif on the way in, oif on the way out): then its ports go into `ports` and it returns
// true. A drop policy, conntrack or one rule with an effect and no such bound: false.
function routedBridgeRules(c: NfChain, label: string, bound: 'iif' | 'oif', ports: Map<string, string[]>): boolean {
  if (!c.scopes || c.scopes.length < c.rules || c.policy === 'drop' || c.scopes.some((r) => r.stateful)) return false;
  const named: string[] = [];
  for (const r of c.scopes) {
    if (!r.effect) continue;
    const b = r[bound];
    if (!b) return false;
    named.push(...b);
  }
  addScope(ports, named, label);
  return true;
}

// Rule: netfilter forward-path rules keep routed traffic of their family on the slow path.
// A rule bounded by a positive iifname/oifname (iif/oif) match, and which does not use
// connection tracking, only keeps traffic entering or leaving those devices there; a plain
// accept is no effect at all. NAT, a drop policy, conntrack anywhere the forward path can
// reach (it must see every packet of a flow, in both directions) or a rule without a device
// bound keep the whole family. nft bridge-family rules on bridged frames follow the same
// logic with bridge ports: bounded ones keep only the ports they name with the kernel, the
// others every bridge (br_netfilter is handled per bridge: bridgedRules in build.ts).
export function netfilterFacts(m: KernelModel): NetfilterFacts {
  const empty = (): NfScope => ({ in: new Map(), out: new Map() });
  const f: NetfilterFacts = {
    v4: [], v6: [], bridge: [], bridgePorts: new Map(), bridgeRoutedIn: [], bridgeRoutedOut: [],
    bridgeRoutedInPorts: new Map(), bridgeRoutedOutPorts: new Map(), scoped: { v4: empty(), v6: empty() },
  };
  for (const c of m.netfilter.chains) {
    if (!activeChain(c)) continue;
    const label = chainLabel(c);
    if (c.family === 'bridge') {
      const at = `${label}, ${c.hook}`;
      if ((c.hook === 'prerouting' || c.hook === 'input') && !routedBridgeRules(c, at, 'iif', f.bridgeRoutedInPorts)) {
        f.bridgeRoutedIn.push(`netfilter has bridge-family rules (${at})`);
      }
      if ((c.hook === 'output' || c.hook === 'postrouting') && !routedBridgeRules(c, at, 'oif', f.bridgeRoutedOutPorts)) {
        f.bridgeRoutedOut.push(at);
      }
      if (FORWARD_HOOKS.has(c.hook)) f.bridge.push(...bridgedFrameRules(c, label, f.bridgePorts));
      continue;
    }
    if (!FORWARD_HOOKS.has(c.hook)) continue;
    const fams = c.family === 'ip' ? ['v4' as const] : c.family === 'ip6' ? ['v6' as const] : c.family === 'inet' ? ['v4' as const, 'v6' as const] : [];
    const unbounded = `netfilter has rules in the forward path (${label})`;
    for (const fam of fams) {
      const reasons = f[fam];
      if (c.type === 'nat') reasons.push(`netfilter has NAT rules (${label})`);
      else if (!c.scopes || c.scopes.length < c.rules) reasons.push(unbounded);
      else {
        if (c.policy === 'drop') reasons.push(`netfilter drops forwarded packets by default (${label}: policy drop)`);
        // In an inet chain, a rule matching `ip …` (or `meta nfproto ipv4`) never sees IPv6.
        const mine = c.scopes.filter((r) => !r.family || `v${r.family}` === fam);
        if (mine.some((r) => r.stateful)) reasons.push(`netfilter uses connection tracking in the forward path (${label})`);
        for (const r of mine) {
          if (!r.effect || r.stateful) continue;
          if (r.iif) addScope(f.scoped[fam].in, r.iif, label);
          else if (r.oif) addScope(f.scoped[fam].out, r.oif, label);
          else if (!reasons.includes(unbounded)) reasons.push(unbounded);
        }
      }
    }
  }
  const ipt = (fam: 'v4' | 'v6', tool: string): void => {
    const s = m.netfilter.iptables[fam];
    if (!s) return;
    for (const [chain, n] of Object.entries(s.forward).sort()) f[fam].push(`${tool} has ${n} rule${n === 1 ? '' : 's'} in the forward path (${chain})`);
    if (s.nat > 0) f[fam].push(`${tool} has ${s.nat} NAT rule${s.nat === 1 ? '' : 's'}`);
    if (s.stateful) f[fam].push(`${tool} uses connection tracking (${s.stateful} rule${s.stateful === 1 ? '' : 's'})`);
    for (const r of s.scoped ?? []) {
      const label = `${tool} ${r.chain}`;
      if (r.iif) addScope(f.scoped[fam].in, r.iif, label);
      else if (r.oif) addScope(f.scoped[fam].out, r.oif, label);
    }
  };
  ipt('v4', 'iptables');
  ipt('v6', 'ip6tables');
  // iptables-nft tables also show up in nft's list; keep one reason per chain.
  f.v4 = [...new Set(f.v4)];
  f.v6 = [...new Set(f.v6)];
  return f;
}

// Rule: policy rules selecting on what bpf_fib_lookup cannot see (fwmark, uid, oif, l3mdev)
// send that family's routing to the slow path; other rules are honoured by the lookup, those
// matching ports only if the lookup is given them (`ports` counts those).
export function ruleReasons(rules: Iterable<Rule>, family: 4 | 6): { blocking: string[]; honoured: number; ports: number } {
  const blocking: string[] = [];
  let honoured = 0;
  let ports = 0;
  for (const r of rules) {
    if (r.family !== family || r.isDefault) continue;
    const sel: string[] = [];
    if (r.fwmark || r.fwmask) sel.push('fwmark');
    if (r.uidRange) sel.push('uid range');
    if (r.oifname) sel.push('output interface');
    if (r.l3mdev) sel.push('l3mdev');
    if (sel.length) blocking.push(`policy rule ${r.priority} selects on ${sel.join(', ')} (not visible to the fast path)`);
    else honoured++;
    if (r.ports) ports++;
  }
  return { blocking, honoured, ports };
}

function sel(p: XfrmPolicy): string {
  if (!p.family) return 'any';
  const side = (a: string, len: number): string => (len === 0 ? 'any' : `${a}/${len}`);
  return `${side(p.src, p.srcLen)} → ${side(p.dst, p.dstLen)}${p.proto ? ` proto ${p.proto}` : ''}`;
}

export function describePolicy(p: XfrmPolicy): string {
  const what = p.action === 'block' ? 'block' : p.templates.length ? p.templates.join(', ') : 'allow';
  return `xfrm policy ${p.dir} ${sel(p)} (${what})`;
}

const MAX_LISTED = 3;

// Each policy puts at most two prefixes into l3-router's selector table (SS_XFRM_PREFIXES).
export const XFRM_POLICY_LIMIT = 2048;

export interface XfrmFacts {
  v4: string[]; // reasons routed IPv4 must stay on the slow path
  v6: string[];
  notes: { v4: string[]; v6: string[] };
  selectors: { v4: boolean; v6: boolean }; // l3-router must check the family's selectors
}

// Rule: IPsec fwd/out policies of a family make l3-router hand the kernel every packet within
// their selectors (the kernel may encrypt or drop it); a default policy that blocks forwarded
// or sent packets, more policies than the selector table holds, or a failed read keeps the
// family on the slow path altogether.
export function xfrmFacts(x: XfrmState): XfrmFacts {
  const out: XfrmFacts = { v4: [], v6: [], notes: { v4: [], v6: [] }, selectors: { v4: false, v6: false } };
  if (x.checked && x.error) {
    out.v4.push(`IPsec policies are unknown (${x.error})`);
    out.v6.push(`IPsec policies are unknown (${x.error})`);
    return out;
  }
  for (const d of ['fwd', 'out'] as const) {
    if (x.defaults[d] === 'block') {
      const r = `the xfrm default policy for ${d} is block (IPsec: only packets a policy allows are forwarded)`;
      out.v4.push(r);
      out.v6.push(r);
    }
  }
  for (const fam of ['v4', 'v6'] as const) {
    const mine = forwardPolicies(x).filter((p) => p.family === 0 || `v${p.family}` === fam);
    if (!mine.length) continue;
    if (mine.length > XFRM_POLICY_LIMIT) {
      out[fam].push(`${mine.length} IPsec policies apply to forwarded packets, more than the fast path checks (${XFRM_POLICY_LIMIT})`);
      continue;
    }
    const listed = mine.slice(0, MAX_LISTED).map(describePolicy).join('; ');
    const more = mine.length > MAX_LISTED ? `; and ${mine.length - MAX_LISTED} more` : '';
    out.selectors[fam] = true;
    out.notes[fam].push(`IP${fam} packets within IPsec policy selectors go to the kernel (xfrm_policy): ${listed}${more}`);
  }
  return out;
}

export function missingFor(caps: Capabilities, needs: { helpers: string[]; mapTypes: string[]; kfuncs: string[] }): string[] {
  const out: string[] = [];
  for (const h of needs.helpers) if (caps.helpers[h] === false) out.push(h);
  for (const t of needs.mapTypes) if (caps.mapTypes[t] === false) out.push(`${t} maps`);
  for (const k of needs.kfuncs) if (caps.kfuncs[k] === false) out.push(k);
  return out;
}
