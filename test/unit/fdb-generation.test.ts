// The controller's half of l2-bridge's source memo: DatapathSync bumps ss_fdb_gen after
// every change to the FDB mirror, and only then. Real BPF maps, no packets (the BPF half is
// in bpf-pipeline.test.ts).
import t, { type Test } from 'tap';
import { native } from '../../controller/native';
import { BPF_MAP_TYPE } from '../../controller/native/constants';
import { DatapathSync, type DpDevice, type DpFdb } from '../../controller/deployer/datapath';
import { FdbGeneration } from '../../controller/deployer/fdb-generation';
import { SS_IFINDEX_MAX, u32Key } from '../../controller/deployer/layout';

function maps(tt: Test): { devs: number; txPorts: number; fdb: number; fdbGen: number } {
  const fds = {
    devs: native.mapCreate(BPF_MAP_TYPE.ARRAY, 4, 20, SS_IFINDEX_MAX, 'ss_devs'),
    txPorts: native.mapCreate(BPF_MAP_TYPE.DEVMAP_HASH, 4, 4, 64, 'ss_tx_ports'),
    fdb: native.mapCreate(BPF_MAP_TYPE.HASH, 12, 16, 1024, 'ss_fdb'),
    fdbGen: native.mapCreate(BPF_MAP_TYPE.ARRAY, 4, 8, 1, 'ss_fdb_gen'),
  };
  tt.teardown(() => Object.values(fds).forEach((fd) => native.closeFd(fd)));
  return fds;
}

const host: DpFdb = { bridgeIfindex: 5, mac: '02:00:5e:00:01:01', vlan: 0, portIfindex: 6, local: false, static: false };
const port: DpDevice = {
  ifindex: 6, ifname: 'p1', mtu: 1500, mac: '02:00:5e:00:00:05', up: true, isBridge: false, bridgeIfindex: 5,
  portForwarding: true, isolated: false, tx: false, qdisc: false, l3: false, rpFilter: 0,
};

t.test('every mirror change bumps the generation; nothing else does', async (tt) => {
  const fds = maps(tt);
  const sync = new DatapathSync(native, fds, { devsFresh: true });
  const gen = (): bigint => native.mapLookup(fds.fdbGen, u32Key(0))!.readBigUInt64LE(0);
  tt.equal(gen(), 0n);
  sync.apply([port], [host]);
  tt.equal(gen(), 1n, 'a new entry');
  sync.apply([port], [host]);
  tt.equal(gen(), 1n, 'unchanged: no bump');
  sync.apply([{ ...port, isolated: true }], [host]);
  tt.equal(gen(), 1n, 'a device change is not a mirror change');
  sync.apply([port], [{ ...host, portIfindex: 7 }]);
  tt.equal(gen(), 2n, 'a source moved to another port');
  sync.apply([port], [{ ...host, portIfindex: 7, static: true }]);
  tt.equal(gen(), 3n, 'flags changed');
  sync.apply([port], []);
  tt.equal(gen(), 4n, 'deleted');
  sync.apply([port], [host, { ...host, mac: '02:00:5e:00:01:02' }]);
  tt.equal(gen(), 5n, 'several writes in one apply: one bump');
  sync.apply([port], [{ ...host, mac: '02:00:5e:00:01:03' }]);
  tt.equal(gen(), 7n, 'deletes and writes: bumped after each, so withdrawals count before grants');
});

t.test('a restarted controller continues from the pinned generation', async (tt) => {
  const fds = maps(tt);
  const g = new FdbGeneration(native, fds.fdbGen);
  g.bump();
  g.bump();
  const again = new FdbGeneration(native, fds.fdbGen);
  tt.equal(again.current, 2n);
  again.bump();
  tt.equal(native.mapLookup(fds.fdbGen, u32Key(0))!.readBigUInt64LE(0), 3n);
});
