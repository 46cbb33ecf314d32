import type { FpmManifest } from './manifest';
import type { ServiceKind } from '../graph/types';

// What one managed ingress device needs from the fast path, derived from the graph.
export interface DeviceRole {
  ifname: string;
  ifindex: number;
  l2Bridge: string | null; // accelerated bridge this device is a forwarding port of
  l3: { v4: boolean; v6: boolean }; // routed traffic entering here may be accelerated
  epping: boolean;
  srcCheck?: number; // l3-router's cfg_src_check (deployer/local-addrs.ts); the manifest default when absent
  xfrm?: { v4: boolean; v6: boolean }; // IPsec selectors l3-router must check (graph/analysis.ts xfrmFacts)
  brnf?: { v4: boolean; v6: boolean; arp: boolean }; // br_netfilter hands the bridge's IP/ARP to {ip,ip6,arp}tables (graph/brnf.ts)
  neighSuppress?: boolean; // the bridge may answer ARP/ND itself (graph/bridge-neigh.ts)
  portRules?: boolean; // policy rules match ports: the FIB lookup needs them (graph attr port_rules)
}

export type KnobValues = Record<string, number | boolean>;

export interface FpmStage {
  name: string;
  knobs: KnobValues;
}

export interface PipelinePlan {
  ifname: string;
  ifindex: number;
  fpms: FpmStage[];
  key: string; // equal keys mean an identical pipeline: no redeploy
}

export interface AssembleInput {
  roles: DeviceRole[];
  manifests: Map<string, FpmManifest>;
  missingCapabilities?: Set<string>; // helper, map type or kfunc names this kernel lacks
  configKnobs?: Map<string, KnobValues>; // per FPM name, from the config file's feature sections
}

export interface AssembleResult {
  plans: Map<string, PipelinePlan>; // by ifname; devices with nothing to accelerate are absent
  problems: string[];
}

function servicesOf(role: DeviceRole): ServiceKind[] {
  const s: ServiceKind[] = [];
  if (role.epping) s.push('latency-monitor');
  if (role.l2Bridge) s.push('l2-bridge');
  if (role.l3.v4 || role.l3.v6) s.push('l3-router');
  return s;
}

function lacking(m: FpmManifest, missing: Set<string>): string[] {
  const c = m.capabilities;
  return [...c.helpers, ...c.map_types, ...c.kfuncs].filter((x) => missing.has(x));
}

// Knobs every FPM may declare; values follow from the device's role and the chain itself.
// An FPM that implements l3-router routes exactly the families the role allows; the parser
// parses what any FPM of the chain needs.
function derivedKnobs(role: DeviceRole, m: FpmManifest, chain: string[], manifests: Map<string, FpmManifest>): KnobValues {
  const has = (svc: ServiceKind) => chain.some((n) => manifests.get(n)?.services.includes(svc));
  const l3 = has('l3-router');
  const monitor = has('latency-monitor');
  if (m.services.includes('l3-router')) {
    const k: KnobValues = { cfg_ipv4: role.l3.v4, cfg_ipv6: role.l3.v6 };
    if (role.srcCheck !== undefined) k.cfg_src_check = role.srcCheck;
    if (role.xfrm) {
      k.cfg_xfrm_v4 = role.xfrm.v4 && role.l3.v4;
      k.cfg_xfrm_v6 = role.xfrm.v6 && role.l3.v6;
    }
    k.cfg_port_rules = role.portRules === true;
    return k;
  }
  return {
    cfg_ipv4: (l3 && role.l3.v4) || monitor,
    cfg_ipv6: (l3 && role.l3.v6) || monitor,
    cfg_l4: monitor || (l3 && role.portRules === true),
    cfg_local_next: l3,
    cfg_brnf_ipv4: role.brnf?.v4 ?? false,
    cfg_brnf_ipv6: role.brnf?.v6 ?? false,
    cfg_brnf_arp: role.brnf?.arp ?? false,
    cfg_neigh_suppress: role.neighSuppress ?? false,
  };
}

// An FPM that serves nothing itself (parse) runs right before the first FPM that requires
// it, not at its own order: a gateway port's bridged frames then never pay for parsing that
// only its router needs.
function placeDependencies(chain: string[], manifests: Map<string, FpmManifest>): string[] {
  const out = [...chain];
  for (const dep of chain) {
    if ((manifests.get(dep)?.services.length ?? 0) > 0) continue;
    const from = out.indexOf(dep);
    const first = out.findIndex((n) => manifests.get(n)?.requires.includes(dep));
    if (first <= from) continue;
    out.splice(from, 1);
    out.splice(first - 1, 0, dep);
  }
  return out;
}

export function planDevice(
  role: DeviceRole,
  manifests: Map<string, FpmManifest>,
  missing: Set<string>,
  configKnobs: Map<string, KnobValues>,
  problems: string[],
): PipelinePlan | null {
  const chosen = new Set<string>();
  const add = (name: string, why: string): boolean => {
    if (chosen.has(name)) return true;
    const m = manifests.get(name);
    if (!m) {
      problems.push(`${role.ifname}: ${why} needs FPM ${name}, which is not in the library`);
      return false;
    }
    const gaps = lacking(m, missing);
    if (gaps.length) {
      problems.push(`${role.ifname}: FPM ${name} needs ${gaps.join(', ')}, which this kernel lacks`);
      return false;
    }
    for (const r of m.requires) if (!add(r, `FPM ${name}`)) return false;
    chosen.add(name);
    return true;
  };
  for (const svc of servicesOf(role)) {
    const impl = [...manifests.values()].filter((m) => m.services.includes(svc)).sort((a, b) => a.order - b.order);
    if (impl.length === 0) {
      problems.push(`${role.ifname}: no FPM implements ${svc}`);
      continue;
    }
    add(impl[0].name, svc);
  }
  const serving = [...chosen].some((n) => (manifests.get(n)?.services.length ?? 0) > 0);
  if (!serving) return null;
  const chain = placeDependencies([...chosen].sort((a, b) => manifests.get(a)!.order - manifests.get(b)!.order), manifests);
  const fpms = chain.map((name) => {
    const m = manifests.get(name)!;
    const derived = derivedKnobs(role, m, chain, manifests);
    const knobs: KnobValues = {};
    const fromConfig = configKnobs.get(name) ?? {};
    for (const k of m.knobs) {
      knobs[k.name] = fromConfig[k.name] ?? derived[k.name] ?? k.default;
    }
    return { name, knobs };
  });
  return { ifname: role.ifname, ifindex: role.ifindex, fpms, key: JSON.stringify([role.ifindex, fpms]) };
}

export function assemble(input: AssembleInput): AssembleResult {
  const problems: string[] = [];
  const plans = new Map<string, PipelinePlan>();
  const missing = input.missingCapabilities ?? new Set<string>();
  const cfg = input.configKnobs ?? new Map<string, KnobValues>();
  for (const role of input.roles) {
    const p = planDevice(role, input.manifests, missing, cfg, problems);
    if (p) plans.set(role.ifname, p);
  }
  return { plans, problems };
}
