// A fake DaemonView with realistic data, for the API, metrics and CLI unit tests.
import type { DaemonView, DaemonEvent, DeviceStats, PipelineView, StatusView, ReloadResult } from '../../controller/daemon/view';
import type { Graph } from '../../controller/graph/types';

export class FakeView implements DaemonView {
  listeners = new Set<(ev: DaemonEvent) => void>();
  enabled = new Map<string, boolean>([
    ['eth0', true],
    ['eth1', true],
  ]);
  reloadResult: ReloadResult = { ok: true, message: 'config reloaded: no changes' };
  reloads = 0;
  statsData: DeviceStats[] = [
    {
      ifname: 'eth0',
      ifindex: 2,
      fastpath_packets: 1234567,
      fastpath_bytes: 987654321,
      slowpath_packets: 4321,
      slowpath_bytes: 654321,
      pass_reasons: { no_fdb_entry: 4000, arp: 300, 'ttl "exceeded"\\': 21 },
      fpms: [{ name: 'l2_bridge', counters: { fwd: { packets: 1234567, bytes: 987654321 } } }],
    },
    {
      ifname: 'eth1',
      ifindex: 3,
      fastpath_packets: 0,
      fastpath_bytes: 0,
      slowpath_packets: 12,
      slowpath_bytes: 720,
      pass_reasons: {},
      fpms: [],
    },
  ];
  rtt: Record<string, unknown>[] | null = null;

  status(): StatusView {
    return {
      version: '0.1.0',
      netns: null,
      uptime_s: 3725.5,
      generation: 7,
      managed_devices: ['eth0', 'eth1'],
      capabilities: {
        kernel: '6.18.0',
        btf: true,
        bpffs: true,
        missing: ['vlan'],
        devices: { eth0: { driver: 'veth', xdp_native: true }, eth1: { driver: 'e1000', xdp_native: false } },
      },
      last_error: { time: '2026-01-01T00:00:00.000Z', message: 'verifier rejected l3_router', detail: 'R1 invalid mem access' },
    };
  }
  graph(): Graph {
    return {
      version: 3,
      nodes: [
        { id: 'device:eth0', kind: 'device', name: 'eth0', attrs: { mtu: 1500, up: true, addrs: ['198.18.0.1/24'], master: null } },
        { id: 'bridge:br0', kind: 'bridge', name: 'br0', attrs: { stp: false, vlans: [1, 2] } },
      ],
      edges: [{ from: 'device:eth0', to: 'bridge:br0', kind: 'member-of' }],
      services: [{ id: 'l2-bridge:br0', kind: 'l2-bridge', devices: ['eth0', 'eth1'], verdict: 'accelerated', reasons: ['multicast stays on the slow path'] }],
    };
  }
  graphDot(): string {
    return 'digraph slipstream {\n  "device:eth0" -> "bridge:br0";\n}\n';
  }
  pipelines(): PipelineView[] {
    return [
      { ifname: 'eth0', ifindex: 2, mode: 'native', generation: 7, fpms: ['parse', 'l2_bridge'], programs: ['parse', 'l2_bridge'], knobs: { l2_bridge: { learning: true, ageing_ms: 300000 } } },
      { ifname: 'eth1', ifindex: 3, mode: 'none', generation: 0, fpms: [], programs: [], knobs: {} },
    ];
  }
  stats(): DeviceStats[] {
    return this.statsData;
  }
  async reload(): Promise<ReloadResult> {
    this.reloads++;
    return this.reloadResult;
  }
  async setDeviceEnabled(ifname: string, enabled: boolean): Promise<void> {
    if (!this.enabled.has(ifname)) throw Object.assign(new Error(`no managed device ${ifname}`), { code: 'ENODEV' });
    this.enabled.set(ifname, enabled);
  }
  subscribe(listener: (ev: DaemonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(ev: DaemonEvent): void {
    for (const l of [...this.listeners]) l(ev);
  }
}

// The same, with the optional RTT extension served at GET /v1/rtt.
export class FakeRttView extends FakeView {
  // The latency monitor's RttSample shape (controller/epping/sample.ts).
  samples: Record<string, unknown>[] = [
    { time: '2023-11-14T22:13:20.123Z', time_us: 1700000000123456, src: '198.18.0.2', dst: '198.18.1.2', sport: 40000, dport: 80, proto: 'tcp', rtt_us: 1234.5, min_rtt_us: 1000, srtt_us: 1100, device: 'eth0', side: 'lan', req_device: 'eth1', id: 1 },
    { time: '2023-11-14T22:13:21.000Z', time_us: 1700000001000000, src: '2001:2::2', dst: '2001:2:0:1::2', sport: 7, dport: 0, proto: 'icmpv6', rtt_us: 250, min_rtt_us: 250, srtt_us: 250, device: 'eth1', side: 'wan', req_device: 'local', id: 2 },
  ];
  rttSamples(limit: number): Record<string, unknown>[] {
    return this.samples.slice(-limit);
  }
}

export function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 10);
    };
    tick();
  });
}
