import { EventEmitter } from 'events';
import { native } from '../native';
import { sourceCheck } from '../deployer/local-addrs';
import { bridgeNetfilter } from '../graph/brnf';
import { bridgeAnswersNeighbours } from '../graph/bridge-neigh';
import { loadManifests, type FpmManifest } from '../assembler/manifest';
import { assemble, type KnobValues } from '../assembler/plan';
import { capabilitiesSummary, probeCapabilities, probeDevicesOf, type Capabilities } from '../capabilities';
import { deviceSelected, reloadConfig, type Config, type ConfigOverrides } from '../config';
import { bridgeFdb, deviceRoles, graphToDot, type Graph, type GraphConfig } from '../graph';
import { egressHookReasons, qdiscInfo } from '../graph/analysis';
import { Introspector, type UpdateEvent } from '../model';
import { XdpFeatureWatcher } from '../model/xdp-features';
import { Deployer, type DeployError, type SwapEvent } from '../deployer';
import type { DpDevice } from '../deployer/datapath';
import { fastPathSelectors } from '../deployer/xfrm-selectors';
import type { Metrics } from '../api';
import { EPPING_MAPS, EppingService, eppingKnobs, eppingMapSizes } from '../epping';
import type { Logger } from '../util/log';
import type {
  DaemonEvent, DaemonView, DeviceStats, ErrorInfo, PipelineView, ReloadResult, StatusView,
} from './view';

export interface DaemonOptions {
  config: Config;
  configPath: string;
  overrides: ConfigOverrides;
  netns: string | null;
  logger: Logger;
  metrics: Metrics;
  version: string;
}

// Config sections that become FPM knobs, keyed by FPM name.
function configKnobs(cfg: Config): Map<string, KnobValues> {
  return new Map<string, KnobValues>([['latency-monitor', eppingKnobs(cfg.epping)]]);
}


// The running daemon: introspection feeds the graph, the graph feeds the assembler, the
// deployer makes it live. Implements everything the API and CLI read.
export class Daemon implements DaemonView {
  private cfg: Config;
  private readonly log: Logger;
  private readonly events = new EventEmitter();
  private readonly started = Date.now();
  private manifests: Map<string, FpmManifest>;
  private caps!: Capabilities;
  private intro!: Introspector;
  private deployer!: Deployer;
  private nlSend: ((b: Buffer) => void) | null = null;
  private closeNl: (() => void) | null = null;
  private lastError: ErrorInfo | null = null;
  private disabled = new Set<string>();
  private owned = new Set<number>();
  readonly epping: EppingService;
  private xdpFeatures: XdpFeatureWatcher | null = null;
  private live = false;
  private eppingMapIds = '';

  constructor(private readonly o: DaemonOptions) {
    this.cfg = o.config;
    this.log = o.logger;
    this.manifests = loadManifests();
    this.events.setMaxListeners(0);
    this.epping = new EppingService({ log: o.logger, config: o.config.epping });
    this.epping.on('sample', (sample) => {
      this.o.metrics.observeRtt(sample.device, sample.side, sample.rtt_us / 1e6);
      this.emit({ type: 'rtt', sample: { ...sample } });
    });
  }

  // Samples for GET /v1/rtt when the richer epping routes are not registered.
  rttSamples(limit: number): Record<string, unknown>[] {
    return this.epping.rttSamples(limit);
  }

  get config(): Config {
    return this.cfg;
  }

  private graphConfig(): GraphConfig {
    const c = this.cfg;
    return {
      include: c.devices.include,
      exclude: c.devices.exclude,
      epping: { enabled: c.epping.enabled, devices: c.epping.devices.length ? c.epping.devices : undefined },
      queueing: { enabled: c.queueing.enabled, devices: c.queueing.devices.length ? c.queueing.devices : undefined },
      ownedXdpProgIds: [...this.owned],
      disabledDevices: [...this.disabled],
      noXdpTransmit: this.noXdpTransmit(),
    };
  }

  async start(): Promise<void> {
    const c = this.cfg;
    // Start-up phases are timed at debug level (the control plane's scale target is on them).
    let mark = performance.now();
    const phase = (name: string): void => {
      const now = performance.now();
      this.log.debug({ ms: Math.round(now - mark) }, `start: ${name}`);
      mark = now;
    };
    this.caps = this.probe();
    phase('capability probes');
    this.deployer = new Deployer({
      native,
      manifests: this.manifests,
      bpffsRoot: c.bpffs_root,
      netns: this.o.netns,
      mode: c.xdp_mode,
      heartbeatIntervalMs: c.heartbeat.interval_ms,
      heartbeatTimeoutMs: c.heartbeat.timeout_ms,
      fdbRefreshMs: c.fdb_refresh_ms,
      mapSizes: () => eppingMapSizes(this.cfg.epping),
      sendNetlink: (b) => this.nlSend?.(b),
      neighbours: () => this.intro?.model.neighbours.values() ?? [],
    });
    // Programs an earlier daemon attached are ours, not "someone else's XDP".
    for (const id of this.deployer.pinnedRootProgIds()) this.owned.add(id);
    this.openRequestSocket();
    this.intro = new Introspector({
      netns: this.o.netns ?? undefined,
      debounceMs: c.debounce_ms,
      log: this.logFn,
      graphConfig: this.graphConfig(),
      capabilities: this.caps,
    });
    this.intro.on('error', (err) => this.recordError(`introspection: ${err.message}`));
    this.intro.on('resync', (ev) => {
      this.o.metrics.incResyncs(ev.reason);
      this.log.warn({ reason: ev.reason, changes: ev.changes }, 'netlink resync');
    });
    phase('deployer and request socket');
    await this.intro.start();
    phase('introspection');
    // A device is a redirect target only while the kernel says it can transmit XDP frames
    // (xdp_features NDO_XMIT; a veth needs GRO or XDP on its peer), else redirects are dropped.
    const watcher = new XdpFeatureWatcher({ netns: this.o.netns ?? undefined, log: this.logFn });
    try {
      await watcher.start();
      this.xdpFeatures = watcher;
      watcher.on('change', (ev: { ifindex: number }) => {
        this.log.debug({ ifindex: ev.ifindex }, 'xdp features changed');
        if (!this.live) return;
        // Data first (withdraws the redirect target at once), then the graph says why.
        this.reconcile(this.intro.graph, process.hrtime.bigint());
        this.intro.setGraphConfig(this.graphConfig());
      });
      watcher.on('error', (err: Error) => this.recordError(`xdp features: ${err.message}`));
    } catch (e) {
      this.recordError(`cannot watch xdp features: ${(e as Error).message}`);
    }
    // Device capabilities need the device list, which the first dump provides.
    phase('xdp features');
    this.caps = this.probe(probeDevicesOf(this.intro.model.links.values()));
    phase('device capability probes');
    this.intro.setGraphInputs(this.graphConfig(), this.caps); // now with the xdp_features verdicts
    phase('graph rebuilds');
    const { adopted } = this.deployer.init((ifindex) => this.intro.model.links.get(ifindex)?.name);
    phase('deployer init');
    if (adopted.length) this.log.info({ devices: adopted }, 'adopted pinned pipelines');
    this.deployer.on('swap', (ev: SwapEvent) => this.onSwap(ev));
    this.deployer.on('error', (ev: DeployError) => {
      this.o.metrics.incSwaps(ev.device, 'failed');
      this.recordError(ev.device ? `${ev.device}: ${ev.message}` : ev.message, ev.detail);
    });
    this.deployer.on('detach', (ev: { device: string }) => this.log.info({ device: ev.device }, 'pipeline detached'));
    this.o.metrics.bind({ heartbeatAge: () => this.deployer.heartbeatAgeSeconds() ?? Number.NaN });
    this.intro.on('update', (ev) => this.onUpdate(ev));
    this.reconcile(this.intro.graph, null);
    phase('first reconcile');
    this.live = true;
  }

  private readonly logFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>): void => {
    this.log[level](obj ?? {}, msg);
  };

  // Every helper, map type and kfunc the FPM library needs, asked of the kernel.
  private probe(devices?: ReturnType<typeof probeDevicesOf>): Capabilities {
    const needs = [...this.manifests.values()].map((m) => m.capabilities);
    return probeCapabilities({
      native,
      devices,
      kernelFrom: devices ? this.caps : undefined, // the kernel-wide answers of the first probe
      extraHelpers: needs.flatMap((x) => x.helpers),
      extraMapTypes: needs.flatMap((x) => x.map_types),
      extraKfuncs: needs.flatMap((x) => x.kfuncs),
      attachProbe: false,
    });
  }

  private openRequestSocket(): void {
    try {
      const sock = native.netlinkOpen({
        protocol: 0,
        onMessages: () => undefined, // errors from FDB refreshes are not worth a log line each
        onOverflow: () => undefined,
      });
      sock.unref();
      this.nlSend = (b) => sock.send(b);
      this.closeNl = () => sock.close();
    } catch (e) {
      this.recordError(`cannot open the netlink request socket: ${(e as Error).message}`);
    }
  }

  private onUpdate(ev: UpdateEvent): void {
    if (ev.graphChanged) {
      this.emit({ type: 'graph', version: ev.graph.version, diff: ev.diff });
      this.log.info({ version: ev.graph.version, added: ev.diff.added.length, removed: ev.diff.removed.length, changed: ev.diff.changed.length, causes: ev.diff.causes.slice(0, 10) }, 'graph updated');
    }
    this.reconcile(ev.graph, ev.firstEventAt);
  }

  // Data first (it withdraws permissions at once), then any pipeline changes.
  private reconcile(graph: Graph, firstEventAt: bigint | null): void {
    try {
      const model = this.intro.model;
      const roles = deviceRoles(graph, model);
      // SS_DEV_QDISC: the egress runs something XDP must not bypass. For a bridge (which
      // l3-router resolves to a port) that includes tc egress filters and nft egress chains.
      const shaped = (ifindex: number): boolean => {
        const link = model.links.get(ifindex);
        if (!link) return false;
        return !qdiscInfo(link, model).isDefault || (link.kind === 'bridge' && egressHookReasons(link, model).length > 0);
      };
      // A bridge port answers to the bridge's addresses: it inherits the bridge's rp_filter.
      const rpOf = (r: { rpFilter: number; bridgeIfindex: number; l2Bridge: string | null }): number => {
        const br = r.l2Bridge ? roles.get(r.l2Bridge) : undefined;
        return br ? Math.max(br.rpFilter, r.rpFilter) : r.rpFilter;
      };
      const dp: DpDevice[] = [...roles.values()].map((r) => ({
        ifindex: r.ifindex,
        ifname: r.ifname,
        mtu: r.mtu,
        mac: r.l2Bridge ? r.routerMac : r.mac || '00:00:00:00:00:00',
        up: r.up,
        isBridge: r.isBridge,
        bridgeIfindex: r.l2Bridge ? r.bridgeIfindex : 0,
        portForwarding: r.portForwarding,
        isolated: r.isolated,
        tx: r.egressOk && this.redirectable(r.ifindex),
        qdisc: shaped(r.ifindex),
        l3: r.l3.v4 || r.l3.v6,
        nfEgress: r.nfEgress,
        rpFilter: rpOf(r),
        routeMtu4: r.routeMtu4,
      }));
      const src = sourceCheck(model);
      // The graph decides which families' IPsec selectors l3-router checks; they go into the
      // maps before a pipeline that checks them can go live.
      const xattrs = graph.nodes.find((n) => n.id === 'xfrm')?.attrs;
      const xfrm = { v4: xattrs?.ipv4_selectors === true, v6: xattrs?.ipv6_selectors === true };
      this.deployer.syncData(dp, bridgeFdb(graph, model), src.addresses, fastPathSelectors(model.xfrm, xfrm));
      const portRules = graph.services.find((s) => s.id === 'l3-router')?.attrs?.port_rules === true;
      const candidates = [...roles.values()]
        .filter((r) => r.managed && r.ingressOk && deviceSelected(this.cfg.devices, r.ifname))
        .map((r) => ({
          ...r,
          srcCheck: src.mode,
          xfrm,
          portRules,
          brnf: r.l2Bridge ? bridgeNetfilter(model, r.bridgeIfindex) : undefined,
          neighSuppress: r.l2Bridge ? bridgeAnswersNeighbours(model, r.bridgeIfindex) !== null : undefined,
        }));
      const { plans, problems } = assemble({
        roles: candidates,
        manifests: this.manifests,
        missingCapabilities: new Set(this.caps.missing),
        configKnobs: configKnobs(this.cfg),
      });
      for (const p of problems) this.log.warn(p);
      this.deployer.apply(plans, firstEventAt);
      this.syncEpping();
      const ids = this.deployer.rootProgIds();
      if (ids.some((id) => !this.owned.has(id))) {
        for (const id of ids) this.owned.add(id);
        this.intro.setGraphConfig(this.graphConfig());
      }
    } catch (e) {
      this.recordError(`reconcile: ${(e as Error).message}`);
    }
  }

  private noXdpTransmit(): string[] {
    if (!this.intro) return [];
    return [...this.intro.model.links.values()].filter((l) => !this.redirectable(l.ifindex)).map((l) => l.name).sort();
  }

  // Unknown (a kernel without the netdev family) counts as able: that kernel cannot tell us.
  private redirectable(ifindex: number): boolean {
    const w = this.xdpFeatures;
    if (!w || !w.supported) return true;
    return w.canRedirectInto(ifindex) === true;
  }

  // The monitor's maps exist once a chain with it has loaded; follow them if they are recreated.
  private syncEpping(): void {
    const model = this.intro.model;
    const links = [...model.links.values()];
    this.epping.setDevices(links.map((l) => ({ ifindex: l.ifindex, ifname: l.name })));
    const sides: Record<string, string> = {};
    for (const l of links) {
      const br = l.port && l.master ? model.links.get(l.master) : undefined;
      sides[l.name] = br ? br.name : l.name;
    }
    this.epping.setSides(sides);
    this.epping.setLocalAddresses([...model.addresses.values()].map((a) => a.address));
    const fds: Record<string, number> = {};
    for (const name of EPPING_MAPS) {
      const fd = this.deployer.shared.fd(name);
      if (fd !== undefined) fds[name] = fd;
    }
    const running = this.deployer.pipelines().some((p) => p.fpms.includes('latency-monitor'));
    const ids = running && fds.ss_ep_events !== undefined ? EPPING_MAPS.map((n) => this.deployer.shared.info(n)?.id ?? 0).join(',') : '';
    if (ids === this.eppingMapIds) return;
    this.eppingMapIds = ids;
    if (ids) this.epping.attachMaps(fds);
    else this.epping.detach();
  }

  private onSwap(ev: SwapEvent): void {
    this.o.metrics.incSwaps(ev.device, 'ok');
    if (ev.latencyMs !== null) this.o.metrics.observeSwapLatency(ev.device, ev.latencyMs / 1000);
    this.log.info({ device: ev.device, generation: ev.generation, fpms: ev.fpms, latency_ms: ev.latencyMs }, 'generation live');
    this.emit({ type: 'swap', device: ev.device, generation: ev.generation, latency_ms: ev.latencyMs ?? 0, fpms: ev.fpms });
  }

  private recordError(message: string, detail?: string): void {
    this.lastError = { time: new Date().toISOString(), message, detail };
    this.o.metrics.incErrors(message.split(':')[0] || 'error');
    this.log.error({ detail: detail?.slice(-4000) }, message);
    this.emit({ type: 'error', message, detail });
  }

  private emit(ev: DaemonEvent): void {
    this.events.emit('event', ev);
  }

  // --- DaemonView

  status(): StatusView {
    return {
      version: this.o.version,
      netns: this.o.netns,
      uptime_s: Math.round((Date.now() - this.started) / 1000),
      generation: this.deployer?.currentGeneration ?? 0,
      managed_devices: this.deployer?.managedDevices() ?? [],
      capabilities: capabilitiesSummary(this.caps),
      last_error: this.lastError,
    };
  }

  graph(): Graph {
    return this.intro.graph;
  }

  graphDot(): string {
    return graphToDot(this.intro.graph);
  }

  pipelines(): PipelineView[] {
    return this.deployer.pipelines();
  }

  stats(): DeviceStats[] {
    return this.deployer.stats();
  }

  async reload(): Promise<ReloadResult> {
    const r = reloadConfig(this.cfg, this.o.configPath, this.o.overrides);
    if (r.ok) {
      this.cfg = r.config;
      this.log.level = this.cfg.log_level;
      this.epping.reconfigure(this.cfg.epping);
      this.intro.setGraphConfig(this.graphConfig());
    }
    const message = r.ok && r.restartRequired.length ? `${r.message} (restart needed for: ${r.restartRequired.join(', ')})` : r.message;
    this.log[r.ok ? 'info' : 'error']({ changed: r.changed }, `config reload: ${message}`);
    this.emit({ type: 'reload', ok: r.ok, message });
    return { ok: r.ok, message };
  }

  async setDeviceEnabled(ifname: string, enabled: boolean): Promise<void> {
    const known = [...this.intro.model.links.values()].some((l) => l.name === ifname);
    if (!known) throw Object.assign(new Error(`no device named ${ifname}`), { code: 'ENODEV' });
    if (enabled) this.disabled.delete(ifname);
    else this.disabled.add(ifname);
    this.intro.setGraphConfig(this.graphConfig());
  }

  subscribe(listener: (ev: DaemonEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  heartbeat(): void {
    this.deployer.beat();
  }

  stop(): void {
    this.epping.close();
    this.xdpFeatures?.stop();
    this.intro?.stop();
    this.deployer?.shutdown(this.cfg.on_exit);
    this.closeNl?.();
  }
}
