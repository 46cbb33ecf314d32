// The next-hop marks l3-router leaves in ss_nh_used, and the NTF_USE message made from them.
import t from 'tap';
import { mergeMarks, NH_BITS, NH_MARKS_SIZE, neighUseMessage, nhBit, usedNextHops } from '../../controller/deployer/neigh-refresh';

// One CPU's bitmap with the given bits set, as the BPF side lays it out (little-endian u64 words).
function bitmap(bits: number[]): Buffer {
  const b = Buffer.alloc(NH_MARKS_SIZE);
  for (const bit of bits) {
    const off = (bit >> 6) * 8;
    b.writeBigUInt64LE(b.readBigUInt64LE(off) | (1n << BigInt(bit & 63)), off);
  }
  return b;
}

t.test('the bit function spreads next hops and keeps IPv4 apart from its device', async (tt) => {
  const a = Buffer.from([198, 18, 2, 2]);
  const bit = nhBit(a, 7);
  tt.ok(Number.isInteger(bit) && bit >= 0 && bit < NH_BITS, 'a bit of the map');
  tt.equal(nhBit(a, 7), bit, 'deterministic');
  tt.not(nhBit(a, 8), bit, 'the device is part of it');
  const seen = new Set<number>();
  for (let i = 0; i < 256; i++) seen.add(nhBit(Buffer.from([198, 18, 2, i]), 7));
  tt.ok(seen.size > 240, `256 neighbours of one subnet take ${seen.size} distinct bits`);
  const v6 = Buffer.from([0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2]);
  tt.not(nhBit(v6, 7), nhBit(Buffer.from(v6.subarray(0, 4)), 7), 'an IPv6 address is not its first word');
});

t.test('marks from every CPU are merged; only marked entries a transmit acts on are used', async (tt) => {
  const hop4 = { family: 4 as const, ifindex: 7, dst: '198.18.2.2', state: 0x04 }; // STALE
  const hop6 = { family: 6 as const, ifindex: 7, dst: '2001:2:0:2::2', state: 0x02 }; // REACHABLE
  const b4 = nhBit(Buffer.from([198, 18, 2, 2]), 7);
  const b6 = nhBit(Buffer.from([0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2]), 7);
  const marks = mergeMarks(Buffer.concat([bitmap([b4]), bitmap([b6])]), 2); // CPU 0, CPU 1
  tt.ok(marks[b4 >> 3] & (1 << (b4 & 7)) && marks[b6 >> 3] & (1 << (b6 & 7)), 'both CPUs\' bits');
  const idle = { family: 4 as const, ifindex: 7, dst: '198.18.2.99', state: 0x04 };
  tt.not(nhBit(Buffer.from([198, 18, 2, 99]), 7), b4, 'the idle entry has a bit of its own');
  const used = usedNextHops(marks, [hop4, hop6, idle, { ...hop4, state: 0x20 }, { ...hop4, state: 0x80 }, { ...hop4, dst: 'junk' }]);
  tt.same(
    used.map((u) => `${u.family} ${u.ifindex} ${u.addr.toString('hex')}`),
    ['4 7 c6120202', '6 7 20010002000000020000000000000002'],
    'not the idle entry, a FAILED or PERMANENT one, or an unparsable one',
  );
  tt.same(usedNextHops(mergeMarks(Buffer.alloc(0), 2), [hop4]), [], 'no value, no marks');
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
