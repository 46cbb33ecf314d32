import { RouteTable } from './routes';

// The kernel object model: what rtnetlink, /proc/sys and netfilter say is configured in
// one network namespace. Every table is a Map with a stable key, so an event replaces or
// removes exactly one entry and two models can be compared entry by entry.

export type LinkKind = 'physical' | 'veth' | 'bridge' | 'vlan' | 'bond' | 'macvlan' | 'tun' | 'dummy' | 'other';

export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

export type XdpAttachMode = 'none' | 'native' | 'generic' | 'offload' | 'multi';

export interface XdpState {
  mode: XdpAttachMode;
  progId: number; // the single attached program (IFLA_XDP_PROG_ID), 0 if none
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

// IFLA_BR_* of a bridge device. Times in centiseconds (the kernel's clock_t units).
export interface BridgeAttrs {
  stpState: number; // 0 off, 1 kernel STP, 2 user STP
  ageingTimeCs: number;
  forwardDelayCs: number;
  vlanFiltering: boolean;
  nfCallIptables: boolean | null; // per-bridge nf_call_iptables (br_netfilter), null when not reported
  nfCallIp6tables: boolean | null;
  nfCallArptables: boolean | null;
}

export type PortState = 'disabled' | 'listening' | 'learning' | 'forwarding' | 'blocking';

// IFLA_BRPORT_* of a bridge port (from slave data or AF_BRIDGE IFLA_PROTINFO).
export interface BridgePortAttrs {
  state: PortState;
  learning: boolean;
  flood: boolean; // unicast flood
  hairpin: boolean;
  isolated: boolean;
  locked: boolean; // 802.1X/MAB: the kernel drops frames from sources not authorized on it
  neighSuppress: boolean; // ARP/ND suppression: the bridge may answer ARP and NS itself
  proxyArp: boolean; // proxyarp or proxyarp_wifi
}

export interface Link {
  ifindex: number;
  name: string;
  kind: LinkKind;
  infoKind: string | null; // IFLA_INFO_KIND as the kernel says it ('veth', 'ifb', ...)
  linkType: number; // ARPHRD_*
  operState: OperState;
  adminUp: boolean; // IFF_UP
  lowerUp: boolean; // IFF_LOWER_UP (carrier)
  mtu: number;
  master: number; // ifindex of the master device (bridge, bond), 0 if none
  mac: string; // aa:bb:cc:dd:ee:ff, '' when the device has no L2 address
  parent: number; // IFLA_LINK (vlan lower device, veth peer index in its netns), 0 if none
  vlanId: number | null; // 802.1Q id of a vlan device
  xdp: XdpState;
  bridge: BridgeAttrs | null; // set for kind 'bridge'
  port: BridgePortAttrs | null; // set while the device is a bridge port
}

export interface FdbFlags {
  static: boolean; // NUD_NOARP without NUD_PERMANENT: user-added static entry
  local: boolean; // NUD_PERMANENT: the bridge's own address (delivered locally)
  dynamic: boolean; // learned, ages out
  externLearn: boolean; // NTF_EXT_LEARNED
  self: boolean; // NTF_SELF: the device's own FDB, not the bridge's
  master: boolean; // NTF_MASTER
  sticky: boolean;
}

export interface FdbEntry {
  key: string;
  mac: string;
  vlan: number; // 0 when untagged / no NDA_VLAN
  ifindex: number; // the port (or the bridge itself for its own addresses)
  master: number; // NDA_MASTER: the bridge, 0 for self entries
  state: number; // NUD_* bits
  flags: Readonly<FdbFlags>; // shared between entries: replace, never change
}

export type Family = 4 | 6;

export interface Address {
  key: string;
  family: Family;
  ifindex: number;
  address: string;
  prefixLen: number;
  scope: number; // RT_SCOPE_*: 0 universe, 253 link, 254 host
  flags: number; // IFA_F_*
}

export interface NextHop {
  ifindex: number; // 0 when unknown (e.g. blackhole)
  gateway: string | null;
  weight: number; // rtnh_hops + 1
  flags: number; // RTNH_F_*, without DEAD and LINKDOWN (decode.ts)
}

export type RouteType =
  | 'unspec' | 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole'
  | 'unreachable' | 'prohibit' | 'throw' | 'nat' | 'xresolve';

export interface Route {
  key: string;
  family: Family;
  table: number;
  dst: string; // network address, '' for the default route
  dstLen: number;
  src: string;
  srcLen: number;
  tos: number;
  priority: number; // metric
  protocol: number; // RTPROT_*
  scope: number;
  type: RouteType;
  prefsrc: string | null;
  // One for a plain route, several for multipath, none for e.g. blackhole. Frozen and often
  // shared between routes: replace the list, never change it.
  nexthops: readonly NextHop[];
  nhId: number; // RTA_NH_ID (nexthop objects), 0 when unused
  mtu?: number; // RTAX_MTU metric (locked or not), absent or 0 when the route has none
}

// A nexthop object (`ip nexthop`): a single next hop, or a group of other objects' ids.
// Routes refer to one by RTA_NH_ID; with net.ipv4.nexthop_compat_mode=0 they carry nothing
// else, so their devices and their multipath are known only from these.
export interface NexthopObject {
  key: string; // String(id)
  id: number;
  ifindex: number; // 0 for a group or a blackhole
  gateway: string | null;
  group: readonly number[]; // member ids, empty unless a group
  blackhole: boolean;
  fdb: boolean;
}

export interface Rule {
  key: string;
  family: Family;
  priority: number;
  table: number;
  action: number; // FR_ACT_*: 1 to_tbl, 2 goto, 3 nop, 6 blackhole, 7 unreachable, 8 prohibit
  src: string;
  srcLen: number;
  dst: string;
  dstLen: number;
  tos: number;
  iifname: string;
  oifname: string;
  fwmark: number;
  fwmask: number;
  uidRange: boolean; // has a uid range selector
  l3mdev: boolean;
  ipProto: number;
  ports: boolean; // has sport/dport ranges
  suppressPrefixlen: number; // -1 when unset
  isDefault: boolean; // one of the rules the kernel creates itself
}

export interface Neighbour {
  key: string;
  family: Family;
  ifindex: number;
  dst: string;
  lladdr: string;
  state: number; // NUD_* bits
  flags: number; // NTF_*
  router: boolean;
}

export interface Qdisc {
  key: string;
  ifindex: number;
  kind: string;
  handle: number;
  parent: number; // TC_H_ROOT (0xffffffff) for the root qdisc, TC_H_INGRESS for ingress/clsact
  root: boolean;
  ingress: boolean; // ingress or clsact
}

export interface TcFilter {
  key: string;
  ifindex: number;
  parent: number;
  priority: number;
  protocol: number;
  handle: number;
  chain: number;
  kind: string;
  name: string; // bpf program name for cls_bpf ('' otherwise)
}

export interface DeviceConf {
  v4Forwarding: boolean | null; // net.ipv4.conf.<dev>.forwarding
  rpFilter: number | null; // net.ipv4.conf.<dev>.rp_filter
  v6Forwarding: boolean | null; // net.ipv6.conf.<dev>.forwarding
}

export interface Sysctls {
  ipv4Forward: boolean | null; // net.ipv4.ip_forward
  ipv6Forward: boolean | null; // net.ipv6.conf.all.forwarding (null when IPv6 is off)
  rpFilterAll: number | null; // net.ipv4.conf.all.rp_filter
  bridgeNfCallIptables: boolean | null; // null when br_netfilter is not loaded
  bridgeNfCallIp6tables: boolean | null;
  bridgeNfCallArptables: boolean | null;
  defaultQdisc: string; // net.core.default_qdisc
  multipathPolicy4: number | null; // net.ipv4.fib_multipath_hash_policy (null: no multipath in this kernel)
  multipathPolicy6: number | null; // net.ipv6.fib_multipath_hash_policy
  devices: Map<string, DeviceConf>; // by ifname
}

export type NfFamily = 'ip' | 'ip6' | 'inet' | 'bridge' | 'arp' | 'netdev';

export interface NfChain {
  family: NfFamily;
  table: string;
  name: string;
  hook: string; // 'prerouting', 'forward', 'ingress', ...
  type: string; // 'filter', 'nat', 'route'
  priority: number;
  policy: string; // 'accept' | 'drop'
  rules: number;
  devices: string[]; // netdev/inet ingress/egress chains; ['*'] when they could not be read (every device)
  // One per rule of this base chain, when the rules could be read (nft -j). Missing or
  // shorter than `rules`: every rule counts as matching anything, with an effect.
  scopes?: NfRuleScope[];
}

// What a rule can do to forwarded packets, as far as the fast path must know.
export interface NfRuleScope {
  // The rule can only match packets entering (iif) or leaving (oif) a device with one of
  // these names ('*' ends a wildcard); null: no such bound.
  iif: string[] | null;
  oif: string[] | null;
  family?: 4 | 6; // its leading matches only match this family (`ip …`, `meta nfproto ipv6`…); absent: both
  effect: boolean; // anything but a plain accept/continue/return (a verdict, a counter, a jump…)
  stateful: boolean; // it, or a chain it jumps to, uses connection tracking (ct, flow offload, NAT, xt)
}

export interface IptablesSummary {
  // Rules (and non-ACCEPT policies) that see forwarded packets, by 'table CHAIN'.
  forward: Record<string, number>;
  nat: number; // any rule in the nat table
  // Rules in those chains bounded by -i/-o (not counted in `forward`), and rules anywhere in
  // the forward-path tables that use connection tracking (-m conntrack/state/…, -j CT/…).
  scoped?: Array<{ chain: string; iif: string[] | null; oif: string[] | null }>;
  stateful?: number;
}

export interface NetfilterState {
  checked: boolean; // false until the first check finished
  nftOk: boolean; // `nft -j list ruleset` worked
  chains: NfChain[]; // base chains only, sorted
  iptables: { v4: IptablesSummary | null; v6: IptablesSummary | null; legacy: boolean };
  errors: string[];
}

export type XfrmDir = 'in' | 'out' | 'fwd' | 'socket';
export type XfrmDefault = 'accept' | 'block' | 'unknown';

export interface XfrmPolicy {
  index: number;
  priority: number;
  dir: XfrmDir;
  action: 'allow' | 'block';
  family: 0 | 4 | 6; // the selector's; 0 (AF_UNSPEC) is treated as both
  src: string;
  srcLen: number;
  dst: string;
  dstLen: number;
  proto: number; // 0: any
  ifindex: number; // 0: any
  templates: string[]; // e.g. 'esp tunnel'; none: no transform (allow = bypass)
}

export interface XfrmState {
  checked: boolean; // false until read once, and when NETLINK_XFRM is unavailable (error says so)
  policies: XfrmPolicy[]; // the SPD (socket policies are not in it)
  defaults: { in: XfrmDefault; fwd: XfrmDefault; out: XfrmDefault };
  error: string | null; // with checked: the last read failed, the policies are unknown
}

export interface ModelStats {
  events: number; // netlink messages applied
  resyncs: number; // full re-dumps after overflow or on request
  resyncChanges: number; // entries a resync found out of date (should stay 0 except after overflow)
  overflows: number;
}

export interface KernelModel {
  links: Map<number, Link>; // by ifindex
  fdb: Map<string, FdbEntry>;
  addresses: Map<string, Address>;
  routes: Map<string, Route>; // a RouteTable (compact); entries are values: set() a new one to change it
  rules: Map<string, Rule>;
  nexthops: Map<string, NexthopObject>;
  neighbours: Map<string, Neighbour>;
  qdiscs: Map<string, Qdisc>;
  filters: Map<string, TcFilter>;
  sysctls: Sysctls;
  netfilter: NetfilterState;
  xfrm: XfrmState;
  stats: ModelStats;
}

export type TableName = 'links' | 'fdb' | 'addresses' | 'routes' | 'rules' | 'nexthops' | 'neighbours' | 'qdiscs' | 'filters';

export const TABLES: readonly TableName[] = ['links', 'fdb', 'addresses', 'routes', 'rules', 'nexthops', 'neighbours', 'qdiscs', 'filters'];

export function emptySysctls(): Sysctls {
  return {
    ipv4Forward: null,
    ipv6Forward: null,
    rpFilterAll: null,
    bridgeNfCallIptables: null,
    bridgeNfCallIp6tables: null,
    bridgeNfCallArptables: null,
    defaultQdisc: 'pfifo_fast',
    multipathPolicy4: null,
    multipathPolicy6: null,
    devices: new Map(),
  };
}

export function emptyNetfilter(): NetfilterState {
  return { checked: false, nftOk: false, chains: [], iptables: { v4: null, v6: null, legacy: false }, errors: [] };
}

export function emptyXfrm(): XfrmState {
  return { checked: false, policies: [], defaults: { in: 'accept', fwd: 'accept', out: 'accept' }, error: null };
}

export function emptyModel(): KernelModel {
  return {
    links: new Map(),
    fdb: new Map(),
    addresses: new Map(),
    routes: new RouteTable(),
    rules: new Map(),
    nexthops: new Map(),
    neighbours: new Map(),
    qdiscs: new Map(),
    filters: new Map(),
    sysctls: emptySysctls(),
    netfilter: emptyNetfilter(),
    xfrm: emptyXfrm(),
    stats: { events: 0, resyncs: 0, resyncChanges: 0, overflows: 0 },
  };
}
