// The controller's half of l2-bridge's flow cache: DatapathSync bumps ss_mirror_gen after
// every change to the FDB mirror or the device table, and only then. Real BPF maps, no packets (the BPF half is
// in bpf-pipeline.test.ts).
import t, { type Test } from 'tap';
import { native } from '../../controller/native';
import { BPF_MAP_TYPE } from '../../controller/native/constants';
import { DatapathSync, type DpDevice, type DpFdb } from '../../controller/deployer/datapath';
import { MirrorGeneration } from '../../controller/deployer/mirror-generation';
import { SS_DEV_SIZE, SS_IFINDEX_MAX, u32Key } from '../../controller/deployer/layout';

function maps(tt: Test): { devs: number; txPorts: number; fdb: number; mirrorGen: number } {
  const fds = {
    devs: native.mapCreate(BPF_MAP_TYPE.ARRAY, 4, SS_DEV_SIZE, SS_IFINDEX_MAX, 'ss_devs'),
    txPorts: native.mapCreate(BPF_MAP_TYPE.DEVMAP_HASH, 4, 4, 64, 'ss_tx_ports'),
    fdb: native.mapCreate(BPF_MAP_TYPE.HASH, 12, 16, 1024, 'ss_fdb'),
    mirrorGen: native.mapCreate(BPF_MAP_TYPE.ARRAY, 4, 8, 1, 'ss_mirror_gen'),
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
  const gen = (): bigint => native.mapLookup(fds.mirrorGen, u32Key(0))!.readBigUInt64LE(0);
  tt.equal(gen(), 0n);
  sync.apply([port], [host]);
  tt.equal(gen(), 1n, 'a new device and entry: one bump');
  sync.apply([port], [host]);
  tt.equal(gen(), 1n, 'unchanged: no bump');
  sync.apply([{ ...port, isolated: true }], [host]);
  tt.equal(gen(), 2n, 'a device rewritten');
  sync.apply([{ ...port, isolated: true, portForwarding: false }], [host]);
  tt.equal(gen(), 3n, 'a port that stops forwarding');
  sync.apply([port], [{ ...host, portIfindex: 7 }]);
  tt.equal(gen(), 4n, 'a source moved to another port (and the port rewritten): one bump');
  sync.apply([port], [{ ...host, portIfindex: 7, static: true }]);
  tt.equal(gen(), 5n, 'flags changed');
  sync.apply([port], []);
  tt.equal(gen(), 6n, 'deleted');
  sync.apply([port], [host, { ...host, mac: '02:00:5e:00:01:02' }]);
  tt.equal(gen(), 7n, 'several writes in one apply: one bump');
  sync.apply([port], [{ ...host, mac: '02:00:5e:00:01:03' }]);
  tt.equal(gen(), 9n, 'deletes and writes: bumped after each, so withdrawals count before grants');
  sync.apply([], [{ ...host, mac: '02:00:5e:00:01:03' }]);
  tt.equal(gen(), 10n, 'a device gone');
});

t.test('a controller that adopts ss_devs clears what it does not know, and bumps', async (tt) => {
  const fds = maps(tt);
  const sync = new DatapathSync(native, fds);
  const gen = (): bigint => native.mapLookup(fds.mirrorGen, u32Key(0))!.readBigUInt64LE(0);
  sync.apply([], []);
  tt.equal(gen(), 1n);
});

t.test('a restarted controller continues from the pinned generation', async (tt) => {
  const fds = maps(tt);
  const g = new MirrorGeneration(native, fds.mirrorGen);
  g.bump();
  g.bump();
  const again = new MirrorGeneration(native, fds.mirrorGen);
  tt.equal(again.current, 2n);
  again.bump();
  tt.equal(native.mapLookup(fds.mirrorGen, u32Key(0))!.readBigUInt64LE(0), 3n);
});
