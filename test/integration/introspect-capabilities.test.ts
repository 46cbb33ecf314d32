// The capabilities manager against this kernel: probes, kfunc program, per-device XDP.
import t from 'tap';
import { native } from '../../controller/native';
import { probeCapabilities, probeDevicesOf } from '../../controller/capabilities';
import { Introspector } from '../../controller/model';
import { Lab } from '../lab';

t.test('probes this kernel and lab devices', async (t) => {
  const lab = new Lab({ t });
  const ns = lab.addNamespace('caps');
  lab.sh(ns, 'ip link add c0 type veth peer name c1 && ip link set c0 up && ip link add br0 type bridge && ip link add t0 type veth peer name t1');
  const intro = new Introspector({ netns: ns });
  t.teardown(() => intro.stop());
  await intro.start();
  const caps = probeCapabilities({ native, netns: ns, devices: probeDevicesOf(intro.model.links.values()), extraHelpers: ['bpf_xdp_adjust_tail'], extraMapTypes: ['hash'] });
  t.comment(JSON.stringify({ missing: caps.missing, errors: caps.errors, kfuncs: caps.kfuncs }));
  t.match(caps.kernel, /^\d+\.\d+/);
  t.equal(caps.btf, true);
  t.equal(caps.helpers.bpf_fib_lookup, true, 'fib lookup probed');
  t.equal(caps.helpers.bpf_redirect_map, true);
  t.equal(caps.mapTypes.devmap_hash, true);
  t.equal(caps.mapTypes.cpumap, true);
  t.equal(caps.kfuncs.bpf_xdp_ct_lookup, true, 'the conntrack kfunc probe program loads');
  t.same(caps.missing, [], 'nothing the FPMs need is missing here');
  t.equal(caps.devices.c0?.xdpNative, true, 'veth runs native XDP');
  t.equal(caps.devices.c0?.driver, 'veth');
  t.equal(caps.devices.br0?.xdpNative, false, 'bridges get generic XDP only');
  t.equal(caps.devices.t0?.how, 'kind', 'veth decided by kind');
  t.notOk('lo' in caps.devices, 'loopback is skipped');
  // An unknown helper name is reported, not guessed.
  const c2 = probeCapabilities({ native, extraHelpers: ['bpf_no_such_helper'] });
  t.equal(c2.helpers.bpf_no_such_helper, false);
  t.ok(c2.missing.includes('bpf_no_such_helper'));
  // Capabilities feed the graph.
  intro.setCapabilities(caps);
  t.equal(intro.graph.nodes.find((n) => n.id === 'device:c0')?.attrs.xdp_native, true);
});
