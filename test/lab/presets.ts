// Ready-made topologies. The router/switch namespace is where slipstream would run; all
// ifindexes are as seen inside the namespace that owns the device.
import { Lab, labSubnet, type LabSubnet } from './lab';

export interface LabPort {
  ns: string;
  ifname: string;
  ifindex: number;
  mac: string;
}

export interface LabAddressedPort extends LabPort {
  ip4: string; // without prefix
  ip6: string;
}

export interface LabHost extends LabAddressedPort {
  name: string; // lab-local name, e.g. 'h1'
  cidr4: string; // e.g. '198.18.1.11/24'
  cidr6: string;
  gw4?: string; // default route
  gw6?: string;
  port: LabPort; // the router/switch side of this host's veth
}

export interface BridgeLabTopo {
  lab: Lab;
  sw: string; // namespace with the bridge
  bridge: LabPort & { ip4?: string; ip6?: string };
  ports: LabPort[]; // bridge ports, ports[i] connects hosts[i]
  hosts: LabHost[];
  subnet: LabSubnet;
}

export interface RouterLabTopo {
  lab: Lab;
  router: string;
  portA: LabAddressedPort;
  portB: LabAddressedPort;
  hostA: LabHost;
  hostB: LabHost;
  subnetA: LabSubnet;
  subnetB: LabSubnet;
}

export interface GatewayLabTopo {
  lab: Lab;
  gw: string;
  bridge: LabAddressedPort; // LAN bridge br0 with the gateway's LAN address
  lanPorts: LabPort[];
  wan: LabAddressedPort; // WAN port
  lanHosts: LabHost[];
  wanHost: LabHost;
  lanSubnet: LabSubnet;
  wanSubnet: LabSubnet;
}

function port(lab: Lab, ns: string, ifname: string): LabPort {
  const l = lab.link(ns, ifname);
  return { ns, ifname, ifindex: l.ifindex, mac: l.mac };
}

// Host namespace `name` with eth0 wired to `rtIf` in ns `rt`, addressed in subnet at index i.
function addHost(
  lab: Lab,
  rt: string,
  rtIf: string,
  name: string,
  subnet: LabSubnet,
  i: number,
  gw?: { ip4: string; ip6: string },
): LabHost {
  const ns = lab.addNamespace(name);
  lab.veth(rt, rtIf, ns, 'eth0');
  lab.txOff(ns, 'eth0');
  const cidr4 = `${subnet.host4(i)}/24`;
  const cidr6 = `${subnet.host6(i)}/64`;
  lab.addr(ns, 'eth0', cidr4);
  lab.addr(ns, 'eth0', cidr6);
  if (gw) {
    lab.route(ns, 'default', gw.ip4);
    lab.route(ns, 'default', gw.ip6);
  }
  const me = port(lab, ns, 'eth0');
  return {
    ...me,
    name,
    ip4: subnet.host4(i),
    ip6: subnet.host6(i),
    cidr4,
    cidr6,
    gw4: gw?.ip4,
    gw6: gw?.ip6,
    port: port(lab, rt, rtIf),
  };
}

function forwarding(lab: Lab, ns: string): void {
  lab.sysctl(ns, 'net.ipv4.ip_forward', 1);
  lab.sysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
}

export interface BridgeLabOptions {
  hosts?: number; // default 3
  stp?: boolean;
  // Give br0 an address (.1) and hosts a default route through it.
  bridgeAddress?: boolean;
}

// Namespace "sw" with bridge br0; hosts h1..hN, each eth0 <-> sw:pN (a br0 port).
// Hosts: 198.18.1.(10+i)/24 and 2001:2:0:1::(a+i)/64 (i from 1).
export function bridgeLab(lab: Lab, opts: BridgeLabOptions = {}): BridgeLabTopo {
  const n = opts.hosts ?? 3;
  if (n < 1 || n > 200) throw new RangeError('bridgeLab: 1..200 hosts');
  const subnet = labSubnet(1);
  const sw = lab.addNamespace('sw');
  lab.bridge(sw, 'br0', { stp: opts.stp });
  let gw: { ip4: string; ip6: string } | undefined;
  if (opts.bridgeAddress) {
    gw = { ip4: subnet.host4(1), ip6: subnet.host6(1) };
    lab.addr(sw, 'br0', `${gw.ip4}/24`);
    lab.addr(sw, 'br0', `${gw.ip6}/64`);
  }
  const hosts: LabHost[] = [];
  for (let i = 1; i <= n; i++) {
    const h = addHost(lab, sw, `p${i}`, `h${i}`, subnet, 10 + i, gw);
    lab.enslave(sw, `p${i}`, 'br0');
    hosts.push(h);
  }
  const bridge = { ...port(lab, sw, 'br0'), ip4: gw?.ip4, ip6: gw?.ip6 };
  return { lab, sw, bridge, ports: hosts.map((h) => h.port), hosts, subnet };
}

// hostA (198.18.1.2) -- pa [router] pb -- hostB (198.18.2.2); router .1 on both; v6 2001:2:0:1::/64, 2001:2:0:2::/64.
export function routerLab(lab: Lab): RouterLabTopo {
  const subnetA = labSubnet(1);
  const subnetB = labSubnet(2);
  const router = lab.addNamespace('rt');
  forwarding(lab, router);
  const gwA = { ip4: subnetA.host4(1), ip6: subnetA.host6(1) };
  const gwB = { ip4: subnetB.host4(1), ip6: subnetB.host6(1) };
  const hostA = addHost(lab, router, 'pa', 'a', subnetA, 2, gwA);
  const hostB = addHost(lab, router, 'pb', 'b', subnetB, 2, gwB);
  lab.addr(router, 'pa', `${gwA.ip4}/24`);
  lab.addr(router, 'pa', `${gwA.ip6}/64`);
  lab.addr(router, 'pb', `${gwB.ip4}/24`);
  lab.addr(router, 'pb', `${gwB.ip6}/64`);
  return {
    lab,
    router,
    portA: { ...port(lab, router, 'pa'), ...gwA },
    portB: { ...port(lab, router, 'pb'), ...gwB },
    hostA,
    hostB,
    subnetA,
    subnetB,
  };
}

export interface GatewayLabOptions {
  lanHosts?: number; // default 2
  stp?: boolean;
}

// gw: br0 (LAN, 198.18.10.1/24, 2001:2:0:a::1/64) over lan1..lanN -> hosts l1..lN (.10+i);
// wan0 (198.18.20.1/24, 2001:2:0:14::1/64) -> host "wan" (.2). Forwarding on.
export function gatewayLab(lab: Lab, opts: GatewayLabOptions = {}): GatewayLabTopo {
  const n = opts.lanHosts ?? 2;
  const lanSubnet = labSubnet(10);
  const wanSubnet = labSubnet(20);
  const gw = lab.addNamespace('gw');
  forwarding(lab, gw);
  lab.bridge(gw, 'br0', { stp: opts.stp });
  const lanGw = { ip4: lanSubnet.host4(1), ip6: lanSubnet.host6(1) };
  const wanGw = { ip4: wanSubnet.host4(1), ip6: wanSubnet.host6(1) };
  lab.addr(gw, 'br0', `${lanGw.ip4}/24`);
  lab.addr(gw, 'br0', `${lanGw.ip6}/64`);
  const lanHosts: LabHost[] = [];
  for (let i = 1; i <= n; i++) {
    const h = addHost(lab, gw, `lan${i}`, `l${i}`, lanSubnet, 10 + i, lanGw);
    lab.enslave(gw, `lan${i}`, 'br0');
    lanHosts.push(h);
  }
  const wanHost = addHost(lab, gw, 'wan0', 'wan', wanSubnet, 2, wanGw);
  lab.addr(gw, 'wan0', `${wanGw.ip4}/24`);
  lab.addr(gw, 'wan0', `${wanGw.ip6}/64`);
  return {
    lab,
    gw,
    bridge: { ...port(lab, gw, 'br0'), ...lanGw },
    lanPorts: lanHosts.map((h) => h.port),
    wan: { ...port(lab, gw, 'wan0'), ...wanGw },
    lanHosts,
    wanHost,
    lanSubnet,
    wanSubnet,
  };
}

// Waits until every port of `bridge` in ns is forwarding (needed with STP).
export async function waitBridgeForwarding(lab: Lab, ns: string, bridge: string, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ports = JSON.parse(lab.exec(ns, ['bridge', '-j', 'link', 'show'])) as Array<{ master?: string; state?: string }>;
    const mine = ports.filter((p) => p.master === bridge);
    if (mine.length > 0 && mine.every((p) => p.state === 'forwarding')) return;
    if (Date.now() > end) throw new Error(`bridge ${bridge} in ${ns} not forwarding: ${JSON.stringify(mine)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
