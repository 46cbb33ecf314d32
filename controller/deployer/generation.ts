import type { BpfObject, NativeAddon, NativeError } from '../native/types';
import type { FpmFold, FpmManifest } from '../assembler/manifest';
import type { FpmStage, KnobValues, PipelinePlan } from '../assembler/plan';
import { bpfObjectPath } from '../util/paths';
import { SS_MAX_CHAIN, SS_SLOT_NONE } from './layout';
import type { SharedMaps } from './shared-maps';

const BPF_MAP_TYPE_PROG_ARRAY = 3;

export class LoadError extends Error {
  constructor(
    message: string,
    readonly fpm: string,
    readonly verifierLog?: string,
  ) {
    super(message);
  }
}

const PARSE = 'parse';

// One BPF program of a generation: an FPM, or an FPM with the FPMs before it folded in.
export interface ProgramStage {
  fpm: string; // the host FPM, whose program runs
  label: string; // what the status shows: "l3-router", or "parse+l3-router"
  object?: string; // a fold variant's object instead of the manifest's
  rodata: KnobValues;
}

// The folds a manifest offers: inline_parse is the fold of parse into the object itself.
function foldsOf(m: FpmManifest): FpmFold[] {
  return m.inlineParse ? [{ fpms: [PARSE], object: m.object }, ...m.folds] : m.folds;
}

// The longest run of FPMs starting at `start` that the FPM right after it folds in.
function foldAt(fpms: FpmStage[], start: number, manifests: Map<string, FpmManifest>): { host: number; object: string } | null {
  let best: { host: number; object: string } | null = null;
  for (let host = start + 1; host < fpms.length; host++) {
    const m = manifests.get(fpms[host].name);
    const run = fpms.slice(start, host).map((s) => s.name).join();
    const fold = m ? foldsOf(m).find((f) => f.fpms.join() === run) : undefined;
    if (fold) best = { host, object: fold.object };
  }
  return best;
}

// The programs a plan loads. A run of FPMs is folded into the FPM right after it when
// that FPM's manifest offers the fold (inline_parse for parse alone, `folds` for longer
// runs): one program with every member's knobs, parse's as parse_<knob>, and every packet
// saves the members' tail calls and program entries.
export function programStages(fpms: FpmStage[], manifests: Map<string, FpmManifest>): ProgramStage[] {
  const out: ProgramStage[] = [];
  for (let i = 0; i < fpms.length; ) {
    const fold = foldAt(fpms, i, manifests);
    if (!fold) {
      out.push({ fpm: fpms[i].name, label: fpms[i].name, rodata: { ...fpms[i].knobs } });
      i++;
      continue;
    }
    const host = fpms[fold.host];
    const rodata: KnobValues = {};
    for (const member of fpms.slice(i, fold.host)) {
      if (member.name !== PARSE) Object.assign(rodata, member.knobs);
      else Object.assign(rodata, Object.fromEntries(Object.entries(member.knobs).map(([k, v]) => [`parse_${k}`, v])), { ss_self_parse: true });
    }
    Object.assign(rodata, host.knobs);
    const label = fpms.slice(i, fold.host + 1).map((s) => s.name).join('+');
    const own = manifests.get(host.name)?.object;
    out.push({ fpm: host.name, label, ...(fold.object !== own ? { object: fold.object } : {}), rodata });
    i = fold.host + 1;
  }
  return out;
}

// One complete, self-contained pipeline for one device: a fresh chain and every FPM
// loaded with its successor's position baked into rodata.
export class Generation {
  private closed = false;
  private constructor(
    private readonly native: NativeAddon,
    readonly id: number,
    readonly plan: PipelinePlan,
    readonly chainFd: number,
    private readonly objects: BpfObject[],
    readonly entryProgFd: number,
    readonly programs: string[],
  ) {}

  static load(
    native: NativeAddon,
    id: number,
    plan: PipelinePlan,
    devSlot: number,
    manifests: Map<string, FpmManifest>,
    shared: SharedMaps,
    mapSizes: Record<string, number> = {},
  ): Generation {
    if (plan.fpms.length === 0 || plan.fpms.length > SS_MAX_CHAIN) {
      throw new LoadError(`pipeline for ${plan.ifname} has ${plan.fpms.length} FPMs`, '');
    }
    const chainFd = native.mapCreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, SS_MAX_CHAIN, 'ss_chain');
    const objects: BpfObject[] = [];
    const progFds: number[] = [];
    const stages = programStages(plan.fpms, manifests);
    try {
      stages.forEach((stage, i) => {
        const m = manifests.get(stage.fpm);
        if (!m) throw new LoadError(`FPM ${stage.fpm} is not in the library`, stage.fpm);
        let obj: BpfObject;
        try {
          obj = native.openObject(bpfObjectPath(stage.object ?? m.object));
        } catch (e) {
          throw new LoadError(`FPM ${stage.label}: ${(e as Error).message}`, stage.fpm);
        }
        objects.push(obj);
        obj.setRodata({
          ...stage.rodata,
          ss_dev_slot: devSlot,
          ss_next_slot: i + 1 < stages.length ? i + 1 : SS_SLOT_NONE,
        });
        const declared = new Set(obj.maps().map((x) => x.name));
        // Sizes from config must be equal on every object sharing a map, or it is recreated.
        for (const [name, n] of Object.entries(mapSizes)) if (declared.has(name)) obj.setMaxEntries(name, n);
        if (declared.has('ss_chain')) obj.reuseMap('ss_chain', chainFd);
        const creates = shared.prepare(obj);
        try {
          obj.load();
        } catch (e) {
          const ne = e as NativeError;
          throw new LoadError(`FPM ${stage.label} rejected: ${ne.message}`, stage.fpm, ne.verifierLog);
        }
        shared.register(obj, creates);
        const prog = obj.program(m.program);
        native.progArraySet(chainFd, i, prog.fd);
        progFds.push(prog.fd);
      });
    } catch (e) {
      for (const o of objects) o.close();
      native.closeFd(chainFd);
      throw e;
    }
    return new Generation(native, id, plan, chainFd, objects, progFds[0], stages.map((st) => st.label));
  }

  // A generation an earlier daemon left pinned: only its chain is known; it keeps running
  // until the first new generation replaces it.
  static adopted(native: NativeAddon, id: number, ifname: string, ifindex: number, chainFd: number): Generation {
    const plan: PipelinePlan = { ifname, ifindex, fpms: [], key: 'adopted' };
    return new Generation(native, id, plan, chainFd, [], -1, []);
  }

  get fpmNames(): string[] {
    return this.plan.fpms.map((f) => f.name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const o of this.objects) o.close();
    this.native.closeFd(this.chainFd);
  }
}
