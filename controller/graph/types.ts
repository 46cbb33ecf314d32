// The dependency graph, as served by GET /v1/graph and read by the assembler.

export type NodeKind =
  | 'device'
  | 'bridge'
  | 'port'
  | 'fdb'
  | 'addresses'
  | 'routes'
  | 'neighbours'
  | 'qdisc'
  | 'netfilter'
  | 'xfrm'
  | 'sysctl'
  | 'capabilities';

export type EdgeKind = 'member-of' | 'depends-on' | 'egress-via';

export type ServiceKind = 'l2-bridge' | 'l3-router' | 'latency-monitor' | 'queueing';

export type Verdict = 'accelerated' | 'slow-path';

export type AttrValue = string | number | boolean | null | string[] | number[];

export interface GraphNode {
  id: string; // stable: e.g. 'device:eth0', 'bridge:br0', 'port:br0/eth1', 'routes', 'qdisc:eth0/root'
  kind: NodeKind;
  name: string;
  attrs: Record<string, AttrValue>;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
}

export interface ServiceNode {
  id: string; // 'l2-bridge:br0', 'l3-router', 'latency-monitor:eth0', 'queueing:eth0'
  kind: ServiceKind;
  devices: string[]; // ifnames whose ingress pipelines implement (part of) this service
  verdict: Verdict;
  reasons: string[]; // human-readable; for accelerated services, notes such as what stays on the slow path
  // Machine-readable details (added): l3-router has { ipv4, ipv6: boolean; ipv4_devices, ipv6_devices: string[] }.
  attrs?: Record<string, AttrValue>;
}

export interface Graph {
  version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  services: ServiceNode[];
}

export interface GraphDiff {
  version: number;
  added: string[]; // node/service ids
  removed: string[];
  changed: string[];
  causes: string[]; // netlink events (e.g. 'RTM_NEWLINK eth1', 'sysctl net.ipv4.ip_forward') that led here
}
