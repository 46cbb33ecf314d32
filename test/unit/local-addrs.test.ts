// l3-router's source check with rp_filter off: which mode, and which addresses go in ss_local_v4.
import t from 'tap';
import { SRC_CHECK_FIB, SRC_CHECK_LOCAL, sourceCheck } from '../../controller/deployer/local-addrs';
import type { Address, KernelModel, Route, Rule } from '../../controller/model/types';

type M = Pick<KernelModel, 'addresses' | 'routes' | 'rules'>;

function model(addrs: Array<Partial<Address>>, routes: Array<Partial<Route>>, rules: Array<Partial<Rule>> = []): M {
  return {
    addresses: new Map(addrs.map((a, i) => [`a${i}`, a as Address])),
    routes: new Map(routes.map((r, i) => [`r${i}`, r as Route])),
    rules: new Map(rules.map((r, i) => [`u${i}`, r as Rule])),
  };
}

const kernelRules: Array<Partial<Rule>> = [
  { family: 4, priority: 0, isDefault: true },
  { family: 4, priority: 32766, isDefault: true },
  { family: 4, priority: 32767, isDefault: true },
];

t.test('addresses and the local table\'s /32 local and broadcast routes', async (tt) => {
  const s = sourceCheck(model(
    [{ family: 4, address: '198.18.0.1' }, { family: 6, address: '2001:2::1' }, { family: 4, address: '198.18.5.1' }],
    [
      { family: 4, type: 'local', table: 255, dst: '198.18.0.1', dstLen: 32, protocol: 2 },
      { family: 4, type: 'broadcast', table: 255, dst: '198.18.0.255', dstLen: 32, protocol: 2 },
      { family: 4, type: 'local', table: 255, dst: '127.0.0.0', dstLen: 8, protocol: 2 },
      { family: 4, type: 'unicast', table: 254, dst: '198.18.0.0', dstLen: 24 },
      { family: 6, type: 'local', table: 255, dst: '2001:2::1', dstLen: 128, protocol: 2 },
    ],
    kernelRules,
  ));
  tt.equal(s.mode, SRC_CHECK_LOCAL);
  tt.equal(s.why, null);
  // 198.18.5.1 sits on a device that is down (no local route), and is still the box's.
  tt.same([...s.addresses].sort(), ['198.18.0.1', '198.18.0.255', '198.18.5.1']);
});

t.test('a custom IPv4 rule makes the kernel do a full reverse lookup', async (tt) => {
  const s = sourceCheck(model([{ family: 4, address: '198.18.0.1' }], [], [...kernelRules, { family: 4, priority: 100, isDefault: false }]));
  tt.equal(s.mode, SRC_CHECK_FIB);
  tt.match(s.why, /ip rule priority 100/);
});

t.test('an IPv6 rule does not matter to the IPv4 check', async (tt) => {
  const s = sourceCheck(model([], [], [...kernelRules, { family: 6, priority: 100, isDefault: false }]));
  tt.equal(s.mode, SRC_CHECK_LOCAL);
});

t.test('a user-added local route makes the kernel do a full reverse lookup', async (tt) => {
  const s = sourceCheck(model([], [{ family: 4, type: 'local', table: 255, dst: '198.18.8.0', dstLen: 24, protocol: 3 }], kernelRules));
  tt.equal(s.mode, SRC_CHECK_FIB);
  tt.match(s.why, /198\.18\.8\.0\/24/);
  const t100 = sourceCheck(model([], [{ family: 4, type: 'local', table: 100, dst: '198.18.8.1', dstLen: 32, protocol: 4 }], kernelRules));
  tt.equal(t100.mode, SRC_CHECK_FIB, 'also a /32, in any table');
});

t.test('the kernel\'s own local prefix routes do not', async (tt) => {
  const s = sourceCheck(model([{ family: 4, address: '198.18.9.1' }], [{ family: 4, type: 'local', table: 255, dst: '198.18.9.0', dstLen: 24, protocol: 2 }], kernelRules));
  tt.equal(s.mode, SRC_CHECK_LOCAL);
  tt.same([...s.addresses], ['198.18.9.1']);
});
