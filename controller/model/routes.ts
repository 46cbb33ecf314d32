// The route table of a KernelModel, stored by column. A big router has 100k+ routes; as
// one JS object each (15 fields, a key, a destination string) they took ~260 bytes apiece
// and, all surviving the young generation at once, made V8 grow it to its maximum. Here a
// route is a slot in typed arrays plus four shared references, and the Map maps keys to
// slots. Reads build a fresh Route object: routes are values (never change one in place;
// set() a new one), and callers walking every route for a summary use scanRoutes().
import { ip4FromNumber } from './addr';
import type { Family, NextHop, Route, RouteType } from './types';

export const ROUTE_TYPES: readonly RouteType[] = [
  'unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole',
  'unreachable', 'prohibit', 'throw', 'nat', 'xresolve',
];
const TYPE_INDEX = new Map<string, number>(ROUTE_TYPES.map((t, i) => [t, i]));

// Uint8 columns per slot.
const B_FAMILY = 0, B_DSTLEN = 1, B_SRCLEN = 2, B_TOS = 3, B_PROTOCOL = 4, B_SCOPE = 5, B_TYPE = 6, B_DSTKIND = 7, B_LIVE = 8;
const NB = 9;
// Uint32 columns per slot.
const W_TABLE = 0, W_PRIORITY = 1, W_NHID = 2, W_DST4 = 3, W_MTU = 4;
const NW = 5;
// The fields held by reference, in one object per slot that routes share when they can
// (most routes of a big table have the same nexthops, no src and the same prefsrc).
interface Tail {
  readonly dst: string; // DST_TEXT only, else ''
  readonly src: string;
  readonly prefsrc: string | null;
  readonly nexthops: readonly NextHop[];
}
const tailCache = new WeakMap<readonly NextHop[], Map<string, Tail>>();
function tailOf(dst: string, src: string, prefsrc: string | null, nexthops: readonly NextHop[]): Tail {
  if (dst !== '') return { dst, src, prefsrc, nexthops }; // unique per route: not worth a lookup
  let bySrc = tailCache.get(nexthops);
  if (!bySrc) tailCache.set(nexthops, (bySrc = new Map()));
  const k = prefsrc === null ? src : `${src}|${prefsrc}`;
  let t = bySrc.get(k);
  if (!t) {
    if (bySrc.size > 1024) bySrc.clear();
    t = Object.freeze({ dst, src, prefsrc, nexthops });
    bySrc.set(k, t);
  }
  return t;
}
// How the destination is kept.
export const DST_EMPTY = 0, DST_V4 = 1, DST_TEXT = 2;

export const NO_HOPS: readonly NextHop[] = Object.freeze([]);
const EMPTY_TAIL: Tail = Object.freeze({ dst: '', src: '', prefsrc: null, nexthops: NO_HOPS });

// A route as the columns hold it (decode fills one from a message without a Route object).
export interface ParsedRoute {
  family: Family;
  table: number;
  dstKind: number; // DST_*
  dst4: number; // DST_V4: the address as a number
  dstText: string; // DST_TEXT: the address
  dstLen: number;
  src: string;
  srcLen: number;
  tos: number;
  priority: number;
  protocol: number;
  scope: number;
  typeIndex: number; // into ROUTE_TYPES
  prefsrc: string | null;
  nexthops: readonly NextHop[]; // frozen
  nhId: number;
  mtu: number; // RTAX_MTU, 0 when none
}

// A dotted quad exactly as ip4At writes it, as a number; -1 for anything else (kept as text).
function parseIp4(s: string): number {
  const len = s.length;
  if (len < 7 || len > 15) return -1;
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

// Scratch for set(): a Route taken apart.
const fromRoute: ParsedRoute = {
  family: 4, table: 0, dstKind: DST_EMPTY, dst4: 0, dstText: '', dstLen: 0, src: '', srcLen: 0, tos: 0, priority: 0,
  protocol: 0, scope: 0, typeIndex: 0, prefsrc: null, nexthops: NO_HOPS, nhId: 0, mtu: 0,
};

const isU8 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xff;
const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

// Values that do not fit their column would come back different: refuse them up front.
function check(x: Route): void {
  if ((x.family !== 4 && x.family !== 6) || !isU8(x.dstLen) || !isU8(x.srcLen) || !isU8(x.tos) || !isU8(x.protocol) ||
    !isU8(x.scope) || !isU32(x.table) || !isU32(x.priority) || !isU32(x.nhId) || (x.mtu !== undefined && !isU32(x.mtu)) || !TYPE_INDEX.has(x.type) ||
    typeof x.dst !== 'string' || typeof x.src !== 'string' || !Array.isArray(x.nexthops)) {
    throw new Error(`route ${String(x.key)}: a field is out of range for the route table`);
  }
}

// A key in the form decode gives a plain IPv4 route without source selector,
// "4|<table>|<a.b.c.d or empty>/<len>|/0|<tos>|<priority>", taken apart into `ck`; false for
// any other string. Strict (no leading zeros, ranges checked), so the key rebuilt from
// the parts is the same string.
const ck = { table: 0, dstKind: DST_EMPTY, dst4: 0, dstLen: 0, tos: 0, priority: 0 };
function parseCanonicalKey(k: string): boolean {
  const n = k.length;
  if (n < 11 || k.charCodeAt(0) !== 52 || k.charCodeAt(1) !== 124) return false;
  let i = 2;
  // Reads a decimal up to `stop`; -1 on anything not canonical.
  const dec = (stop: number, max: number): number => {
    const start = i;
    let v = 0;
    while (i < n) {
      const c = k.charCodeAt(i);
      if (c === stop) break;
      if (c < 48 || c > 57 || (i > start && v === 0)) return -1;
      v = v * 10 + (c - 48);
      if (v > max) return -1;
      i++;
    }
    if (i === start || i >= n) return stop === -1 && i > start ? v : -1;
    i++; // the stop character
    return v;
  };
  const table = dec(124, 0xffffffff);
  if (table < 0) return false;
  const slash = k.indexOf('/', i);
  if (slash < 0) return false;
  let dstKind = DST_EMPTY;
  let dst4 = 0;
  if (slash > i) {
    dst4 = parseIp4(k.slice(i, slash));
    if (dst4 < 0) return false;
    dstKind = DST_V4;
  }
  i = slash + 1;
  const dstLen = dec(124, 0xff);
  if (dstLen < 0 || k.charCodeAt(i) !== 47 || k.charCodeAt(i + 1) !== 48 || k.charCodeAt(i + 2) !== 124) return false;
  i += 3;
  const tos = dec(124, 0xff);
  if (tos < 0) return false;
  const priority = dec(-1, 0xffffffff);
  if (priority < 0 || i !== n) return false;
  ck.table = table;
  ck.dstKind = dstKind;
  ck.dst4 = dst4;
  ck.dstLen = dstLen;
  ck.tos = tos;
  ck.priority = priority;
  return true;
}

// A parsed route whose key is canonical (see above): it needs no key string.
export function isCanonical(p: ParsedRoute): boolean {
  return p.family === 4 && p.src === '' && p.srcLen === 0 && p.dstKind !== DST_TEXT;
}

export class RouteTable implements Map<string, Route> {
  // Plain IPv4 routes (nearly all of a big table) are found by number: group (table, tos,
  // priority, prefix length, empty dst) then destination address, so no key string is kept
  // for them. Everything else is found by its key string.
  private groups = new Map<string, Map<number, number>>();
  private lastGroup: Map<number, number> | null = null;
  private lastG = { table: -1, tos: -1, priority: -1, dstLen: -1, dstKind: -1 };
  private byKey = new Map<string, number>();
  private keyOfSlot = new Map<number, string>();
  private count = 0;
  // Insertion order, as a Map keeps it: a doubly linked list over slots.
  private head = -1;
  private tail = -1;
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private free: number[] = [];
  private pendingFree: number[] = []; // freed while an iteration runs: reused after it
  private iterating = 0;
  private cap = 0;
  private used = 0; // slots handed out so far (free ones included)
  private b = new Uint8Array(0);
  private w = new Uint32Array(0);
  private r: Tail[] = [];

  get size(): number {
    return this.count;
  }

  get [Symbol.toStringTag](): string {
    return 'RouteTable';
  }

  has(key: string): boolean {
    return this.slotOf(key) >= 0;
  }

  get(key: string): Route | undefined {
    const s = this.slotOf(key);
    return s < 0 ? undefined : this.make(s, key);
  }

  // The key must be the route's own key (as decode and routeKey() make it).
  set(key: string, route: Route): this {
    check(route);
    const p = fromRoute;
    p.family = route.family;
    p.table = route.table;
    const v4 = route.dst === '' ? -1 : parseIp4(route.dst);
    p.dstKind = route.dst === '' ? DST_EMPTY : v4 >= 0 ? DST_V4 : DST_TEXT;
    p.dst4 = v4 >= 0 ? v4 : 0;
    p.dstText = v4 >= 0 ? '' : route.dst;
    p.dstLen = route.dstLen;
    p.src = route.src;
    p.srcLen = route.srcLen;
    p.tos = route.tos;
    p.priority = route.priority;
    p.protocol = route.protocol;
    p.scope = route.scope;
    p.typeIndex = TYPE_INDEX.get(route.type) ?? 0;
    p.prefsrc = route.prefsrc;
    p.nexthops = route.nexthops.length === 0 ? NO_HOPS : Object.isFrozen(route.nexthops) ? route.nexthops : Object.freeze([...route.nexthops]);
    p.nhId = route.nhId;
    p.mtu = route.mtu ?? 0;
    if (parseCanonicalKey(key)) {
      if (!isCanonical(p) || ck.table !== p.table || ck.dstKind !== p.dstKind || ck.dst4 !== p.dst4 || ck.dstLen !== p.dstLen ||
        ck.tos !== p.tos || ck.priority !== p.priority) {
        throw new Error(`route key ${key} does not match the route's fields`);
      }
      return this.setParsed(null, p);
    }
    return this.setParsed(key, p);
  }

  // Fields as decode parsed them (in range by construction: read from fixed-size fields).
  // key: null when the route is canonical (isCanonical), else its key string.
  setParsed(key: string | null, p: ParsedRoute): this {
    if (key === null) {
      const g = this.group(p.table, p.tos, p.priority, p.dstLen, p.dstKind, true)!;
      const d = p.dst4 | 0;
      let s = g.get(d);
      if (s === undefined) {
        s = this.alloc();
        g.set(d, s);
      }
      this.store(s, p);
    } else {
      let s = this.byKey.get(key);
      if (s === undefined) {
        s = this.alloc();
        this.byKey.set(key, s);
        this.keyOfSlot.set(s, key);
      }
      this.store(s, p);
    }
    return this;
  }

  // Whether setParsed(key, p) would overwrite a route.
  hasParsed(key: string | null, p: ParsedRoute): boolean {
    if (key !== null) return this.byKey.has(key);
    return this.group(p.table, p.tos, p.priority, p.dstLen, p.dstKind, false)?.has(p.dst4 | 0) ?? false;
  }

  delete(key: string): boolean {
    const s = this.slotOf(key);
    if (s < 0) return false;
    const k = this.keyOfSlot.get(s);
    if (k !== undefined) {
      this.byKey.delete(k);
      this.keyOfSlot.delete(s);
    } else {
      const o = s * NB;
      const ow = s * NW;
      this.group(this.w[ow + W_TABLE], this.b[o + B_TOS], this.w[ow + W_PRIORITY], this.b[o + B_DSTLEN], this.b[o + B_DSTKIND], false)
        ?.delete(this.w[ow + W_DST4] | 0);
    }
    this.release(s);
    return true;
  }

  clear(): void {
    this.groups = new Map();
    this.lastGroup = null;
    this.lastG.table = -1;
    this.byKey = new Map();
    this.keyOfSlot = new Map();
    this.count = 0;
    this.head = this.tail = -1;
    this.next = new Int32Array(0);
    this.prev = new Int32Array(0);
    this.free = [];
    this.pendingFree = [];
    this.cap = 0;
    this.used = 0;
    this.b = new Uint8Array(0);
    this.w = new Uint32Array(0);
    this.r = [];
  }

  forEach(fn: (value: Route, key: string, map: Map<string, Route>) => void, thisArg?: unknown): void {
    for (const s of this.walk()) {
      const k = this.keyAt(s);
      fn.call(thisArg, this.make(s, k), k, this);
    }
  }

  *keys(): MapIterator<string> {
    for (const s of this.walk()) yield this.keyAt(s);
  }

  *values(): MapIterator<Route> {
    for (const s of this.walk()) yield this.make(s, this.keyAt(s));
  }

  *entries(): MapIterator<[string, Route]> {
    for (const s of this.walk()) {
      const k = this.keyAt(s);
      yield [k, this.make(s, k)];
    }
  }

  [Symbol.iterator](): MapIterator<[string, Route]> {
    return this.entries();
  }

  // Every route's summary fields without building Route objects (graph builds walk all).
  // fn must not change the table.
  scan(fn: RouteScanFn): void {
    const { b, w, r, next } = this;
    for (let s = this.head; s !== -1; s = next[s]) {
      const o = s * NB;
      fn(w[s * NW + W_TABLE], b[o + B_FAMILY] as Family, b[o + B_DSTLEN], ROUTE_TYPES[b[o + B_TYPE]] ?? 'unspec', r[s].nexthops, w[s * NW + W_MTU], w[s * NW + W_NHID]);
    }
  }

  // Keys of the routes referring to one of these nexthop objects.
  keysUsing(ids: ReadonlySet<number>): string[] {
    const out: string[] = [];
    for (const s of this.walk()) if (ids.has(this.w[s * NW + W_NHID])) out.push(this.keyAt(s));
    return out;
  }

  // Keys of the routes with a nexthop through the device.
  keysVia(ifindex: number): string[] {
    const out: string[] = [];
    let last: readonly NextHop[] | null = null;
    let lastHit = false;
    for (const s of this.walk()) {
      const hops = this.r[s].nexthops;
      if (hops !== last) {
        last = hops;
        lastHit = hops.some((h) => h.ifindex === ifindex);
      }
      if (lastHit) out.push(this.keyAt(s));
    }
    return out;
  }

  // Live slots in insertion order. A slot deleted meanwhile keeps its forward link and is
  // not reused until the walk ends, so deleting while iterating is safe (as with a Map).
  private *walk(): Generator<number, void, undefined> {
    this.iterating++;
    try {
      let s = this.head;
      while (s !== -1) {
        if (this.b[s * NB + B_LIVE]) yield s;
        s = this.next[s];
      }
    } finally {
      if (--this.iterating === 0 && this.pendingFree.length) {
        for (const s of this.pendingFree) this.free.push(s);
        this.pendingFree = [];
      }
    }
  }

  private slotOf(key: string): number {
    if (parseCanonicalKey(key)) {
      const s = this.group(ck.table, ck.tos, ck.priority, ck.dstLen, ck.dstKind, false)?.get(ck.dst4 | 0);
      return s === undefined ? -1 : s;
    }
    const s = this.byKey.get(key);
    return s === undefined ? -1 : s;
  }

  private keyAt(s: number): string {
    const k = this.keyOfSlot.get(s);
    if (k !== undefined) return k;
    const o = s * NB;
    const ow = s * NW;
    const { b, w } = this;
    const dst = b[o + B_DSTKIND] === DST_V4 ? ip4FromNumber(w[ow + W_DST4]) : '';
    return `4|${w[ow + W_TABLE]}|${dst}/${b[o + B_DSTLEN]}|/0|${b[o + B_TOS]}|${w[ow + W_PRIORITY]}`;
  }

  private group(table: number, tos: number, priority: number, dstLen: number, dstKind: number, create: boolean): Map<number, number> | undefined {
    const l = this.lastG;
    if (this.lastGroup && l.table === table && l.tos === tos && l.priority === priority && l.dstLen === dstLen && l.dstKind === dstKind) {
      return this.lastGroup;
    }
    const gk = `${table}|${tos}|${priority}|${dstLen}|${dstKind}`;
    let g = this.groups.get(gk);
    if (!g) {
      if (!create) return undefined;
      this.groups.set(gk, (g = new Map()));
    }
    this.lastGroup = g;
    l.table = table;
    l.tos = tos;
    l.priority = priority;
    l.dstLen = dstLen;
    l.dstKind = dstKind;
    return g;
  }

  private alloc(): number {
    let s = this.free.pop();
    if (s === undefined) {
      if (this.used === this.cap) this.grow();
      s = this.used++;
      this.r.push(EMPTY_TAIL); // one reference per slot, grown by the engine
    }
    // Linked in last, as a Map puts a new key.
    this.next[s] = -1;
    this.prev[s] = this.tail;
    if (this.tail >= 0) this.next[this.tail] = s;
    else this.head = s;
    this.tail = s;
    this.b[s * NB + B_LIVE] = 1;
    this.count++;
    return s;
  }

  private release(s: number): void {
    const p = this.prev[s];
    const n = this.next[s];
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.b[s * NB + B_LIVE] = 0;
    this.r[s] = EMPTY_TAIL;
    this.count--;
    (this.iterating ? this.pendingFree : this.free).push(s);
  }

  private grow(): void {
    const cap = Math.max(1024, this.cap * 2);
    const b = new Uint8Array(cap * NB);
    b.set(this.b);
    const w = new Uint32Array(cap * NW);
    w.set(this.w);
    const next = new Int32Array(cap);
    next.set(this.next);
    const prev = new Int32Array(cap);
    prev.set(this.prev);
    this.b = b;
    this.w = w;
    this.next = next;
    this.prev = prev;
    this.cap = cap;
  }

  private store(s: number, p: ParsedRoute): void {
    const o = s * NB;
    const ow = s * NW;
    const { b, w } = this;
    b[o + B_FAMILY] = p.family;
    b[o + B_DSTLEN] = p.dstLen;
    b[o + B_SRCLEN] = p.srcLen;
    b[o + B_TOS] = p.tos;
    b[o + B_PROTOCOL] = p.protocol;
    b[o + B_SCOPE] = p.scope;
    b[o + B_TYPE] = p.typeIndex;
    b[o + B_DSTKIND] = p.dstKind;
    w[ow + W_TABLE] = p.table;
    w[ow + W_PRIORITY] = p.priority;
    w[ow + W_NHID] = p.nhId;
    w[ow + W_DST4] = p.dst4;
    w[ow + W_MTU] = p.mtu;
    this.r[s] = tailOf(p.dstKind === DST_TEXT ? p.dstText : '', p.src, p.prefsrc, p.nexthops);
  }

  private make(s: number, key: string): Route {
    const o = s * NB;
    const ow = s * NW;
    const { b, w } = this;
    const t = this.r[s];
    const kind = b[o + B_DSTKIND];
    return {
      key,
      family: b[o + B_FAMILY] as Family,
      table: w[ow + W_TABLE],
      dst: kind === DST_V4 ? ip4FromNumber(w[ow + W_DST4]) : t.dst,
      dstLen: b[o + B_DSTLEN],
      src: t.src,
      srcLen: b[o + B_SRCLEN],
      tos: b[o + B_TOS],
      priority: w[ow + W_PRIORITY],
      protocol: b[o + B_PROTOCOL],
      scope: b[o + B_SCOPE],
      type: ROUTE_TYPES[b[o + B_TYPE]],
      prefsrc: t.prefsrc,
      nexthops: t.nexthops,
      nhId: w[ow + W_NHID],
      ...(w[ow + W_MTU] ? { mtu: w[ow + W_MTU] } : {}),
    };
  }
}

// Summary fields of every route, without building Route objects when the table allows.
export type RouteScanFn = (table: number, family: Family, dstLen: number, type: RouteType, nexthops: readonly NextHop[], mtu: number, nhId: number) => void;

export function scanRoutes(routes: Map<string, Route>, fn: RouteScanFn): void {
  if (routes instanceof RouteTable) {
    routes.scan(fn);
    return;
  }
  for (const r of routes.values()) fn(r.table, r.family, r.dstLen, r.type, r.nexthops, r.mtu ?? 0, r.nhId);
}

// Keys of the routes referring to one of these nexthop objects.
export function routeKeysUsing(routes: Map<string, Route>, ids: ReadonlySet<number>): string[] {
  if (routes instanceof RouteTable) return routes.keysUsing(ids);
  const out: string[] = [];
  for (const [k, r] of routes) if (ids.has(r.nhId)) out.push(k);
  return out;
}

// Keys of the routes with a nexthop through the device.
export function routeKeysVia(routes: Map<string, Route>, ifindex: number): string[] {
  if (routes instanceof RouteTable) return routes.keysVia(ifindex);
  const out: string[] = [];
  for (const [k, r] of routes) if (r.nexthops.some((h) => h.ifindex === ifindex)) out.push(k);
  return out;
}
