// Object loading against the real kernel: rodata knobs, map reuse, verifier logs,
// prog arrays, devmaps, probes.
import t from 'tap';
import {
  BPF_FUNC,
  BPF_MAP_TYPE,
  BPF_PROG_TYPE,
  native,
  u32,
  XDP_DROP,
  XDP_PASS,
  XDP_TX,
} from '../../controller/native';
import { udp4Frame } from '../lab/frames';
import { catchNative, loadTestObject, readCounter, testObjectPath } from './helpers';

const frame = udp4Frame({
  srcMac: '02:00:00:00:00:01',
  dstMac: '02:00:00:00:00:02',
  src: '198.18.1.1',
  dst: '198.18.1.2',
  dport: 9999,
});

t.test('openObject lists programs and maps before and after load', (t) => {
  const obj = native.openObject(testObjectPath('xdp_count'));
  t.teardown(() => obj.close());
  t.equal(obj.path, testObjectPath('xdp_count'));
  const before = obj.programs();
  t.same(
    before.map((p) => [p.name, p.fd, p.type]),
    [['xdp_count', -1, BPF_PROG_TYPE.XDP]],
  );
  obj.load();
  const p = obj.program('xdp_count');
  t.ok(p.fd > 2 && p.id > 0, 'loaded program has fd and id');
  t.same(native.progInfo(p.fd), { name: 'xdp_count', fd: p.fd, id: p.id, type: BPF_PROG_TYPE.XDP });
  const m = obj.map('counters');
  t.match(m, { type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 16, maxEntries: 4 });
  t.same(native.mapInfo(m.fd), m);
  t.ok(obj.maps().some((x) => x.name.endsWith('.rodata')), '.rodata is listed');
  t.equal(catchNative(() => obj.program('nope')).code, 'ENOENT');
  t.equal(catchNative(() => obj.map('nope')).code, 'ENOENT');
  t.equal(catchNative(() => obj.setRodata({ tag: 1 })).code, 'EBUSY', 'no knobs after load');
  t.equal(catchNative(() => obj.load()).code, 'EBUSY', 'no second load');
  // fds survive via dup after close
  const dup = native.dupFd(p.fd);
  obj.close();
  t.equal(catchNative(() => obj.programs()).code, 'EBADF', 'closed object');
  t.equal(native.progInfo(dup).id, p.id, 'dup keeps the program');
  native.closeFd(dup);
  t.end();
});

t.test('rodata knobs change behaviour', (t) => {
  const plain = loadTestObject('xdp_count');
  const tx = loadTestObject('xdp_count', { rodata: { match_verdict: XDP_TX, tag: 5n } });
  const other = loadTestObject('xdp_count', { rodata: { match_dport: 1234, match_verdict: XDP_DROP } });
  t.teardown(() => [plain, tx, other].forEach((o) => o.close()));

  t.equal(native.testRun(plain.program('xdp_count').fd, { data: frame }).retval, XDP_PASS);
  const r = native.testRun(tx.program('xdp_count').fd, { data: frame, repeat: 7 });
  t.equal(r.retval, XDP_TX, 'match_verdict knob applied');
  t.same(r.dataOut, frame, 'frame comes back unchanged');
  t.equal(readCounter(tx.map('counters').fd, 0).packets, 7n, 'per-CPU sum over repeat');
  t.equal(readCounter(tx.map('counters').fd, 2).bytes, 35n, 'u64 tag knob (7 x 5)');
  // port filter: 9999 is not 1234, so it passes and is not counted
  t.equal(native.testRun(other.program('xdp_count').fd, { data: frame }).retval, XDP_PASS);
  t.equal(readCounter(other.map('counters').fd, 0).packets, 0n);
  t.equal(readCounter(other.map('counters').fd, 1).packets, 1n);

  const o = native.openObject(testObjectPath('xdp_count'));
  t.teardown(() => o.close());
  t.equal(catchNative(() => o.setRodata({ nope: 1 })).code, 'ENOENT', 'unknown knob');
  t.equal(catchNative(() => o.setRodata({ match_proto: 256 })).code, 'EINVAL', 'too wide for u8');
  t.equal(catchNative(() => o.setRodata({ match_dport: 'x' as unknown as number })).code, 'EINVAL');
  o.setRodata({ match_proto: 17, match_dport: Buffer.from([0x0f, 0x27]) }); // 9999 LE
  o.load();
  t.equal(native.testRun(o.program('xdp_count').fd, { data: frame }).retval, XDP_PASS);
  t.equal(readCounter(o.map('counters').fd, 0).packets, 1n, 'Buffer knob written in place');
  t.end();
});

t.test('reuseMap shares one map between two objects', (t) => {
  const a = loadTestObject('xdp_count');
  const b = loadTestObject('xdp_count', { reuse: { counters: a.map('counters').fd } });
  t.teardown(() => {
    a.close();
    b.close();
  });
  t.equal(b.map('counters').id, a.map('counters').id, 'same kernel map');
  native.testRun(b.program('xdp_count').fd, { data: frame, repeat: 3 });
  native.testRun(a.program('xdp_count').fd, { data: frame, repeat: 2 });
  t.equal(readCounter(a.map('counters').fd, 0).packets, 5n, 'both programs count into it');

  const c = native.openObject(testObjectPath('xdp_count'));
  t.teardown(() => c.close());
  const hash = native.mapCreate(BPF_MAP_TYPE.HASH, 4, 4, 4, 'wrong');
  t.teardown(() => native.closeFd(hash));
  c.reuseMap('counters', hash);
  t.ok(catchNative(() => c.load()).errno > 0, 'incompatible map is refused at load');
  t.equal(catchNative(() => native.openObject(testObjectPath('xdp_count')).reuseMap('counters', 99999)).code, 'EBADF');
  t.end();
});

t.test('setMaxEntries', (t) => {
  const o = native.openObject(testObjectPath('xdp_count'));
  t.teardown(() => o.close());
  o.setMaxEntries('counters', 64);
  o.load();
  t.equal(o.map('counters').maxEntries, 64);
  t.equal(native.mapInfo(o.map('counters').fd).maxEntries, 64);
  t.end();
});

t.test('verifier rejection carries the log', (t) => {
  const o = native.openObject(testObjectPath('bad_prog'));
  t.teardown(() => o.close());
  const e = catchNative(() => o.load());
  t.equal(e.code, 'EVERIFIER');
  t.ok(e.errno > 0, `errno ${e.errno}`);
  t.match(e.message, /verifier/);
  t.type(e.verifierLog, 'string');
  t.match(e.verifierLog ?? '', /invalid access to packet/);
  t.end();
});

t.test('missing and bad object files', (t) => {
  t.match(catchNative(() => native.openObject('/nonexistent/x.bpf.o')), { code: 'ENOENT', errno: 2 });
  t.equal(catchNative(() => native.openObject('/tmp')).code, 'EISDIR');
  t.equal(catchNative(() => native.openObject(__filename)).errno > 0, true, 'not an ELF');
  t.equal(catchNative(() => native.openObject(42 as unknown as string)).code, 'EINVAL');
  t.end();
});

t.test('prog array: set and clear slots', (t) => {
  const o = loadTestObject('xdp_tail');
  t.teardown(() => o.close());
  const root = o.program('tail_root').fd;
  const jmp = o.map('jmp').fd;
  t.equal(native.testRun(root, { data: frame }).retval, XDP_DROP, 'empty slot falls through');
  native.progArraySet(jmp, 0, o.program('tail_tx').fd);
  t.equal(native.testRun(root, { data: frame }).retval, XDP_TX, 'tail call taken');
  native.progArrayClear(jmp, 0);
  native.progArrayClear(jmp, 0); // absent is fine
  t.equal(native.testRun(root, { data: frame }).retval, XDP_DROP);
  t.equal(catchNative(() => native.progArraySet(jmp, 9, root)).code, 'E2BIG', 'index past max_entries');
  t.equal(catchNative(() => native.progArraySet(jmp, 0, jmp)).code, 'EINVAL', 'map fd is not a program');

  // a fresh per-generation prog array from mapCreate works the same
  const fresh = native.mapCreate(BPF_MAP_TYPE.PROG_ARRAY, 4, 4, 4, 'gen_chain');
  t.teardown(() => native.closeFd(fresh));
  t.match(native.mapInfo(fresh), { type: BPF_MAP_TYPE.PROG_ARRAY, name: 'gen_chain', maxEntries: 4 });
  t.end();
});

t.test('devmapSet writes ifindexes', (t) => {
  const o = loadTestObject('xdp_redirect');
  t.teardown(() => o.close());
  const m = o.map('tx_ports').fd;
  native.devmapSet(m, 0, 1); // lo
  t.same(native.mapLookup(m, u32(0)), u32(1));
  const hash = native.mapCreate(BPF_MAP_TYPE.DEVMAP_HASH, 4, 8, 8, 'dmh');
  t.teardown(() => native.closeFd(hash));
  native.devmapSet(hash, 77, 1);
  t.equal(native.mapLookup(hash, u32(77))?.readUInt32LE(0), 1, 'bpf_devmap_val layout');
  t.equal(catchNative(() => native.devmapSet(m, 1, 999999)).code, 'EINVAL', 'no such device');
  const plain = native.mapCreate(BPF_MAP_TYPE.HASH, 4, 4, 4, 'plain');
  t.teardown(() => native.closeFd(plain));
  t.equal(catchNative(() => native.devmapSet(plain, 0, 1)).code, 'EINVAL', 'not a devmap');
  t.end();
});

t.test('probes', (t) => {
  t.equal(native.probeMapType(BPF_MAP_TYPE.DEVMAP_HASH), true);
  t.equal(native.probeMapType(BPF_MAP_TYPE.RINGBUF), true);
  t.equal(native.probeMapType(9999), false, 'unknown map type');
  t.equal(native.probeHelper(BPF_PROG_TYPE.XDP, BPF_FUNC.fib_lookup), true);
  t.equal(native.probeHelper(BPF_PROG_TYPE.XDP, BPF_FUNC.redirect_map), true);
  // bpf_skb_store_bytes (9) belongs to tc, not XDP
  t.equal(native.probeHelper(BPF_PROG_TYPE.XDP, 9), false);
  t.equal(native.probeHelper(BPF_PROG_TYPE.SCHED_CLS, 9), true);
  t.end();
});
