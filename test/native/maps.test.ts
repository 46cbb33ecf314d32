// Map access, batch operations, per-CPU values, pins and bad-input errors.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import {
  BPF_EXIST,
  BPF_MAP_TYPE,
  BPF_NOEXIST,
  native,
  perCpuValues,
  sumPerCpuU64,
  u32,
} from '../../controller/native';
import { catchNative, loadTestObject } from './helpers';

function hashMap(t: Test, max = 4096, name = 'test_hash'): number {
  const fd = native.mapCreate(BPF_MAP_TYPE.HASH, 4, 8, max, name);
  t.teardown(() => native.closeFd(fd));
  return fd;
}

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

t.test('lookup/update/delete/nextKey', (t) => {
  const fd = hashMap(t);
  t.equal(native.mapLookup(fd, u32(1)), null, 'absent key is null');
  native.mapUpdate(fd, u32(1), u64(100));
  t.same(native.mapLookup(fd, u32(1)), u64(100));
  t.equal(catchNative(() => native.mapUpdate(fd, u32(1), u64(1), BPF_NOEXIST)).code, 'EEXIST');
  t.equal(catchNative(() => native.mapUpdate(fd, u32(2), u64(1), BPF_EXIST)).code, 'ENOENT');
  native.mapUpdate(fd, u32(2), u64(200), BPF_NOEXIST);
  const k1 = native.mapNextKey(fd, null);
  t.ok(k1);
  const k2 = native.mapNextKey(fd, k1);
  t.ok(k2);
  t.equal(native.mapNextKey(fd, k2), null, 'end of iteration');
  t.same([k1?.readUInt32LE(0), k2?.readUInt32LE(0)].sort(), [1, 2]);
  t.equal(native.mapDelete(fd, u32(1)), true);
  t.equal(native.mapDelete(fd, u32(1)), false, 'second delete reports absence');
  t.end();
});

t.test('wrong sizes and bad fds are refused before the syscall', (t) => {
  const fd = hashMap(t);
  t.match(catchNative(() => native.mapLookup(fd, Buffer.alloc(3))), { code: 'EINVAL', errno: 22 });
  t.match(catchNative(() => native.mapLookup(fd, Buffer.alloc(400))), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapUpdate(fd, u32(1), Buffer.alloc(4))), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapDelete(fd, Buffer.alloc(0))), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapNextKey(fd, Buffer.alloc(2))), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapUpdateBatch(fd, [u32(1)], [Buffer.alloc(1)])), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapLookup(123456, u32(1))), { code: 'EBADF', errno: 9 });
  t.match(catchNative(() => native.mapLookup(-1, u32(1))), { code: 'EBADF' });
  t.match(catchNative(() => native.mapLookup(0, u32(1))), { code: 'EINVAL' }, 'stdin is not a map');
  t.match(catchNative(() => native.mapDump(1)), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapLookup(fd, 'x' as unknown as Buffer)), { code: 'EINVAL' });
  t.match(catchNative(() => native.mapLookup(1.5, u32(1))), { code: 'EINVAL' });
  t.match(catchNative(() => native.closeFd(1)), { code: 'EINVAL' }, 'closeFd refuses non-BPF fds');
  t.match(catchNative(() => native.closeFd(123456)), { code: 'EBADF' });
  t.match(catchNative(() => native.mapInfo(123456)), { code: 'EBADF' });
  t.match(catchNative(() => native.progInfo(fd)), { code: 'EINVAL' }, 'a map is not a program');
  t.match(catchNative(() => native.progFdById(0x7fffffff)), { code: 'ENOENT' });
  t.match(catchNative(() => native.mapCreate(BPF_MAP_TYPE.HASH, 0, 8, 4, 'x')), { code: 'EINVAL' });
  t.end();
});

t.test('batch update, dump and delete over many entries', (t) => {
  const fd = hashMap(t, 4096, 'batch');
  const n = 1500; // several batch chunks
  const keys = Array.from({ length: n }, (_, i) => u32(i * 7 + 1));
  const vals = Array.from({ length: n }, (_, i) => u64(BigInt(i) * 1000n));
  native.mapUpdateBatch(fd, keys, vals);
  const dump = native.mapDump(fd);
  t.equal(dump.length, n, 'every entry dumped once');
  const seen = new Map(dump.map((e) => [e.key.readUInt32LE(0), e.value.readBigUInt64LE(0)]));
  t.equal(seen.size, n);
  t.equal(seen.get(7 * 42 + 1), 42000n);
  const del = [...keys.slice(0, 500), u32(999999), ...keys.slice(500, 600)];
  t.equal(native.mapDeleteBatch(fd, del), 600, 'absent key skipped, others deleted');
  t.equal(native.mapDump(fd).length, n - 600);
  t.equal(native.mapDeleteBatch(fd, []), 0);
  t.end();
});

t.test('dump falls back to iteration where batch is unsupported', (t) => {
  const o = loadTestObject('xdp_redirect');
  t.teardown(() => o.close());
  const dm = o.map('tx_ports').fd;
  native.devmapSet(dm, 3, 1);
  const d = native.mapDump(dm);
  t.same(
    d.map((e) => [e.key.readUInt32LE(0), e.value.readUInt32LE(0)]),
    [[3, 1]],
    'devmap dump by iteration',
  );
  t.end();
});

t.test('per-CPU values: one 8-byte-rounded slot per possible CPU', (t) => {
  const ncpu = native.numPossibleCpus();
  t.ok(ncpu >= 1);
  const fd = native.mapCreate(BPF_MAP_TYPE.PERCPU_ARRAY, 4, 12, 2, 'pcpu');
  t.teardown(() => native.closeFd(fd));
  const v = native.mapLookup(fd, u32(0));
  t.equal(v?.length, 16 * ncpu, '12-byte value rounds to 16 per CPU');
  const value = Buffer.alloc(16 * ncpu);
  for (let c = 0; c < ncpu; c++) {
    value.writeBigUInt64LE(BigInt(c + 1), c * 16);
    value.writeUInt32LE(c, c * 16 + 8);
  }
  native.mapUpdate(fd, u32(1), value);
  const back = native.mapLookup(fd, u32(1));
  if (!back) throw new Error('per-CPU entry missing');
  t.same(sumPerCpuU64(back, ncpu, 12), [BigInt((ncpu * (ncpu + 1)) / 2)], 'u64 field summed');
  t.same(
    perCpuValues(back, ncpu, 12).map((b) => b.readUInt32LE(8)),
    Array.from({ length: ncpu }, (_, c) => c),
  );
  const dump = native.mapDump(fd);
  t.equal(dump.length, 2, 'arrays dump every index');
  t.same(dump[1].value, back);
  t.match(catchNative(() => native.mapUpdate(fd, u32(0), Buffer.alloc(12))), { code: 'EINVAL' }, 'needs all CPUs');
  t.throws(() => sumPerCpuU64(Buffer.alloc(8), 2, 8), RangeError);
  t.end();
});

t.test('pin, objGet, unpin', (t) => {
  const dir = `/sys/fs/bpf/slipstream-test-${process.pid}`;
  fs.mkdirSync(dir, { recursive: true });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fd = hashMap(t, 16, 'pinned');
  native.mapUpdate(fd, u32(5), u64(55));
  const p = `${dir}/m`;
  native.pin(fd, p);
  t.match(catchNative(() => native.pin(fd, p)), { code: 'EEXIST' });
  const fd2 = native.objGet(p);
  t.teardown(() => native.closeFd(fd2));
  t.not(fd2, fd);
  t.equal(native.mapInfo(fd2).id, native.mapInfo(fd).id, 'same map through the pin');
  t.same(native.mapLookup(fd2, u32(5)), u64(55));
  native.unpin(p);
  native.unpin(p); // ENOENT is fine
  t.match(catchNative(() => native.objGet(p)), { code: 'ENOENT' });
  t.ok(catchNative(() => native.pin(fd, '/tmp/not-bpffs')).errno > 0, 'pinning outside bpffs fails');
  t.match(catchNative(() => native.pin(0, `${dir}/x`)), { code: 'EINVAL' }, 'stdin cannot be pinned');
  t.end();
});

t.test('unpin only removes bpffs entries', (t) => {
  const file = `/tmp/ss-unpin-${process.pid}`;
  fs.writeFileSync(file, 'x');
  t.teardown(() => fs.rmSync(file, { force: true }));
  t.match(catchNative(() => native.unpin(file)), { code: 'EINVAL' });
  t.ok(fs.existsSync(file), 'ordinary file untouched');
  t.end();
});
