// Loads parse -> epping into a fresh ss_chain, the way the deployer does for one device.
// Tests attach (or test-run) the parse program directly: with ss_next_slot = 1 it is its
// own root.
import path from 'node:path';
import { BPF_MAP_TYPE, native, type BpfObject } from '../../controller/native';
import { EPPING_MAPS } from '../../controller/epping/layout';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const objPath = (rel: string): string => path.join(repoRoot, 'build', 'bpf', rel);

export interface EppingChain {
  parseFd: number; // entry program (attach or test-run this)
  eppingFd: number;
  maps: Record<string, number>; // every ss_ep_* map and the shared ss_* ones, by name
  close(): void;
}

export interface ChainOptions {
  knobs?: Record<string, number | boolean>;
  sizes?: Record<string, number>;
  // Instead of parse -> epping, l2-bridge's fold (parse, monitor and bridge in one program,
  // with the plain lanes and the quiet lane in front); frames no port takes are passed.
  fold?: boolean;
}

export function loadEppingChain(opts: ChainOptions = {}): EppingChain {
  if (opts.fold) return loadBridgeFold(opts);
  const objs: BpfObject[] = [];
  const chainFd = native.mapCreate(BPF_MAP_TYPE.PROG_ARRAY, 4, 4, 16, 'ss_chain');
  try {
    const parse = native.openObject(objPath('fpm/parse.bpf.o'));
    objs.push(parse);
    parse.setRodata({ cfg_ipv4: true, cfg_ipv6: true, cfg_l4: true, ss_dev_slot: 0, ss_next_slot: 1 });
    parse.reuseMap('ss_chain', chainFd);
    parse.load();

    const ep = native.openObject(objPath('fpm/epping.bpf.o'));
    objs.push(ep);
    ep.setRodata({ ...(opts.knobs ?? {}), ss_dev_slot: 0, ss_next_slot: 0xffffffff });
    for (const [m, n] of Object.entries(opts.sizes ?? {})) ep.setMaxEntries(m, n);
    ep.reuseMap('ss_chain', chainFd);
    ep.reuseMap('ss_scratch', parse.map('ss_scratch').fd);
    ep.reuseMap('ss_stats', parse.map('ss_stats').fd);
    ep.load();

    const parseFd = parse.program('ss_fpm_parse').fd;
    const eppingFd = ep.program('ss_fpm_epping').fd;
    native.progArraySet(chainFd, 0, parseFd);
    native.progArraySet(chainFd, 1, eppingFd);
    const maps: Record<string, number> = { ss_chain: chainFd, ss_stats: parse.map('ss_stats').fd };
    for (const m of EPPING_MAPS) maps[m] = ep.map(m).fd;

    let closed = false;
    return {
      parseFd,
      eppingFd,
      maps,
      close() {
        if (closed) return;
        closed = true;
        for (const o of objs.reverse()) o.close();
        native.closeFd(chainFd);
      },
    };
  } catch (e) {
    for (const o of objs.reverse()) o.close();
    native.closeFd(chainFd);
    throw e;
  }
}

function loadBridgeFold(opts: ChainOptions): EppingChain {
  const chainFd = native.mapCreate(BPF_MAP_TYPE.PROG_ARRAY, 4, 4, 16, 'ss_chain');
  const obj = native.openObject(objPath('fpm/l2_bridge_ep.bpf.o'));
  try {
    obj.setRodata({ ...(opts.knobs ?? {}), ss_self_parse: true, parse_cfg_l4: true, ss_dev_slot: 0, ss_next_slot: 0xffffffff });
    for (const [m, n] of Object.entries(opts.sizes ?? {})) obj.setMaxEntries(m, n);
    obj.reuseMap('ss_chain', chainFd);
    obj.load();
    const fd = obj.program('ss_fpm_l2_bridge').fd;
    const maps: Record<string, number> = { ss_chain: chainFd, ss_stats: obj.map('ss_stats').fd };
    for (const m of EPPING_MAPS) maps[m] = obj.map(m).fd;
    let closed = false;
    return {
      parseFd: fd,
      eppingFd: fd,
      maps,
      close() {
        if (closed) return;
        closed = true;
        obj.close();
        native.closeFd(chainFd);
      },
    };
  } catch (e) {
    obj.close();
    native.closeFd(chainFd);
    throw e;
  }
}
