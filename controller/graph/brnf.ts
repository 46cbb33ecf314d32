import type { KernelModel } from '../model/types';

// Whether br_netfilter hands a bridge's IPv4/IPv6 to iptables/ip6tables, and its ARP to
// arptables. It is loaded when its sysctls exist; a bridge's own nf_call_iptables can only
// turn the hand-over on, never off (brnf_call_iptables || BROPT_NF_CALL_IPTABLES).
export function bridgeNetfilter(model: Pick<KernelModel, 'links' | 'sysctls'>, bridgeIfindex: number): { v4: boolean; v6: boolean; arp: boolean } {
  const sys = model.sysctls;
  const br = model.links.get(bridgeIfindex)?.bridge;
  const loaded = sys.bridgeNfCallIptables !== null;
  return {
    v4: loaded && Boolean(sys.bridgeNfCallIptables || br?.nfCallIptables),
    v6: loaded && Boolean(sys.bridgeNfCallIp6tables || br?.nfCallIp6tables),
    arp: loaded && Boolean(sys.bridgeNfCallArptables || br?.nfCallArptables),
  };
}
