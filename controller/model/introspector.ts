// The Introspector keeps a KernelModel of one network namespace current and turns each
// settled burst of changes into one graph update. One dump at start; then rtnetlink
// multicast events; on ENOBUFS a full re-dump diffed against the model, so it never drifts.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { NativeAddon, NetlinkSocket } from '../native/types';
import type { Capabilities } from '../capabilities/types';
import { assumeAllCapabilities } from '../capabilities/types';
import type { GraphConfig } from '../graph/config';
import type { Graph, GraphDiff } from '../graph/types';
import { buildGraph } from '../graph/build';
import { diffGraphs, isEmptyDiff } from '../graph/diff';
import { decode, loadRouteAt, MSG_NAMES, RTM, splitMessages, type Op, type RawMessage } from './decode';
import { Dumper, filterDumpRequest, fullDumpRequests, routeDumpRequest, type DumpRequest } from './dump';
import { checkNetfilter } from './netfilter';
import { applyOp, countDiff, diffModels, loadOp, sameValue } from './store';
import { readSysctls, sysctlChanges } from './sysctl';
import { emptyModel, type KernelModel } from './types';
import { XfrmWatcher } from './xfrm';

// rtnetlink groups (enum rtnetlink_groups).
const GROUPS = {
  LINK: 1, NEIGH: 3, TC: 4, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV4_RULE: 8, IPV6_IFADDR: 9, IPV6_ROUTE: 11,
  IPV6_RULE: 19, IPV4_NETCONF: 24, IPV6_NETCONF: 25, NEXTHOP: 32,
};
const NETLINK_ROUTE = 0;
const NETLINK_NETFILTER = 12;
const NFNLGRP_NFTABLES = 7;
const MAX_CAUSES = 50;
const LEADING_SETTLE_MS = 5;

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>) => void;

export interface IntrospectorOptions {
  netns?: string; // name under /var/run/netns; absent: the calling thread's namespace
  debounceMs?: number; // quiet time that ends a burst (default 50)
  maxBurstMs?: number; // a burst never waits longer than this from its first event (default 10 x debounce)
  sysctlIntervalMs?: number; // default 1000
  netfilterIntervalMs?: number; // default 2000 (legacy iptables has no events)
  rcvbuf?: number; // event socket receive buffer (default 4 MiB)
  log?: LogFn;
  graphConfig?: GraphConfig;
  capabilities?: Capabilities;
  native?: NativeAddon; // injected for tests; default: the real addon
}

export interface UpdateEvent {
  graph: Graph;
  diff: GraphDiff;
  model: KernelModel;
  graphChanged: boolean; // false when only data the graph does not show changed (e.g. an FDB entry moved)
  firstEventAt: bigint; // process.hrtime.bigint() of the first event of the burst
}

export interface ResyncEvent {
  reason: string;
  changes: number; // model entries the re-dump found out of date
}

export declare interface Introspector {
  on(event: 'update', listener: (ev: UpdateEvent) => void): this;
  on(event: 'resync', listener: (ev: ResyncEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'update', listener: (ev: UpdateEvent) => void): this;
  once(event: 'resync', listener: (ev: ResyncEvent) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
}

export class Introspector extends EventEmitter {
  private readonly opts: Required<Pick<IntrospectorOptions, 'debounceMs' | 'maxBurstMs' | 'sysctlIntervalMs' | 'netfilterIntervalMs' | 'rcvbuf'>> & IntrospectorOptions;
  private nat: NativeAddon | null = null;
  private _model: KernelModel = emptyModel();
  private _graph: Graph = { version: 0, nodes: [], edges: [], services: [] };
  private cfg: GraphConfig;
  private caps: Capabilities;
  private evSock: NetlinkSocket | null = null;
  private dumpSock: NetlinkSocket | null = null;
  private nfSock: NetlinkSocket | null = null;
  private xfrm: XfrmWatcher | null = null;
  private readonly dumper = new Dumper();
  private started = false;
  private stopped = false;
  // While a dump runs, events wait here and are replayed on top of the dump's result.
  private holding = false;
  private held: Buffer[] = [];
  // Burst state.
  private causes: string[] = [];
  private causeOverflow = 0;
  private dirty = false;
  private firstEventAt: bigint | null = null;
  private burstStart = 0;
  private lastFlushEnd = 0;
  private debounceTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private needRoutes4 = false;
  private needSysctls = false;
  private filterDumps = new Set<number>();
  // Periodic checks.
  private sysctlTimer: NodeJS.Timeout | null = null;
  private nfTimer: NodeJS.Timeout | null = null;
  private nfRunning: Promise<void> | null = null;
  private nfAgain = false;
  private nfKick: NodeJS.Timeout | null = null;
  private resyncing: Promise<void> | null = null;
  private resyncAgain: string | null = null;
  private targetInode = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private discarding = false; // after an overflow, until the re-dump starts

  constructor(opts: IntrospectorOptions = {}) {
    super();
    const debounceMs = opts.debounceMs ?? 50;
    this.opts = {
      ...opts,
      debounceMs,
      maxBurstMs: opts.maxBurstMs ?? Math.max(10 * debounceMs, 100),
      sysctlIntervalMs: opts.sysctlIntervalMs ?? 1000,
      netfilterIntervalMs: opts.netfilterIntervalMs ?? 2000,
      rcvbuf: opts.rcvbuf ?? 4 * 1024 * 1024,
    };
    this.cfg = opts.graphConfig ?? {};
    this.caps = opts.capabilities ?? assumeAllCapabilities();
  }

  // The current model (replaced as a whole after a resync: don't keep references across updates).
  get model(): KernelModel {
    return this._model;
  }

  get graph(): Graph {
    return this._graph;
  }

  get capabilities(): Capabilities {
    return this.caps;
  }

  get graphConfig(): GraphConfig {
    return this.cfg;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, obj);
  }

  private get native(): NativeAddon {
    if (!this.nat) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      this.nat = this.opts.native ?? (require('../native') as { native: NativeAddon }).native;
    }
    return this.nat;
  }

  // Runs fn in the target namespace (sysctl and /proc/net reads follow the calling thread).
  private inTarget<T>(fn: () => T): T {
    const ns = this.opts.netns;
    if (!ns) return fn();
    if (this.native.currentNetnsInode() === this.targetInode) return fn();
    return this.native.inNetns(ns, fn);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('Introspector already started');
    this.started = true;
    const ns = this.opts.netns;
    if (ns) {
      try {
        this.targetInode = fs.statSync(`/var/run/netns/${ns}`).ino;
      } catch (e) {
        throw new Error(`network namespace ${ns} not found: ${(e as Error).message}`);
      }
    }
    const n = this.native;
    // Events first, so nothing that happens during the dump is missed.
    this.holding = true;
    this.evSock = n.netlinkOpen({
      protocol: NETLINK_ROUTE,
      netns: ns,
      groups: Object.values(GROUPS),
      rcvbuf: this.opts.rcvbuf,
      onMessages: (d) => this.onEvents(d),
      onOverflow: () => this.onOverflow(),
      onError: (e) => this.emitError(new Error(`netlink event socket: ${e.message}`)),
    });
    this.dumpSock = n.netlinkOpen({
      protocol: NETLINK_ROUTE,
      netns: ns,
      rcvbuf: 8 * 1024 * 1024,
      onMessages: (d) => this.dumper.onDatagrams(d),
      onOverflow: () => this.dumper.onOverflow(),
      onError: (e) => this.emitError(new Error(`netlink dump socket: ${e.message}`)),
    });
    this.dumper.attach(this.dumpSock);
    try {
      this.nfSock = n.netlinkOpen({
        protocol: NETLINK_NETFILTER,
        netns: ns,
        groups: [NFNLGRP_NFTABLES],
        onMessages: () => this.kickNetfilter(),
        onOverflow: () => this.kickNetfilter(),
      });
    } catch (e) {
      this.log('warn', 'no nftables event socket: netfilter is checked periodically only', { err: (e as Error).message });
    }
    try {
      // The netfilter tools and the IPsec policy read run while we dump.
      const nf = this.netfilterNow();
      this.xfrm = new XfrmWatcher(n, ns, (x) => this.onXfrm(x), (level, msg, obj) => this.log(level, msg, obj));
      const xfrm = this.xfrm.start();
      const fresh = await this.exclusive(() => this.dumpAll());
      this.discarding = false;
      this._model = fresh;
      this._model.netfilter = await nf;
      this._model.xfrm = await xfrm;
      this.replayHeld(this._model);
      this._model.sysctls = this.inTarget(() => readSysctls(this.ifnames()));
    } catch (e) {
      this.stop();
      throw e;
    }
    this.causes = [];
    this.causeOverflow = 0;
    this.dirty = false;
    this.firstEventAt = null;
    const g0 = performance.now();
    this._graph = buildGraph(this._model, this.caps, this.cfg, 1);
    this.log('debug', `first graph built in ${Math.round(performance.now() - g0)} ms`);
    this.sysctlTimer = setInterval(() => this.pollSysctls(), this.opts.sysctlIntervalMs);
    this.sysctlTimer.unref();
    this.nfTimer = setInterval(() => this.kickNetfilter(), this.opts.netfilterIntervalMs);
    this.nfTimer.unref();
    this.log('info', 'introspection ready', {
      links: this._model.links.size, routes: this._model.routes.size, fdb: this._model.fdb.size, netns: ns ?? null,
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.sysctlTimer, this.nfTimer, this.debounceTimer, this.nfKick]) if (t) clearTimeout(t);
    this.sysctlTimer = this.nfTimer = this.debounceTimer = this.nfKick = null;
    this.dumper.detach();
    this.xfrm?.stop();
    this.xfrm = null;
    for (const s of [this.evSock, this.dumpSock, this.nfSock]) {
      try {
        s?.close();
      } catch {
        /* closing twice is harmless */
      }
    }
    this.evSock = this.dumpSock = this.nfSock = null;
  }

  setGraphConfig(cfg: GraphConfig): void {
    this.cfg = cfg;
    this.rebuildNow('config');
  }

  setCapabilities(caps: Capabilities): void {
    this.caps = caps;
    this.rebuildNow('capabilities');
  }

  // Both at once: one graph rebuild instead of two (each walks every route).
  setGraphInputs(cfg: GraphConfig, caps: Capabilities): void {
    this.cfg = cfg;
    this.caps = caps;
    this.rebuildNow('config and capabilities');
  }

  // Forces a full re-dump (after an overflow, or on request). Resolves when the model is current.
  resync(reason = 'requested'): Promise<void> {
    if (this.stopped || !this.started) return Promise.resolve();
    if (this.resyncing) {
      this.resyncAgain = reason;
      return this.resyncing;
    }
    this.resyncing = this.exclusive(() => this.doResync(reason)).finally(() => {
      this.resyncing = null;
      const again = this.resyncAgain;
      this.resyncAgain = null;
      if (again && !this.stopped) void this.resync(again);
    });
    return this.resyncing;
  }

  // ---------------------------------------------------------------- events

  private onEvents(datagrams: Buffer[]): void {
    if (this.stopped) return;
    if (this.firstEventAt === null) {
      this.firstEventAt = process.hrtime.bigint();
      this.burstStart = Date.now();
    }
    if (this.discarding) return;
    if (this.holding) {
      for (const d of datagrams) this.held.push(d);
      return;
    }
    const msgs: RawMessage[] = [];
    for (const d of datagrams) splitMessages(d, msgs);
    for (const m of msgs) this.applyEvent(this._model, m, true);
    this.schedule();
  }

  private applyEvent(model: KernelModel, m: RawMessage, live: boolean): void {
    let op: Op | null;
    try {
      op = decode(m);
    } catch (e) {
      this.log('warn', 'undecodable netlink message', { type: m.type, err: (e as Error).message });
      return;
    }
    if (!op) return;
    model.stats.events++;
    if (op.op === 'netconf') {
      this.needSysctls = true;
      this.dirtyMark();
      return;
    }
    const prevLink = op.op === 'link' ? model.links.get(op.link.ifindex) : undefined;
    const cause = applyOp(model, op, MSG_NAMES[m.type] ?? `type ${m.type}`);
    if (!cause) return;
    this.addCause(cause);
    this.dirty = true;
    if (!live) return;
    // The kernel flushes IPv4 routes of a device going admin-down without notifying: re-dump them.
    if (op.op === 'link' && prevLink && prevLink.adminUp && !op.link.adminUp) this.needRoutes4 = true;
    if (op.op === 'link' && !prevLink) this.needSysctls = true;
    // A new ingress/clsact qdisc may come with filters added before we looked: dump them.
    if (op.op === 'set' && op.table === 'qdiscs' && op.value.ingress) this.filterDumps.add(op.value.ifindex);
  }

  private dirtyMark(): void {
    if (this.firstEventAt === null) {
      this.firstEventAt = process.hrtime.bigint();
      this.burstStart = Date.now();
    }
    this.dirty = true;
  }

  private addCause(c: string): void {
    if (this.causes.length < MAX_CAUSES) this.causes.push(c);
    else this.causeOverflow++;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (!this.dirty && !this.needSysctls) {
      // Nothing changed (a repeat of known state): end the burst quietly.
      if (!this.debounceTimer && !this.flushing) this.firstEventAt = null;
      return;
    }
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    const waited = Date.now() - this.burstStart;
    // Leading edge: the first change after a quiet period is handled after a short settle
    // (one command's messages arrive within it), so a lone change goes live in milliseconds.
    // Changes that keep coming coalesce behind the debounce.
    const quietBefore = this.burstStart - this.lastFlushEnd >= this.opts.debounceMs;
    const delay = quietBefore
      ? Math.max(0, Math.min(LEADING_SETTLE_MS, this.opts.debounceMs) - waited)
      : Math.max(0, Math.min(this.opts.debounceMs, this.opts.maxBurstMs - waited));
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.flush();
    }, delay);
  }

  private async flush(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      if (this.dirty || this.needSysctls) this.schedule();
      return;
    }
    this.flushing = this.doFlush().catch((e: unknown) => this.emitError(e as Error));
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
      this.lastFlushEnd = Date.now();
    }
  }

  private async doFlush(): Promise<void> {
    if (this.stopped) return;
    if (this.needRoutes4) {
      this.needRoutes4 = false;
      await this.exclusive(() => this.redumpRoutes(4));
    }
    if (this.filterDumps.size) {
      const devs = [...this.filterDumps];
      this.filterDumps.clear();
      for (const ifindex of devs) await this.dumpFiltersInto(this._model, ifindex, true);
    }
    // Sysctls are re-read at every flush: new devices and netconf events show up at once.
    this.needSysctls = false;
    this.refreshSysctls();
    if (!this.dirty) {
      this.firstEventAt = null;
      return;
    }
    this.emitUpdate();
  }

  private emitUpdate(): void {
    const causes = [...this.causes];
    if (this.causeOverflow) causes.push(`... and ${this.causeOverflow} more`);
    const first = this.firstEventAt ?? process.hrtime.bigint();
    this.causes = [];
    this.causeOverflow = 0;
    this.dirty = false;
    this.firstEventAt = null;
    const prev = this._graph;
    const candidate = buildGraph(this._model, this.caps, this.cfg, prev.version + 1);
    const diff = diffGraphs(prev, candidate, causes);
    const graphChanged = !isEmptyDiff(diff);
    if (graphChanged) this._graph = candidate;
    else diff.version = prev.version;
    this.emit('update', { graph: this._graph, diff, model: this._model, graphChanged, firstEventAt: first } satisfies UpdateEvent);
  }

  private rebuildNow(cause: string): void {
    if (!this.started || this.stopped) return;
    this.addCause(cause);
    this.dirtyMark();
    if (this.flushing || this.debounceTimer) return; // the pending flush picks it up
    this.emitUpdate();
  }

  private emitError(e: Error): void {
    this.log('error', e.message);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  // The kernel reports ENOBUFS before the messages still queued; those are older than any
  // dump we start now, and replaying them over the dump would bring back stale state. So
  // everything read until the re-dump starts is dropped (the dump covers it), and the
  // re-dump starts once this read batch is done (setImmediate runs after the poll phase).
  private onOverflow(): void {
    if (this.stopped) return;
    this._model.stats.overflows++;
    this.discarding = true;
    this.log('warn', 'netlink event socket overflowed (ENOBUFS): re-dumping');
    setImmediate(() => void this.resync('overflow'));
  }

  // ---------------------------------------------------------------- dumps

  private replayHeld(model: KernelModel): void {
    const held = this.held;
    this.held = [];
    this.holding = false;
    const msgs: RawMessage[] = [];
    for (const d of held) splitMessages(d, msgs);
    for (const m of msgs) this.applyEvent(model, m, false);
  }

  private async dumpInto(model: KernelModel, req: DumpRequest): Promise<void> {
    const t0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      const interrupted = await this.dumper.dump(
        req,
        (m) => {
          const op = decode(m);
          if (op && op.op !== 'netconf') loadOp(model, op);
        },
        (d, s, e, type) => {
          if (type !== RTM.NEWROUTE) return false;
          loadRouteAt(model.routes, d, s, e);
          return true;
        },
      );
      if (!interrupted || attempt >= 3) {
        this.log('debug', `dump of ${req.label} took ${Math.round(performance.now() - t0)} ms`);
        return;
      }
      this.log('debug', `dump of ${req.label} was interrupted: again`);
    }
  }

  private async dumpFiltersInto(model: KernelModel, ifindex: number, live: boolean): Promise<void> {
    const q = [...model.qdiscs.values()].find((x) => x.ifindex === ifindex && x.ingress);
    if (!q) return;
    const parents = q.kind === 'clsact' ? [0xfffffff2, 0xfffffff3] : [0xfffffff2];
    for (const parent of parents) {
      const before = live ? [...model.filters.keys()].filter((k) => k.startsWith(`${ifindex}|`)).length : 0;
      try {
        await this.dumpInto(model, filterDumpRequest(ifindex, parent));
      } catch (e) {
        this.log('debug', `filter dump of ifindex ${ifindex} failed`, { err: (e as Error).message });
      }
      if (live) {
        const after = [...model.filters.keys()].filter((k) => k.startsWith(`${ifindex}|`)).length;
        if (after !== before) {
          this.addCause(`tc filters on ${model.links.get(ifindex)?.name ?? ifindex}`);
          this.dirty = true;
        }
      }
    }
  }

  // Dumps that hold events back (resync, route re-dump) never overlap.
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async dumpAll(): Promise<KernelModel> {
    const model = emptyModel();
    for (const req of fullDumpRequests()) await this.dumpInto(model, req);
    for (const q of [...model.qdiscs.values()]) if (q.ingress) await this.dumpFiltersInto(model, q.ifindex, false);
    return model;
  }

  private async redumpRoutes(family: 4 | 6): Promise<void> {
    const fresh = emptyModel();
    this.holding = true;
    try {
      await this.dumpInto(fresh, routeDumpRequest(family));
    } catch (e) {
      this.holding = false;
      this.replayHeld(this._model);
      throw e;
    }
    const m = this._model;
    let changes = 0;
    for (const [k, r] of m.routes) {
      if (r.family !== family) continue;
      const f = fresh.routes.get(k);
      if (!f) {
        m.routes.delete(k);
        changes++;
        this.addCause(`route ${r.dst || 'default'}/${r.dstLen} flushed with its device`);
      } else if (!sameValue(f, r)) {
        m.routes.set(k, f);
        changes++;
      }
    }
    for (const [k, r] of fresh.routes) {
      if (!m.routes.has(k)) {
        m.routes.set(k, r);
        changes++;
      }
    }
    if (changes) this.dirty = true;
    this.replayHeld(m);
  }

  private async doResync(reason: string): Promise<void> {
    const old = this._model;
    this.discarding = false;
    this.holding = true;
    let fresh: KernelModel;
    try {
      fresh = await this.dumpAll();
    } catch (e) {
      this.holding = false;
      this.replayHeld(old);
      this.emitError(new Error(`resync failed: ${(e as Error).message}`));
      this.resyncAgain = this.resyncAgain ?? reason;
      return;
    }
    if (this.stopped) return;
    fresh.netfilter = old.netfilter;
    fresh.xfrm = old.xfrm;
    fresh.sysctls = old.sysctls;
    fresh.stats = old.stats;
    // Events that arrived during the dump (after the overflow) are replayed on the fresh model.
    const causesBefore = this.causes.length;
    this.replayHeld(fresh);
    const changes = countDiff(diffModels(old, fresh));
    fresh.stats.resyncs++;
    fresh.stats.resyncChanges += changes;
    this._model = fresh;
    this.causes.splice(causesBefore);
    this.addCause(`resync (${reason}): ${changes} change${changes === 1 ? '' : 's'}`);
    if (changes) this.dirtyMark();
    this.log(changes ? 'info' : 'debug', `resync (${reason}) done`, { changes });
    this.emit('resync', { reason, changes } satisfies ResyncEvent);
    this.schedule();
  }

  // ---------------------------------------------------------------- sysctls, netfilter

  private ifnames(): string[] {
    return [...this._model.links.values()].map((l) => l.name);
  }

  private refreshSysctls(): void {
    let next;
    try {
      next = this.inTarget(() => readSysctls(this.ifnames()));
    } catch (e) {
      this.log('warn', 'sysctl read failed', { err: (e as Error).message });
      return;
    }
    const prev = this._model.sysctls;
    const a = { ...prev, devices: [...prev.devices].sort() };
    const b = { ...next, devices: [...next.devices].sort() };
    if (sameValue(a, b)) return;
    this._model.sysctls = next;
    const changes = sysctlChanges(prev, next);
    for (const c of changes) this.addCause(c);
    this.dirtyMark();
  }

  private pollSysctls(): void {
    if (this.stopped || this.holding || this.flushing) return;
    this.refreshSysctls();
    this.schedule();
  }

  private legacyTables(): boolean {
    try {
      return this.inTarget(() =>
        ['/proc/net/ip_tables_names', '/proc/net/ip6_tables_names'].some((p) => {
          try {
            return fs.readFileSync(p, 'latin1').trim().length > 0;
          } catch {
            return false;
          }
        }),
      );
    } catch {
      return false;
    }
  }

  private netfilterNow(): Promise<KernelModel['netfilter']> {
    return checkNetfilter({ netns: this.opts.netns, legacy: this.legacyTables() });
  }

  // Coalesces nftables events and the periodic timer into one check at a time.
  private kickNetfilter(): void {
    if (this.stopped) return;
    if (this.nfRunning) {
      this.nfAgain = true;
      return;
    }
    if (this.nfKick) return;
    this.nfKick = setTimeout(() => {
      this.nfKick = null;
      this.nfRunning = this.checkNetfilterOnce().finally(() => {
        this.nfRunning = null;
        if (this.nfAgain) {
          this.nfAgain = false;
          this.kickNetfilter();
        }
      });
    }, 10);
  }

  private async checkNetfilterOnce(): Promise<void> {
    let next;
    try {
      next = await this.netfilterNow();
    } catch (e) {
      this.log('warn', 'netfilter check failed', { err: (e as Error).message });
      return;
    }
    if (this.stopped) return;
    if (sameValue(next, this._model.netfilter)) return;
    this._model.netfilter = next;
    this.addCause('netfilter');
    this.dirtyMark();
    this.schedule();
  }

  private onXfrm(next: KernelModel['xfrm']): void {
    if (this.stopped) return;
    this._model.xfrm = next;
    this.addCause('xfrm policies');
    this.dirtyMark();
    this.schedule();
  }
}
