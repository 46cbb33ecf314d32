// l3-router's source check with rp_filter off: which mode, and which addresses go in ss_local_v4.
import t from 'tap';
import { LOCAL_V4_BF_WORDS, LocalAddressSync, SRC_CHECK_FIB, SRC_CHECK_LOCAL, localV4Bit, sourceCheck } from '../../controller/deployer/local-addrs';
import type { NativeAddon } from '../../controller/native/types';
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

// A map double for LocalAddressSync: records every write, in order.
function fakeMaps(): { native: NativeAddon; hash: Map<string, Buffer>; words: Map<number, bigint>; log: string[] } {
  const hash = new Map<string, Buffer>();
  const words = new Map<number, bigint>();
  const log: string[] = [];
  const HASH = 1;
  const native = {
    mapDump: (fd: number) => (fd === HASH ? [...hash].map(([k, v]) => ({ key: Buffer.from(k, 'hex'), value: v })) : []),
    mapUpdate: (fd: number, key: Buffer, value: Buffer) => {
      if (fd === HASH) {
        hash.set(key.toString('hex'), value);
        log.push(`add ${[...key].join('.')}`);
      } else {
        words.set(key.readUInt32LE(0), value.readBigUInt64LE(0));
        log.push(`word ${key.readUInt32LE(0)}`);
      }
    },
    mapUpdateBatch: (_fd: number, keys: Buffer[], values: Buffer[]) => keys.forEach((k, i) => words.set(k.readUInt32LE(0), values[i].readBigUInt64LE(0))),
    mapDelete: (_fd: number, key: Buffer) => {
      log.push(`del ${[...key].join('.')}`);
      return hash.delete(key.toString('hex'));
    },
  } as unknown as NativeAddon;
  return { native, hash, words, log };
}

const bitOf = (a: string): number => localV4Bit(Buffer.from(a.split('.').map(Number)));
const isSet = (words: Map<number, bigint>, bit: number): boolean => (((words.get(bit >> 6) ?? 0n) >> BigInt(bit & 63)) & 1n) === 1n;

t.test('the filter is a superset of ss_local_v4 at every step, shared bits counted', async (tt) => {
  const m = fakeMaps();
  m.hash.set(Buffer.from([198, 18, 0, 1]).toString('hex'), Buffer.from([1])); // left by an earlier daemon
  const sync = new LocalAddressSync(m.native, 1, 2);
  tt.ok(isSet(m.words, bitOf('198.18.0.1')), 'adopted addresses get their bits');
  tt.equal(LOCAL_V4_BF_WORDS, 1024);
  // Two addresses on one bit.
  const a = '198.18.5.1';
  let b = '';
  for (let i = 0; !b; i++) {
    const c = `198.19.${(i >> 8) & 255}.${i & 255}`;
    if (c !== a && bitOf(c) === bitOf(a)) b = c;
  }
  sync.add(new Set(['198.18.0.1', a, b]));
  tt.ok(isSet(m.words, bitOf(a)));
  const firstAdd = m.log.findIndex((l) => l.startsWith('add'));
  tt.ok(m.log.findIndex((l) => l.startsWith('word')) < firstAdd, 'the bit is written before its address goes in');
  m.log.length = 0;
  sync.removeExcept(new Set(['198.18.0.1', b]));
  tt.same(m.log, [`del ${a}`], 'the bit stays while another address is on it');
  tt.ok(isSet(m.words, bitOf(a)));
  sync.removeExcept(new Set(['198.18.0.1']));
  tt.same(m.log.slice(1), [`del ${b}`, `word ${bitOf(b) >> 6}`], 'the last address out clears it, after leaving the map');
  tt.notOk(isSet(m.words, bitOf(b)));
  tt.ok(isSet(m.words, bitOf('198.18.0.1')));
});
