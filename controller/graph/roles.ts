// Machine-readable per-device plan input for the assembler and the deployer's map sync,
// read back from the graph's device nodes (buildGraph computes the roles) and the model.
import type { KernelModel } from '../model/types';
import type { Graph, GraphNode } from './types';

export interface DeviceRoleInfo {
  ifname: string;
  ifindex: number;
  // Compatible with assembler/plan.ts DeviceRole:
  l2Bridge: string | null; // accelerated bridge this device is a forwarding port of
  l3: { v4: boolean; v6: boolean }; // routed traffic entering here may be accelerated, per family
  nfEgress: { v4: boolean; v6: boolean }; // forward-path rules match routed traffic leaving here
  epping: boolean;
  // For the datapath maps (deployer DpDevice):
  queueing: boolean;
  managed: boolean;
  ingressOk: boolean; // may carry a pipeline at all
  egressOk: boolean; // XDP may redirect frames out of it
  egressQdisc: string | null; // the root qdisc kind when it is not a default one
  up: boolean;
  mtu: number;
  mac: string; // the device's own MAC
  routerMac: string; // for a port of an accelerated bridge: the bridge's MAC (routed frames are addressed to it)
  isBridge: boolean;
  bridgeIfindex: number; // accelerated bridge this is a forwarding port of, else 0
  portForwarding: boolean;
  isolated: boolean;
  rpFilter: number; // effective net.ipv4.conf.{all,dev}.rp_filter (max of the two)
  routeMtu4: number; // smallest MTU metric of the IPv4 routes out of it, 0 when none
  xdpNative: boolean | null;
}

function attr<T>(n: GraphNode, k: string, fallback: T): T {
  const v = n.attrs[k];
  return v === undefined || v === null ? fallback : (v as unknown as T);
}

// Every device in the graph, by ifname. Devices with no role still appear (egressOk and
// the flags matter for redirects into them).
export function deviceRoles(graph: Graph, model: KernelModel): Map<string, DeviceRoleInfo> {
  const out = new Map<string, DeviceRoleInfo>();
  const byName = new Map<string, number>();
  for (const l of model.links.values()) byName.set(l.name, l.ifindex);
  const allRp = model.sysctls.rpFilterAll ?? 0;
  for (const n of graph.nodes) {
    if (n.kind !== 'device') continue;
    const ifindex = byName.get(n.name);
    if (ifindex === undefined) continue;
    const link = model.links.get(ifindex)!;
    const l2 = attr<string | null>(n, 'role_l2_bridge', null);
    const bridge = l2 ? model.links.get(link.master) : undefined;
    const devRp = model.sysctls.devices.get(link.name)?.rpFilter ?? 0;
    out.set(n.name, {
      ifname: n.name,
      ifindex,
      l2Bridge: l2,
      l3: { v4: attr(n, 'role_l3_v4', false), v6: attr(n, 'role_l3_v6', false) },
      nfEgress: { v4: attr(n, 'nf_egress_v4', false), v6: attr(n, 'nf_egress_v6', false) },
      epping: attr(n, 'role_epping', false),
      queueing: attr(n, 'role_queueing', false),
      managed: attr(n, 'managed', false),
      ingressOk: attr(n, 'ingress_ok', false),
      egressOk: attr(n, 'egress_ok', false),
      egressQdisc: attr<boolean>(n, 'egress_ok', false) ? null : attr<string | null>(n, 'qdisc', null),
      up: attr(n, 'up', false),
      mtu: link.mtu,
      mac: link.mac,
      routerMac: link.port && link.master ? model.links.get(link.master)?.mac ?? link.mac : link.mac,
      isBridge: link.kind === 'bridge',
      bridgeIfindex: bridge ? bridge.ifindex : 0,
      portForwarding: link.port?.state === 'forwarding',
      isolated: link.port?.isolated ?? false,
      rpFilter: Math.max(allRp, devRp),
      routeMtu4: attr<number>(n, 'route_mtu_v4', 0),
      xdpNative: attr<boolean | null>(n, 'xdp_native', null),
    });
  }
  return out;
}

export interface FdbRecord {
  bridgeIfindex: number;
  mac: string;
  vlan: number;
  portIfindex: number;
  local: boolean; // the bridge's own address: deliver to the stack
  static: boolean;
}

// The bridge FDB entries of accelerated bridges (what the fast path's FDB map should hold).
export function bridgeFdb(graph: Graph, model: KernelModel): FdbRecord[] {
  const accelerated = new Set<number>();
  for (const s of graph.services) {
    if (s.kind !== 'l2-bridge' || s.verdict !== 'accelerated') continue;
    const name = s.id.slice('l2-bridge:'.length);
    for (const l of model.links.values()) if (l.name === name) accelerated.add(l.ifindex);
  }
  const out: FdbRecord[] = [];
  for (const e of model.fdb.values()) {
    if (!e.master || !accelerated.has(e.master) || e.flags.self) continue;
    out.push({ bridgeIfindex: e.master, mac: e.mac, vlan: e.vlan, portIfindex: e.ifindex, local: e.flags.local, static: e.flags.static });
  }
  return out.sort((a, b) => a.bridgeIfindex - b.bridgeIfindex || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0) || a.vlan - b.vlan);
}
