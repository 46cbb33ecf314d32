// The next-hop marks l3-router leaves in ss_nh_used, and the NTF_USE message made from them.
import t from 'tap';
import { collectNextHops, NH_USE_SIZE, neighUseMessage } from '../../controller/deployer/neigh-refresh';

function mark(addr: number[], ifindex: number, family: number): Buffer {
  const v = Buffer.alloc(NH_USE_SIZE);
  Buffer.from(addr).copy(v, 0);
  v.writeUInt32LE(ifindex, 16);
  v[20] = family;
  v[21] = 1;
  return v;
}

t.test('marks from every CPU, one per next hop, and the slots to clear', async (tt) => {
  const v4 = mark([198, 18, 2, 2], 7, 2);
  const v6 = mark([0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2], 7, 10);
  const none = Buffer.alloc(NH_USE_SIZE);
  const dump = [
    { key: Buffer.from([3, 0, 0, 0]), value: Buffer.concat([v4, none]) }, // CPU 0
    { key: Buffer.from([9, 0, 0, 0]), value: Buffer.concat([v4, v6]) }, // a collision: CPU 1 holds another hop
    { key: Buffer.from([5, 0, 0, 0]), value: Buffer.concat([none, none]) },
  ];
  const r = collectNextHops(dump, 2);
  tt.same(r.slots, [3, 9]);
  tt.same(
    r.used.map((u) => `${u.family} ${u.ifindex} ${u.addr.toString('hex')}`),
    ['4 7 c6120202', '6 7 20010002000000020000000000000002'],
  );
});

t.test('RTM_NEWNEIGH with NTF_USE, as `ip neigh change ADDR dev DEV use` sends it', async (tt) => {
  const m = neighUseMessage({ family: 4, ifindex: 7, addr: Buffer.from([198, 18, 2, 2]) }, 42);
  tt.equal(m.readUInt32LE(0), m.length, 'nlmsg_len');
  tt.equal(m.readUInt16LE(4), 28, 'RTM_NEWNEIGH');
  tt.equal(m.readUInt16LE(6), 0x101, 'NLM_F_REQUEST | NLM_F_REPLACE, never CREATE');
  tt.equal(m.readUInt32LE(8), 42, 'seq');
  tt.equal(m[16], 2, 'AF_INET');
  tt.equal(m.readInt32LE(20), 7, 'ifindex');
  tt.equal(m[26], 1, 'NTF_USE');
  tt.same([m.readUInt16LE(28), m.readUInt16LE(30)], [8, 1], 'NDA_DST, 4 bytes');
  tt.same([...m.subarray(32, 36)], [198, 18, 2, 2]);
  const m6 = neighUseMessage({ family: 6, ifindex: 3, addr: Buffer.alloc(16, 1) }, 1);
  tt.equal(m6[16], 10, 'AF_INET6');
  tt.equal(m6.readUInt16LE(28), 20, 'NDA_DST, 16 bytes');
  tt.equal(m6.length, 48);
});
