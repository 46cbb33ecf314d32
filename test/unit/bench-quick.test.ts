// Smoke test of the benchmark suite in quick mode: each scenario run here builds its lab,
// produces numbers and cleans up. Performance is never asserted.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import { parseBenchArgs, runScenario } from '../../bench/main';
import { SCENARIOS } from '../../bench/scenarios';
import { renderTable } from '../../bench/report';
import { machine, renderDocs } from '../../bench/docs';

const root = process.getuid?.() === 0;

function positive(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

t.test('argument parsing', async (t) => {
  const a = parseBenchArgs(['--scenario', 'bridge', '--scenario=router-v4,gateway', '--json', '--quick', '--cpu', '0']);
  t.same(a.scenarios, ['bridge', 'router-v4', 'gateway']);
  t.ok(a.json && a.quick);
  t.equal(a.cpu, 0);
  t.equal(a.reps, 1, 'quick: one repetition');
  t.throws(() => parseBenchArgs(['--scenario', 'nope']), /unknown scenario/);
  t.throws(() => parseBenchArgs(['--frames', 'x']), /integer/);
  t.same(parseBenchArgs(['--scenario', 'queueing']).scenarios, ['queueing'], 'queueing is listed');
});

t.test('quick scenarios produce numbers', { skip: root ? false : 'needs root' }, async (t) => {
  const opts = { ...parseBenchArgs(['--quick']), frames: 20_000 };
  const logs: string[] = [];
  const before = fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').length : 0;
  for (const name of ['router-v4', 'tailcall-hops', 'epping-bridge-100']) {
    const s = SCENARIOS.find((x) => x.name === name)!;
    const r = await runScenario(s, opts, (m) => logs.push(m));
    t.equal(r.scenario, name);
    t.equal(r.runs, 1);
    if (name === 'router-v4') {
      t.ok(positive(r.linux_mpps), `linux ${r.linux_mpps}`);
      t.ok(positive(r.slipstream_mpps), `slipstream ${r.slipstream_mpps}`);
      t.ok(positive(r.reference_mpps), `reference ${r.reference_mpps}`);
      t.ok(positive(r.speedup_vs_linux) && positive(r.fraction_of_reference), 'ratios');
      const c = (r.cases as Array<{ slipstream_delivered_fraction: number }>)[0];
      t.ok(c.slipstream_delivered_fraction > 0, 'the slipstream pipeline delivered frames');
    } else if (name === 'epping-bridge-100') {
      t.equal(r.pipeline_off, 'l2-bridge', 'off: the bridge pipeline the daemon runs');
      t.equal(r.pipeline_on, 'parse+latency-monitor+l2-bridge', 'on: parse and the monitor folded into l2-bridge, one program');
      t.ok(positive(r.epping_off_mpps) && positive(r.epping_sampled_mpps) && positive(r.epping_unlimited_mpps), 'three rates');
      t.same(r.monitor_missed, { sampled: 0, unlimited: 0, linux_sampled: 0, linux_unlimited: 0 }, 'the monitor inspected every injected frame');
      t.equal(r.pipeline_linux_monitored, 'parse+latency-monitor', 'in front of Linux: the monitor alone');
      t.ok(positive((r.linux_monitored_sampled as { median: number }).median) && positive((r.linux_monitored_unlimited as { median: number }).median), 'Linux with the monitor delivered');
      const did = r.monitor_sampled as Record<string, number>;
      t.equal(did.packets, opts.frames, 'one run of 20000 frames, each counted once');
      t.equal(did.flows_opened, 100, 'one flow per source');
      t.equal(r.ringbuf_drops, 0, 'no ring-buffer drops');
    } else {
      t.ok(typeof r.ns_per_hop === 'number' && Number.isFinite(r.ns_per_hop), `ns per hop ${r.ns_per_hop}`);
      t.equal((r.points as unknown[]).length, 4);
    }
    t.match(renderTable([r]), name);
  }
  const after = fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').length : 0;
  t.ok(logs.length > 0, 'progress was logged');
  t.comment(`netns count before ${before}, after ${after} (other tests may run concurrently)`);
});

t.test('the report names the host a run was measured on', async (t) => {
  const opts = { cpu: 1, reps: 5, frames: 1_000_000, batchSize: 64, quick: false };
  const base = { scenario: 'router-v4', linux_mpps: 1.5, slipstream_mpps: 3.3, reference_mpps: 3.7, speedup_vs_linux: 2.2, fraction_of_reference: 0.892, runs: 5 };
  const host = { cpu: 'Test CPU', cores: 2, kernel: '9.9.9-test', memGb: 1, mitigations: { spec_rstack_overflow: 'Mitigation: Safe RET' } };
  const md = renderDocs([{ ...base, host }], 'npm run bench', opts, new Date(0));
  t.match(md, /kernel 9\.9\.9-test\./, 'the recorded kernel, not this one');
  t.match(md, /spec_rstack_overflow: Mitigation: Safe RET/);
  t.match(md, /\| this report \| 9\.9\.9-test \|[^\n]*2\.20× \/ 89\.2%/, 'this run in the hosts table');
  t.match(md, /router-v4: pipeline within 10% of the reference \(4\) \| 89\.2% of reference \| \*\*no\*\*/);
  const old = renderDocs([base], 'npm run bench', opts, new Date(0));
  t.match(old, /\(read when the report was written\)/, 'a run without a host record says so');
  t.notMatch(md, /kept off it/, 'a run that did not record its threads off the core does not claim it');
  const pinned = renderDocs([{ ...base, host: { ...host, offCore: true } }], 'npm run bench', opts, new Date(0));
  t.match(pinned, /Generator pinned to CPU 1, the bench's other threads and the processes it starts \([^)]*\) kept off it;/);
  t.equal(machine().kernel, os.release());
});
