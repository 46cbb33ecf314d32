import type { KernelModel } from '../model/types';

// Whether a bridge may answer ARP or neighbour solicitations itself instead of forwarding
// them (br_do_proxy_suppress_arp, br_do_suppress_nd): a port with neigh_suppress, proxyarp
// or proxyarp_wifi. Returns what turns it on, for the reasons; null when nothing does.
export function bridgeAnswersNeighbours(model: Pick<KernelModel, 'links'>, bridgeIfindex: number): string | null {
  for (const l of model.links.values()) {
    if (l.master !== bridgeIfindex || !l.port) continue;
    if (l.port.neighSuppress) return `port ${l.name} has neigh_suppress on`;
    if (l.port.proxyArp) return `port ${l.name} has proxy ARP on`;
  }
  return null;
}
