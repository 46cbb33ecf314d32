// rtnetlink messages -> model operations. Attribute parsing is the `netlink` package's; the
// fixed headers (ifinfomsg, rtmsg, ndmsg, ...) are read here directly because the package
// turns flag words into objects that drop the bits we need (IFF_LOWER_UP, RTM_F_CLONED).
import { rt, ifla } from 'netlink';
import { flatStr, ip4At as ip4Text, ip4FromNumber, ip6At, ipString, macAt, macString } from './addr';
import { placeRoute, routePlace, type RoutePlace } from './route-aliases';
import { DST_EMPTY, DST_TEXT, DST_V4, NO_HOPS, ROUTE_TYPES, RouteTable, isCanonical, type ParsedRoute } from './routes';
import type {
  Address, BridgeAttrs, BridgePortAttrs, FdbEntry, FdbFlags, Family, Link, LinkKind, Neighbour, NextHop, NexthopObject, OperState,
  PortState, Qdisc, Route, RouteType, Rule, TcFilter, XdpAttachMode, XdpState,
} from './types';

export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWNEIGH: 28, DELNEIGH: 29, GETNEIGH: 30,
  NEWRULE: 32, DELRULE: 33, GETRULE: 34,
  NEWQDISC: 36, DELQDISC: 37, GETQDISC: 38,
  NEWTFILTER: 44, DELTFILTER: 45, GETTFILTER: 46,
  NEWNETCONF: 80, DELNETCONF: 81,
  NEWNEXTHOP: 104, DELNEXTHOP: 105, GETNEXTHOP: 106,
} as const;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP_INTR = 0x10;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1; // parent of the ingress/clsact qdisc
export const TC_H_MIN_EGRESS = 0xfff3;

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const RTM_F_CLONED = 0x200;
// RTNH_F_DEAD and RTNH_F_LINKDOWN follow the device's carrier, and the kernel sends no
// route message when they change: kept out of the model, which would otherwise drift.
const RTNH_F_CONFIG = 0xff & ~(0x1 | 0x10);
const NTF_SELF = 0x02;
const NTF_MASTER = 0x04;
const NTF_PROXY = 0x08;
const NTF_EXT_LEARNED = 0x10;
const NTF_STICKY = 0x40;
const NTF_ROUTER = 0x80;
export const NUD_REACHABLE = 0x02;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

export const MSG_NAMES: Record<number, string> = {
  16: 'RTM_NEWLINK', 17: 'RTM_DELLINK', 20: 'RTM_NEWADDR', 21: 'RTM_DELADDR', 24: 'RTM_NEWROUTE',
  25: 'RTM_DELROUTE', 28: 'RTM_NEWNEIGH', 29: 'RTM_DELNEIGH', 32: 'RTM_NEWRULE', 33: 'RTM_DELRULE',
  36: 'RTM_NEWQDISC', 37: 'RTM_DELQDISC', 44: 'RTM_NEWTFILTER', 45: 'RTM_DELTFILTER',
  80: 'RTM_NEWNETCONF', 81: 'RTM_DELNETCONF', 104: 'RTM_NEWNEXTHOP', 105: 'RTM_DELNEXTHOP',
};

// One raw netlink message (header fields + payload after the 16-byte nlmsghdr).
export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

// Splits a datagram into messages without copying. Stops at a malformed length.
export function splitMessages(dgram: Buffer, out: RawMessage[] = []): RawMessage[] {
  let off = 0;
  while (off + 16 <= dgram.length) {
    const len = dgram.readUInt32LE(off);
    if (len < 16 || off + len > dgram.length) break;
    out.push({
      type: dgram.readUInt16LE(off + 4),
      flags: dgram.readUInt16LE(off + 6),
      seq: dgram.readUInt32LE(off + 8),
      pid: dgram.readUInt32LE(off + 12),
      payload: dgram.subarray(off + 16, off + len),
    });
    off += (len + 3) & ~3;
  }
  return out;
}

export type Op =
  | { op: 'link'; link: Link }
  | { op: 'dellink'; ifindex: number; name: string }
  | { op: 'port'; ifindex: number; master: number; port: BridgePortAttrs | null }
  | { op: 'set'; table: 'fdb'; value: FdbEntry }
  | { op: 'set'; table: 'addresses'; value: Address }
  | { op: 'route'; route: Route; place: RoutePlace }
  | { op: 'set'; table: 'rules'; value: Rule }
  | { op: 'set'; table: 'nexthops'; value: NexthopObject }
  | { op: 'set'; table: 'neighbours'; value: Neighbour }
  | { op: 'set'; table: 'qdiscs'; value: Qdisc }
  | { op: 'set'; table: 'filters'; value: TcFilter }
  | { op: 'del'; table: 'fdb' | 'addresses' | 'rules' | 'neighbours'; key: string }
  | { op: 'delnexthop'; id: number }
  | { op: 'delroute'; route: Route }
  | { op: 'delqdisc'; qdisc: Qdisc }
  | { op: 'delfilter'; filter: TcFilter }
  | { op: 'netconf' };

const OPER: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const PORT_STATES: PortState[] = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'];

function u8(b: Buffer | undefined): number | null {
  return b && b.length >= 1 ? b[0] : null;
}
function u32(b: Buffer | undefined): number | null {
  return b && b.length >= 4 ? b.readUInt32LE(0) : null;
}
function fam(f: number): Family | null {
  return f === AF_INET ? 4 : f === AF_INET6 ? 6 : null;
}

function kindOf(infoKind: string | null, linkType: number): LinkKind {
  switch (infoKind) {
    case 'veth': case 'bridge': case 'vlan': case 'bond': case 'macvlan': case 'tun': case 'dummy':
      return infoKind;
    case 'macvtap':
      return 'macvlan';
    case null:
      return linkType === 1 ? 'physical' : 'other'; // ARPHRD_ETHER without a driver kind: a NIC
    default:
      return 'other';
  }
}

function xdpState(x: ifla.Xdp | undefined): XdpState {
  const s: XdpState = { mode: 'none', progId: 0, drvProgId: 0, skbProgId: 0, hwProgId: 0 };
  if (!x) return s;
  const a = x.attached;
  const modes: Record<string, XdpAttachMode> = { NONE: 'none', DRV: 'native', SKB: 'generic', HW: 'offload', MULTI: 'multi' };
  const byNum: XdpAttachMode[] = ['none', 'native', 'generic', 'offload', 'multi'];
  s.mode = typeof a === 'number' ? byNum[a] ?? 'none' : typeof a === 'string' ? modes[a] ?? 'none' : 'none';
  s.progId = u32(x.progId) ?? 0;
  s.drvProgId = u32(x.drvProgId) ?? 0;
  s.skbProgId = u32(x.skbProgId) ?? 0;
  s.hwProgId = u32(x.hwProgId) ?? 0;
  if (s.mode === 'native' && !s.drvProgId) s.drvProgId = s.progId;
  if (s.mode === 'generic' && !s.skbProgId) s.skbProgId = s.progId;
  return s;
}

function bridgeAttrs(data: Buffer | undefined): BridgeAttrs {
  const b = data ? ifla.parseBridge(data) : {};
  const flag = (v: Buffer | undefined): boolean | null => (v && v.length ? v[0] !== 0 : null);
  return {
    stpState: u32(b.stpState) ?? 0,
    ageingTimeCs: u32(b.ageingTime) ?? 30000,
    forwardDelayCs: u32(b.forwardDelay) ?? 1500,
    vlanFiltering: (u8(b.vlanFiltering) ?? 0) !== 0,
    nfCallIptables: flag(b.nfCallIptables),
    nfCallIp6tables: flag(b.nfCallIp6tables),
    nfCallArptables: flag(b.nfCallArptables),
  };
}

// IFLA_BRPORT_* numbers, shared by slave data and AF_BRIDGE IFLA_PROTINFO.
const BRPORT = {
  STATE: 1, MODE: 4, LEARNING: 8, UNICAST_FLOOD: 9, PROXYARP: 10, PROXYARP_WIFI: 12, NEIGH_SUPPRESS: 32, ISOLATED: 33, LOCKED: 39,
} as const;

function portFromMap(m: Map<number, Buffer>): BridgePortAttrs | null {
  const st = u8(m.get(BRPORT.STATE));
  if (st === null) return null;
  const on = (t: number): boolean => (u8(m.get(t)) ?? 0) !== 0;
  return {
    state: PORT_STATES[st] ?? 'disabled',
    learning: (u8(m.get(BRPORT.LEARNING)) ?? 1) !== 0,
    flood: (u8(m.get(BRPORT.UNICAST_FLOOD)) ?? 1) !== 0,
    hairpin: on(BRPORT.MODE),
    isolated: on(BRPORT.ISOLATED),
    locked: on(BRPORT.LOCKED),
    neighSuppress: on(BRPORT.NEIGH_SUPPRESS),
    proxyArp: on(BRPORT.PROXYARP) || on(BRPORT.PROXYARP_WIFI),
  };
}

// IFLA_INFO_SLAVE_DATA of a bridge port: the same IFLA_BRPORT_* attributes (the netlink
// package's parser does not know the newer ones, such as LOCKED).
function portFromSlaveData(data: Buffer): BridgePortAttrs | null {
  const m = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= data.length; ) {
    const len = data.readUInt16LE(off);
    if (len < 4 || off + len > data.length) break;
    m.set(data.readUInt16LE(off + 2) & 0x3fff, data.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return portFromMap(m);
}

export function decodeLink(type: number, payload: Buffer): Op | null {
  if (payload.length < 16) return null;
  const family = payload[0];
  const linkType = payload.readUInt16LE(2);
  const ifindex = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const { attrs } = rt.parseLinkMessage(payload);
  if (family === AF_BRIDGE) {
    // Bridge port notifications (STP state changes arrive only this way). DELLINK here means
    // "no longer a bridge port", never "the device is gone".
    const master = attrs.master ?? 0;
    if (type === RTM.DELLINK) return { op: 'port', ifindex, master: 0, port: null };
    const port = attrs.protinfo ? portFromMap(attrs.protinfo) : null;
    if (!port) return null; // the bridge device itself (VLAN info only)
    return { op: 'port', ifindex, master, port };
  }
  const name = attrs.ifname ?? `if${ifindex}`;
  if (type === RTM.DELLINK) return { op: 'dellink', ifindex, name };
  let infoKind: string | null = null;
  let info: ifla.Info = {};
  if (attrs.linkinfo) {
    info = ifla.parseInfo(attrs.linkinfo);
    infoKind = info.kind ?? null;
  }
  const kind = kindOf(infoKind, linkType);
  let vlanId: number | null = null;
  if (kind === 'vlan' && info.data) vlanId = ifla.parseVlan(info.data).id ?? null;
  const link: Link = {
    ifindex,
    name,
    kind,
    infoKind,
    linkType,
    operState: OPER[attrs.operstate ?? 0] ?? 'unknown',
    adminUp: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mtu: attrs.mtu ?? 0,
    master: attrs.master ?? 0,
    mac: macString(attrs.address),
    parent: attrs.link ? attrs.link.readInt32LE(0) : 0,
    vlanId,
    xdp: xdpState(attrs.xdp),
    bridge: kind === 'bridge' ? bridgeAttrs(info.data) : null,
    port: info.slaveKind === 'bridge' && info.slaveData ? portFromSlaveData(info.slaveData) : null,
  };
  return { op: 'link', link };
}

export function decodeAddress(type: number, payload: Buffer): Op | null {
  if (payload.length < 8) return null;
  const family = fam(payload[0]);
  if (!family) return null;
  const prefixLen = payload[1];
  const scope = payload[3];
  const ifindex = payload.readUInt32LE(4);
  const { attrs } = rt.parseAddressMessage(payload);
  // IFA_LOCAL is the address for IPv4 (IFA_ADDRESS is the peer on point-to-point links).
  const address = ipString(attrs.local ?? attrs.address);
  const key = `${family}|${ifindex}|${address}/${prefixLen}`;
  if (type === RTM.DELADDR) return { op: 'del', table: 'addresses', key };
  const value: Address = { key, family, ifindex, address, prefixLen, scope, flags: payload[2] };
  return { op: 'set', table: 'addresses', value };
}

export function routeKey(r: Pick<Route, 'family' | 'table' | 'dst' | 'dstLen' | 'src' | 'srcLen' | 'tos' | 'priority'>): string {
  return flatStr(`${r.family}|${r.table}|${r.dst}/${r.dstLen}|${r.src}/${r.srcLen}|${r.tos}|${r.priority}`);
}

function parseMultipath(buf: Buffer): NextHop[] {
  const hops: NextHop[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 8 || off + len > buf.length) break;
    let gateway: string | null = null;
    // Nested route attributes: RTA_GATEWAY (5) or RTA_VIA (18, family + address).
    let a = off + 8;
    while (a + 4 <= off + len) {
      const alen = buf.readUInt16LE(a);
      const atype = buf.readUInt16LE(a + 2) & 0x3fff;
      if (alen < 4) break;
      if (atype === 5) gateway = ipAt(buf, a + 4, alen - 4);
      else if (atype === 18 && alen > 6) gateway = ipAt(buf, a + 6, alen - 6);
      a += (alen + 3) & ~3;
    }
    hops.push(Object.freeze({ ifindex: buf.readInt32LE(off + 4), gateway, weight: buf[off + 3] + 1, flags: buf[off + 2] & RTNH_F_CONFIG }));
    off += (len + 3) & ~3;
  }
  return hops;
}

// IPv4 address strings repeat a lot (gateways, prefsrc): cache them by value.
const v4Cache = new Map<number, string>();
function ip4At(b: Buffer, off: number): string {
  const v = b.readUInt32BE(off);
  let s = v4Cache.get(v);
  if (s === undefined) {
    s = ip4Text(b, off);
    if (v4Cache.size > 65536) v4Cache.clear();
    v4Cache.set(v, s);
  }
  return s;
}

function ipAt(b: Buffer, off: number, len: number): string {
  if (len === 4) return ip4At(b, off);
  return len === 16 ? ip6At(b, off) : '';
}

// Most routes of a big table share their one nexthop (same device, gateway and flags):
// they share one frozen nexthop list too. Lists are immutable: changes build new ones.
const hopCache = new Map<number, Map<string, readonly NextHop[]>>();
function singleHop(ifindex: number, gateway: string | null, flags: number): readonly NextHop[] {
  const k = ifindex * 256 + flags;
  let byGw = hopCache.get(k);
  if (!byGw) {
    if (hopCache.size > 4096) hopCache.clear();
    hopCache.set(k, (byGw = new Map()));
  }
  const g = gateway ?? '';
  let hops = byGw.get(g);
  if (!hops) {
    if (byGw.size > 4096) byGw.clear();
    hops = Object.freeze([Object.freeze({ ifindex, gateway, weight: 1, flags })]);
    byGw.set(g, hops);
  }
  return hops;
}

// Routes are the bulk of a big dump (100k+), so their attributes are walked here directly
// instead of through the generic parser, which allocates an object per attribute and flag.
const RTA = { DST: 1, SRC: 2, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, METRICS: 8, MULTIPATH: 9, TABLE: 15, NH_ID: 30 } as const;
const RTAX_MTU = 2;

// RTAX_MTU from the nested RTA_METRICS attributes, 0 when absent.
function metricsMtu(b: Buffer, s: number, e: number): number {
  let off = s;
  while (off + 4 <= e) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > e) break;
    if ((b.readUInt16LE(off + 2) & 0x3fff) === RTAX_MTU && len >= 8) return b.readUInt32LE(off + 4);
    off += (len + 3) & ~3;
  }
  return 0;
}

export function decodeRoute(type: number, payload: Buffer, nlFlags = 0): Op | null {
  return decodeRouteAt(type, payload, 0, payload.length, nlFlags);
}

// One route message's fields, filled by parseRouteAt (reused: nothing is allocated for it).
const pr: ParsedRoute = {
  family: 4, table: 0, dstKind: DST_EMPTY, dst4: 0, dstText: '', dstLen: 0, src: '', srcLen: 0, tos: 0, priority: 0,
  protocol: 0, scope: 0, typeIndex: 0, prefsrc: null, nexthops: NO_HOPS, nhId: 0, mtu: 0,
};

// Works on a slice [s, e) of a datagram, so a 100k-route dump allocates no Buffer per route.
// Fills `pr`; false for a message that is not a route we keep.
function parseRouteAt(b: Buffer, s: number, e: number): boolean {
  if (e - s < 12) return false;
  const family = fam(b[s]);
  if (!family) return false;
  const rtmFlags = b.readUInt32LE(s + 8);
  if (rtmFlags & RTM_F_CLONED) return false; // route cache / exceptions are not configuration
  let dstOff = -1;
  let dstLenB = 0;
  let src = '';
  let oif = -1;
  let gateway: string | null = null;
  let priority = 0;
  let prefsrc: string | null = null;
  let table = b[s + 4];
  let nhId = 0;
  let mtu = 0;
  let multipath: NextHop[] | null = null;
  let off = s + 12;
  const end = e;
  while (off + 4 <= end) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    const t = b.readUInt16LE(off + 2) & 0x3fff;
    const v = off + 4;
    const vlen = len - 4;
    switch (t) {
      case RTA.DST: dstOff = v; dstLenB = vlen; break;
      case RTA.SRC: src = ipAt(b, v, vlen); break;
      case RTA.OIF: if (vlen >= 4) oif = b.readInt32LE(v); break;
      case RTA.GATEWAY: gateway = ipAt(b, v, vlen); break;
      case RTA.PRIORITY: if (vlen >= 4) priority = b.readUInt32LE(v); break;
      case RTA.PREFSRC: prefsrc = ipAt(b, v, vlen); break;
      case RTA.TABLE: if (vlen >= 4) table = b.readUInt32LE(v); break;
      case RTA.NH_ID: if (vlen >= 4) nhId = b.readUInt32LE(v); break;
      case RTA.METRICS: mtu = metricsMtu(b, v, v + vlen); break;
      case RTA.MULTIPATH: multipath = parseMultipath(b.subarray(v, v + vlen)); break;
      default: break;
    }
    off += (len + 3) & ~3;
  }
  const nexthops: readonly NextHop[] = multipath
    ? Object.freeze(multipath)
    : oif >= 0 || gateway
      ? singleHop(oif >= 0 ? oif : 0, gateway, rtmFlags & RTNH_F_CONFIG)
      : NO_HOPS;
  const typeIndex = b[s + 7] < ROUTE_TYPES.length ? b[s + 7] : 0;
  pr.family = family;
  pr.table = table;
  pr.dstLen = b[s + 1];
  pr.src = src;
  pr.srcLen = b[s + 2];
  pr.tos = b[s + 3];
  pr.priority = priority;
  pr.protocol = b[s + 5];
  pr.scope = b[s + 6];
  pr.typeIndex = typeIndex;
  pr.prefsrc = prefsrc;
  pr.nexthops = nexthops;
  pr.nhId = nhId;
  pr.mtu = mtu;
  if (dstOff >= 0 && dstLenB === 4) {
    pr.dstKind = DST_V4;
    pr.dst4 = b.readUInt32BE(dstOff);
    pr.dstText = '';
  } else {
    const dst = dstOff >= 0 && dstLenB === 16 ? ip6At(b, dstOff) : '';
    pr.dstKind = dst ? DST_TEXT : DST_EMPTY;
    pr.dst4 = 0;
    pr.dstText = dst;
  }
  return true;
}

// The key of the route in `pr`, built in one template and flattened.
function parsedKey(): string {
  const dst = pr.dstKind === DST_V4 ? ip4FromNumber(pr.dst4) : pr.dstText;
  const key = `${pr.family}|${pr.table}|${dst}/${pr.dstLen}|${pr.src}/${pr.srcLen}|${pr.tos}|${pr.priority}`;
  // IPv6 keeps one route per device for the same prefix and metric when there is no gateway
  // (fe80::/64 on every link): the device is part of such a route's identity.
  const h = pr.nexthops;
  if (pr.family === 6 && h.length === 1 && !h[0].gateway && h[0].ifindex) return flatStr(`${key}|dev${h[0].ifindex}`);
  return flatStr(key);
}

// nlFlags: the message's, which say where a new IPv4 route joined its alias group.
export function decodeRouteAt(type: number, b: Buffer, s: number, e: number, nlFlags = 0): Op | null {
  if (!parseRouteAt(b, s, e)) return null;
  const route: Route = {
    key: parsedKey(),
    family: pr.family,
    table: pr.table,
    dst: pr.dstKind === DST_V4 ? ip4FromNumber(pr.dst4) : pr.dstText,
    dstLen: pr.dstLen,
    src: pr.src,
    srcLen: pr.srcLen,
    tos: pr.tos,
    priority: pr.priority,
    protocol: pr.protocol,
    scope: pr.scope,
    type: ROUTE_TYPES[pr.typeIndex],
    prefsrc: pr.prefsrc,
    nexthops: pr.nexthops,
    nhId: pr.nhId,
    ...(pr.mtu ? { mtu: pr.mtu } : {}),
  };
  if (type === RTM.DELROUTE) return { op: 'delroute', route };
  return { op: 'route', route, place: routePlace(nlFlags) };
}

// Dump fast path: a route message straight into a RouteTable (no Route object, no Op).
// Returns false for a message that is not a route we keep.
export function loadRouteAt(routes: Map<string, Route>, b: Buffer, s: number, e: number): boolean {
  if (!(routes instanceof RouteTable)) {
    const op = decodeRouteAt(RTM.NEWROUTE, b, s, e);
    if (!op || op.op !== 'route') return false;
    placeRoute(routes, op.route, 'listed');
    return true;
  }
  if (!parseRouteAt(b, s, e)) return false;
  // Plain IPv4 routes need no key string at all in a RouteTable.
  const key = isCanonical(pr) ? null : parsedKey();
  // A dump lists an alias group in order: a key seen before is the next alias, placed as
  // the event path would (route-aliases.ts). Rare: the Route object is built only then.
  if (pr.family === 4 && routes.hasParsed(key, pr)) {
    const op = decodeRouteAt(RTM.NEWROUTE, b, s, e);
    if (op?.op === 'route') placeRoute(routes, op.route, 'listed');
    return true;
  }
  routes.setParsed(key, pr);
  return true;
}

// FDB flag sets repeat (10k static entries have one): share a frozen object per combination.
const fdbFlagCache = new Map<number, FdbFlags>();
function fdbFlags(state: number, ntf: number, self: boolean, hasMaster: boolean): FdbFlags {
  const k = (state & 0xffff) | ((ntf & 0xff) << 16) | (self ? 1 << 24 : 0) | (hasMaster ? 1 << 25 : 0);
  let f = fdbFlagCache.get(k);
  if (!f) {
    f = Object.freeze({
      local: (state & NUD_PERMANENT) !== 0,
      static: (state & NUD_NOARP) !== 0 && (state & NUD_PERMANENT) === 0,
      dynamic: (state & (NUD_NOARP | NUD_PERMANENT)) === 0,
      externLearn: (ntf & NTF_EXT_LEARNED) !== 0,
      self,
      master: (ntf & NTF_MASTER) !== 0 || hasMaster,
      sticky: (ntf & NTF_STICKY) !== 0,
    });
    fdbFlagCache.set(k, f);
  }
  return f;
}

export function decodeNeighbour(type: number, payload: Buffer): Op | null {
  if (payload.length < 12) return null;
  const family = payload[0];
  const ifindex = payload.readInt32LE(4);
  const state = payload.readUInt16LE(8);
  const flags = payload[10];
  if (family === AF_BRIDGE) {
    // FDB dumps can be large too: walk NDA_LLADDR (2), NDA_VLAN (5), NDA_MASTER (9) directly.
    let mac = '';
    let vlan = 0;
    let master = 0;
    let off = 12;
    while (off + 4 <= payload.length) {
      const len = payload.readUInt16LE(off);
      if (len < 4 || off + len > payload.length) break;
      const t = payload.readUInt16LE(off + 2) & 0x3fff;
      if (t === 2 && len === 10) mac = macAt(payload, off + 4);
      else if (t === 5 && len >= 6) vlan = payload.readUInt16LE(off + 4);
      else if (t === 9 && len >= 8) master = payload.readUInt32LE(off + 4);
      off += (len + 3) & ~3;
    }
    const self = (flags & NTF_SELF) !== 0 && !master;
    // A bridge holds one entry per (MAC, VLAN). When a MAC moves, the kernel updates that
    // entry's port and says so with RTM_NEWNEIGH alone, never a DELNEIGH for the old port:
    // keyed by port, the old entry would live on beside the new one.
    const key = flatStr(master ? `${master}|${mac}|${vlan}|master` : `${ifindex}|${mac}|${vlan}|self`);
    if (type === RTM.DELNEIGH) return { op: 'del', table: 'fdb', key };
    const entry: FdbEntry = { key, mac, vlan, ifindex, master, state, flags: fdbFlags(state, flags, self, master !== 0) };
    return { op: 'set', table: 'fdb', value: entry };
  }
  const f = fam(family);
  if (!f) return null;
  const { attrs } = rt.parseNeighborMessage(payload);
  const dst = ipString(attrs.dst);
  // Multicast entries (ff02::2, 224.0.0.22) come and go without notifications and never
  // matter for forwarding: keep them out of the model.
  if (attrs.dst && (f === 4 ? (attrs.dst[0] & 0xf0) === 0xe0 : attrs.dst[0] === 0xff)) return null;
  const key = `${f}|${ifindex}|${dst}${flags & NTF_PROXY ? '|proxy' : ''}`;
  if (type === RTM.DELNEIGH) return { op: 'del', table: 'neighbours', key };
  const n: Neighbour = { key, family: f, ifindex, dst, lladdr: macString(attrs.lladdr), state, flags, router: (flags & NTF_ROUTER) !== 0 };
  return { op: 'set', table: 'neighbours', value: n };
}

// The rules the kernel installs in every namespace: 0 local, 32766 main, 32767 default (IPv4).
function isDefaultRule(r: Omit<Rule, 'key' | 'isDefault'>): boolean {
  const plain = !r.src && !r.dst && !r.iifname && !r.oifname && !r.fwmark && !r.fwmask && !r.uidRange &&
    !r.l3mdev && !r.ipProto && !r.ports && r.tos === 0 && r.suppressPrefixlen < 0 && r.action === 1;
  if (!plain) return false;
  if (r.priority === 0 && r.table === 255) return true;
  if (r.priority === 32766 && r.table === 254) return true;
  return r.family === 4 && r.priority === 32767 && r.table === 253;
}

export function decodeRule(type: number, payload: Buffer): Op | null {
  if (payload.length < 12) return null;
  const family = fam(payload[0]);
  if (!family) return null;
  const { attrs } = rt.parseRuleMessage(payload);
  const sp = u32(attrs.suppressPrefixlen);
  const base = {
    family,
    priority: attrs.priority ?? 0,
    table: attrs.table ?? payload[4],
    action: payload[7],
    src: attrs.src ? ipString(attrs.src) : '',
    srcLen: payload[2],
    dst: attrs.dst ? ipString(attrs.dst) : '',
    dstLen: payload[1],
    tos: payload[3],
    iifname: attrs.iifname ?? '',
    oifname: attrs.oifname ?? '',
    fwmark: attrs.fwmark ?? 0,
    fwmask: attrs.fwmask ?? 0,
    uidRange: attrs.uidRange !== undefined,
    l3mdev: (attrs.l3Mdev ?? 0) !== 0,
    ipProto: attrs.ipProto ?? 0,
    ports: attrs.sportRange !== undefined || attrs.dportRange !== undefined,
    suppressPrefixlen: sp === null || sp === 0xffffffff ? -1 : sp,
  };
  const key = [family, base.priority, base.table, base.action, `${base.src}/${base.srcLen}`, `${base.dst}/${base.dstLen}`,
    base.tos, base.iifname, base.oifname, base.fwmark, base.fwmask, base.uidRange, base.l3mdev, base.ipProto,
    base.ports, base.suppressPrefixlen].join('|');
  if (type === RTM.DELRULE) return { op: 'del', table: 'rules', key };
  return { op: 'set', table: 'rules', value: { key, ...base, isDefault: isDefaultRule(base) } };
}

// struct nhmsg (8 bytes), then NHA_* attributes. The netlink package has no parser for these.
const NHA = { ID: 1, GROUP: 2, BLACKHOLE: 4, OIF: 5, GATEWAY: 6, FDB: 11 } as const;

export function decodeNexthop(type: number, payload: Buffer): Op | null {
  if (payload.length < 8) return null;
  let id = 0, ifindex = 0, blackhole = false, fdb = false;
  let gateway: string | null = null;
  const group: number[] = [];
  let off = 8;
  while (off + 4 <= payload.length) {
    const len = payload.readUInt16LE(off);
    if (len < 4 || off + len > payload.length) break;
    const v = off + 4, vlen = len - 4;
    switch (payload.readUInt16LE(off + 2) & 0x3fff) {
      case NHA.ID: if (vlen >= 4) id = payload.readUInt32LE(v); break;
      case NHA.OIF: if (vlen >= 4) ifindex = payload.readUInt32LE(v); break;
      case NHA.GATEWAY: gateway = ipAt(payload, v, vlen) || null; break;
      case NHA.BLACKHOLE: blackhole = true; break;
      case NHA.FDB: fdb = true; break;
      // struct nexthop_grp: u32 id, u8 weight, u8 weight_high, u16 reserved
      case NHA.GROUP: for (let g = v; g + 8 <= v + vlen; g += 8) group.push(payload.readUInt32LE(g)); break;
    }
    off += (len + 3) & ~3;
  }
  if (!id) return null;
  if (type === RTM.DELNEXTHOP) return { op: 'delnexthop', id };
  return { op: 'set', table: 'nexthops', value: { key: String(id), id, ifindex, gateway, group: Object.freeze(group), blackhole, fdb } };
}

export function decodeQdisc(type: number, payload: Buffer): Op | null {
  if (payload.length < 20) return null;
  const ifindex = payload.readInt32LE(4);
  const handle = payload.readUInt32LE(8);
  const parent = payload.readUInt32LE(12);
  const { attrs } = rt.parseTcMessage(payload);
  const kind = attrs.kind ?? '';
  const q: Qdisc = {
    key: `${ifindex}|${handle >>> 0}|${parent >>> 0}`,
    ifindex,
    kind,
    handle,
    parent,
    root: parent === TC_H_ROOT,
    ingress: parent === TC_H_INGRESS || kind === 'ingress' || kind === 'clsact',
  };
  if (type === RTM.DELQDISC) return { op: 'delqdisc', qdisc: q };
  return { op: 'set', table: 'qdiscs', value: q };
}

function bpfName(options: Buffer | undefined): string {
  if (!options) return '';
  let off = 0;
  while (off + 4 <= options.length) {
    const len = options.readUInt16LE(off);
    const t = options.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4) break;
    if (t === 7) return options.toString('utf8', off + 4, off + len).replace(/\0+$/, ''); // TCA_BPF_NAME
    off += (len + 3) & ~3;
  }
  return '';
}

export function decodeFilter(type: number, payload: Buffer): Op | null {
  if (payload.length < 20) return null;
  const ifindex = payload.readInt32LE(4);
  if (ifindex <= 0) return null; // shared blocks
  const handle = payload.readUInt32LE(8);
  const parent = payload.readUInt32LE(12);
  const info = payload.readUInt32LE(16);
  const { attrs } = rt.parseTcMessage(payload);
  const priority = info >>> 16;
  const protocol = info & 0xffff;
  const chain = attrs.chain ?? 0;
  const kind = attrs.kind ?? '';
  const f: TcFilter = {
    key: `${ifindex}|${parent >>> 0}|${priority}|${protocol}|${handle >>> 0}|${chain}`,
    ifindex, parent, priority, protocol, handle, chain, kind,
    name: kind === 'bpf' ? bpfName(attrs.options) : '',
  };
  if (type === RTM.DELTFILTER) return { op: 'delfilter', filter: f };
  // A filter's priority/protocol header without a handle is the chain head: not a filter.
  if (handle === 0 && !kind) return null;
  return { op: 'set', table: 'filters', value: f };
}

export function decode(m: RawMessage): Op | null {
  switch (m.type) {
    case RTM.NEWLINK: case RTM.DELLINK: return decodeLink(m.type, m.payload);
    case RTM.NEWADDR: case RTM.DELADDR: return decodeAddress(m.type, m.payload);
    case RTM.NEWROUTE: case RTM.DELROUTE: return decodeRoute(m.type, m.payload, m.flags);
    case RTM.NEWNEIGH: case RTM.DELNEIGH: return decodeNeighbour(m.type, m.payload);
    case RTM.NEWRULE: case RTM.DELRULE: return decodeRule(m.type, m.payload);
    case RTM.NEWNEXTHOP: case RTM.DELNEXTHOP: return decodeNexthop(m.type, m.payload);
    case RTM.NEWQDISC: case RTM.DELQDISC: return decodeQdisc(m.type, m.payload);
    case RTM.NEWTFILTER: case RTM.DELTFILTER: return decodeFilter(m.type, m.payload);
    case RTM.NEWNETCONF: case RTM.DELNETCONF: return { op: 'netconf' };
    default: return null;
  }
}
