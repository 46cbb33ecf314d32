// A slipstream pipeline loaded by the bench itself with the deployer's own classes, next to
// a running daemon: the daemon's pinned shared maps (heartbeat, devices, FDB, stats, epping
// state) are adopted, a root dispatcher of our own (heartbeat check included) tail-calls a
// Generation built by the assembler from a device role. Used where the daemon's config
// cannot produce the variant to measure (epping rate limits) — it is the same objects,
// knobs and maps the daemon would deploy.
import { native } from '../controller/native';
import type { BpfObject } from '../controller/native';
import { assemble, type DeviceRole, type KnobValues } from '../controller/assembler/plan';
import { loadManifests, type FpmManifest } from '../controller/assembler/manifest';
import { Generation } from '../controller/deployer/generation';
import { PinLayout } from '../controller/deployer/pins';
import { SharedMaps } from '../controller/deployer/shared-maps';
import { bpfObjectPath } from '../controller/util/paths';

// A stats row the daemon does not hand out while the bench runs (it allocates from 0 up).
export const BENCH_DEV_SLOT = 250;

let manifestCache: Map<string, FpmManifest> | null = null;
export function manifests(): Map<string, FpmManifest> {
  manifestCache ??= loadManifests();
  return manifestCache;
}

export class BenchPipeline {
  private constructor(
    private readonly shared: SharedMaps,
    private readonly root: BpfObject,
    private readonly gen: Generation,
    readonly rootFd: number,
    readonly fpms: string[],
    readonly programs: string[], // as loaded: parse folded into the FPM after it where it can be
  ) {}

  static load(bpffsRoot: string, netns: string, role: DeviceRole, configKnobs: Map<string, KnobValues>, genId: number): BenchPipeline {
    const shared = new SharedMaps(native, new PinLayout(bpffsRoot, netns));
    shared.adopt();
    const { plans, problems } = assemble({ roles: [role], manifests: manifests(), configKnobs });
    const plan = plans.get(role.ifname);
    if (!plan) {
      shared.closeAll(false);
      throw new Error(`no pipeline for ${role.ifname}: ${problems.join('; ')}`);
    }
    const root = native.openObject(bpfObjectPath('xdp_root.bpf.o'));
    let gen: Generation | null = null;
    try {
      root.setRodata({ ss_dev_slot: BENCH_DEV_SLOT });
      const creates = shared.prepare(root);
      root.load();
      shared.register(root, creates);
      gen = Generation.load(native, genId, plan, BENCH_DEV_SLOT, manifests(), shared);
      native.progArraySet(root.map('ss_root_slot').fd, 0, gen.entryProgFd);
      return new BenchPipeline(shared, root, gen, root.program('ss_root').fd, gen.fpmNames, gen.programs);
    } catch (e) {
      gen?.close();
      root.close();
      shared.closeAll(false);
      throw e;
    }
  }

  // A shared map this pipeline uses (the daemon's pinned instance).
  mapFd(name: string): number {
    const fd = this.shared.fd(name);
    if (fd === undefined) throw new Error(`bench pipeline: no shared map ${name}`);
    return fd;
  }

  close(): void {
    this.gen.close();
    this.root.close();
    this.shared.closeAll(false);
  }
}
