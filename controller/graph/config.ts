// What the operator told slipstream about devices and optional services.

export interface GraphConfig {
  include?: string[]; // ifname globs of devices to manage (absent: all)
  exclude?: string[]; // ifname globs never to touch
  epping?: { enabled: boolean; devices?: string[] }; // latency monitor; devices absent: every accelerated ingress
  queueing?: { enabled: boolean; devices?: string[] };
  ownedXdpProgIds?: number[]; // XDP programs slipstream itself attached (not "someone else's")
  disabledDevices?: string[]; // disabled via the API
  // Devices whose xdp_features lack NDO_XMIT (netdev genetlink): redirects into them are dropped.
  noXdpTransmit?: string[];
}
