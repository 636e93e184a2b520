/**
 * The dashboard's time on a large history (issue: >150 s on a store of ~1,400 runs under load):
 *
 *   npx tsx scripts/dashboard-timing.ts [--runs 1400] [--devices 4] [--cases 10] [--variants 4] [--work DIR]
 *   node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx scripts/dashboard-timing.ts     (where the time goes)
 *
 * Builds a store of synthetic nightly runs (test/helpers/synthetic.ts) spread over the devices, with a
 * step, a Node upgrade and a failed night per device, then renders the dashboard and prints the time of
 * each phase. Not a test (it takes a while and measures a duration): run it by hand, report with `uptime`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderDashboard } from '../harness/history/dashboard.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from '../test/helpers/synthetic.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1400' },
    devices: { type: 'string', default: '4' },
    cases: { type: 'string', default: '10' },
    variants: { type: 'string', default: '4' },
    work: { type: 'string' },
  },
});
const total = Number(values.runs);
const devices = Number(values.devices);
const work = values.work ?? mkdtempSync(join(tmpdir(), 'roofbench-dashboard-timing-'));
const store = HistoryStore.open(join(work, 'history.sqlite'));
const perDevice = Math.ceil(total / devices);
let t = performance.now();
let stored = 0;
let last = 0;
for (let d = 0; d < devices && stored < total; d++) {
  const n = Math.min(perDevice, total - stored);
  const runs = synthRuns({
    device: `board-${d}`,
    runs: n,
    cases: Number(values.cases),
    variants: Number(values.variants),
    seed: 11 + d,
    steps: [{ match: 'conv-im2col-gemm-f32', atRun: Math.floor(n * 0.7), factor: 1.12 }],
    nodeUpgradeAt: Math.floor(n * 0.4),
    failedRuns: [Math.floor(n / 3)],
  });
  for (const r of runs) store.insertRun(r, { refresh: false });
  last = Math.max(last, Date.parse(runs[runs.length - 1]!.finishedAt!));
  stored += n;
}
store.refreshDirty();
const storeMs = performance.now() - t;
t = performance.now();
// CPU time too: on a shared machine the wall time mostly measures the other processes.
const cpu0 = process.cpuUsage();
const out = await renderDashboard(store, { outDir: join(work, 'dashboard'), now: new Date(last) });
const renderMs = performance.now() - t;
const cpu = process.cpuUsage(cpu0);
store.close();
process.stdout.write(
  `${stored} runs on ${devices} devices (${values.cases} cases x ${values.variants} variants): store built in ${(storeMs / 1000).toFixed(1)} s; ` +
    `dashboard rendered in ${(renderMs / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU (${out.devicePages.length} device pages); load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
);
if (!values.work) rmSync(work, { recursive: true, force: true });
