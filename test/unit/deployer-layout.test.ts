import t from 'tap';
import { parseCounterHeader, counterTable } from '../../controller/deployer/counters';
import { decodeFdbKey, encodeDev, encodeFdbKey, sumCounter } from '../../controller/deployer/layout';
import { fdbUseMessage } from '../../controller/deployer/fdb-refresh';

t.test('counter names come from ss_reasons.h', async (t) => {
  const table = counterTable();
  t.equal(table.byName.get('fast_l2')?.id, 0);
  t.ok(table.byName.get('fast_l3')?.fastPath);
  t.notOk(table.byName.get('ttl')?.fastPath);
  t.ok(table.defs.every((d) => d.id < table.stride));
  t.throws(() => parseCounterHeader('nothing here'));
});

t.test('FDB key round-trips and matches the C layout size', async (t) => {
  const k = { bridgeIfindex: 7, mac: '02:00:c6:12:00:01', vlan: 0 };
  const b = encodeFdbKey(k);
  t.equal(b.length, 12);
  t.same(decodeFdbKey(b), k);
});

t.test('ss_dev is 24 bytes with the MAC at offset 12 and the IPv4 route MTU at 20', async (t) => {
  const b = encodeDev({ bridgeIfindex: 3, mtu: 1500, flags: 9, mac: '02:00:00:00:00:aa', rpFilter: 2, routeMtu4: 1400 });
  t.equal(b.length, 24);
  t.equal(b.readUInt32LE(4), 1500);
  t.equal(b[17], 0xaa);
  t.equal(b[18], 2);
  t.equal(b.readUInt32LE(20), 1400);
  t.equal(encodeDev({ bridgeIfindex: 3, mtu: 1500, flags: 9, mac: '02:00:00:00:00:aa', rpFilter: 2 }).readUInt32LE(20), 0, 'no route MTU: 0');
});

t.test('per-CPU counters are summed', async (t) => {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(3n, 0); b.writeBigUInt64LE(300n, 8);
  b.writeBigUInt64LE(4n, 16); b.writeBigUInt64LE(400n, 24);
  t.same(sumCounter(b), { packets: 7, bytes: 700 });
});

t.test('FDB refresh message is a well-formed RTM_NEWNEIGH with NTF_USE|NTF_MASTER', async (t) => {
  const m = fdbUseMessage(5, '02:00:c6:12:00:01', 0, 9);
  t.equal(m.readUInt32LE(0), m.length);
  t.equal(m.readUInt16LE(4), 28);
  t.equal(m[16], 7, 'AF_BRIDGE');
  t.equal(m.readInt32LE(20), 5);
  t.equal(m[26], 0x05);
  t.equal(m.readUInt16LE(30), 2, 'NDA_LLADDR');
  t.equal(m.subarray(32, 38).toString('hex'), '0200c6120001');
});
