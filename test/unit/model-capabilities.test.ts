// Capability bookkeeping that needs no kernel: mounts parsing, helper/map ids, the summary.
import t from 'tap';
import { bpffsMount, capabilitiesSummary, HELPER_IDS, MAP_TYPE_IDS } from '../../controller/capabilities';
import { assumeAllCapabilities, REQUIRED_HELPERS, REQUIRED_MAP_TYPES } from '../../controller/capabilities/types';

t.test('bpffs mount point from /proc/self/mounts', async (t) => {
  t.equal(bpffsMount('sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,nosuid 0 0\n'), '/sys/fs/bpf');
  t.equal(bpffsMount('none /mnt/my\\040bpf bpf rw 0 0\n'), '/mnt/my bpf');
  t.equal(bpffsMount('sysfs /sys sysfs rw 0 0\n'), null);
});

t.test('uapi ids for every name the FPMs use', async (t) => {
  t.equal(HELPER_IDS.bpf_fib_lookup, 69);
  t.equal(HELPER_IDS.bpf_redirect_map, 51);
  t.equal(HELPER_IDS.bpf_tail_call, 12);
  t.equal(MAP_TYPE_IDS.devmap_hash, 25);
  t.equal(MAP_TYPE_IDS.prog_array, 3);
  for (const h of REQUIRED_HELPERS) t.type(HELPER_IDS[h], 'number', h);
  for (const m of REQUIRED_MAP_TYPES) t.type(MAP_TYPE_IDS[m], 'number', m);
});

t.test('summary for the API', async (t) => {
  const c = assumeAllCapabilities('6.18.0');
  c.devices = { eth0: { driver: 'virtio_net', xdpNative: true, how: 'driver-list', note: '' } };
  c.missing = ['bpf_xdp_ct_lookup'];
  c.bpffs = false;
  t.same(capabilitiesSummary(c), { kernel: '6.18.0', btf: true, bpffs: false, missing: ['bpf_xdp_ct_lookup', 'bpffs'], devices: { eth0: { driver: 'virtio_net', xdp_native: true } } });
});
