/**
 * A demonstration dashboard from a synthetic nightly history (test/helpers/synthetic.ts),
 * and its screenshots with headless Chromium, for the README:
 *
 *   npx tsx scripts/dashboard-demo.ts [OUT_DIR]        (default: a temporary directory)
 *   npx tsx scripts/dashboard-demo.ts --readme         also writes docs/img/dashboard.png and dashboard-device.png
 *
 * 120 nightly runs of one board (8 cases x 3 variants), a lasting 12% step in one variant, a last
 * night that regresses one series and improves another, an annotation.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devicePageName, renderDashboard } from '../harness/history/dashboard.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from '../test/helpers/synthetic.js';
import { ROOT } from '../harness/payload.js';

const args = process.argv.slice(2);
const readme = args.includes('--readme');
const out = args.find((a) => !a.startsWith('--')) ?? mkdtempSync(join(tmpdir(), 'roofbench-dashboard-demo-'));
mkdirSync(out, { recursive: true });
const store = HistoryStore.open(join(out, 'history.sqlite'));
const N = 120;
const runs = synthRuns({
  device: 'rpi3',
  runs: N,
  cases: 8,
  variants: 3,
  seed: 7,
  steps: [
    { match: 'conv-im2col-gemm-f32', atRun: 80, factor: 1.12 },
    { match: 'resnet50.conv1 conv-direct-naive-f32', atRun: N - 1, factor: 1.25 },
    { match: 'vgg16.conv3_2 conv3x3-winograd-f2x2-f32', atRun: N - 1, factor: 0.8 },
  ],
});
for (const r of runs) store.insertRun(r, { refresh: false });
store.annotate({ device: 'rpi3', message: 'new kernel build', at: runs[100]!.startedAt });
const now = new Date(Date.parse(runs[N - 1]!.finishedAt!) + 2 * 3600_000);
const dash = await renderDashboard(store, { outDir: join(out, 'dashboard'), now });
store.close();
process.stdout.write(`dashboard: ${dash.index}\n`);

const shot = (page: string, png: string, height: number) =>
  execFileSync(
    'chromium',
    ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${png}`, `--window-size=1400,${height}`, `file://${page}`],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
const index = join(out, 'index.png');
const device = join(out, 'device.png');
shot(dash.index, index, 1400);
shot(join(out, 'dashboard', devicePageName('rpi3')), device, 2000);
process.stdout.write(`screenshots: ${index}, ${device}\n`);
if (readme) {
  mkdirSync(join(ROOT, 'docs', 'img'), { recursive: true });
  copyFileSync(index, join(ROOT, 'docs', 'img', 'dashboard.png'));
  copyFileSync(device, join(ROOT, 'docs', 'img', 'dashboard-device.png'));
  process.stdout.write('copied to docs/img/dashboard.png and docs/img/dashboard-device.png\n');
}
