import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { CHANGEPOINT_CLASS, ANNOTATION_CLASS, SPARK_CLASS, sparklineSvg, THROTTLE_CLASS, timeTicks } from '../harness/history/charts.js';
import { devicePageName, renderDashboard, seriesAnchor, type DashboardOutput } from '../harness/history/dashboard.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from './helpers/synthetic.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const fixture = (name: string): RunResults => RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

let work: string;
let store: HistoryStore;
let out: DashboardOutput;
let runs: RunResults[];
const RUNS = 300;
const STEP_AT = 210;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-dashboard-'));
  store = HistoryStore.open(join(work, 'history.sqlite'));
  // 300 nightly runs x 20 series (10 cases x 2 variants): a 12% step in one variant from run 210, a Node
  // upgrade at run 120 (new series), a failed night, and a last night that regresses one series.
  runs = synthRuns({
    device: 'nightly-board',
    runs: RUNS,
    cases: 10,
    variants: 2,
    seed: 42,
    steps: [
      { match: 'conv-im2col-gemm-f32', atRun: STEP_AT, factor: 1.12 },
      { match: 'resnet50.conv1 conv-direct-naive-f32', atRun: RUNS - 1, factor: 1.2 },
    ],
    nodeUpgradeAt: 120,
    failedRuns: [150],
  });
  for (const r of runs) store.insertRun(r, { refresh: false });
  store.annotate({ device: 'nightly-board', message: 'moved to the <new> rack & reflashed', at: runs[260]!.startedAt });
  // A second device whose last night failed (unreachable), and the hostile fixture.
  store.insertRun(fixture('rpi3-complete'));
  store.insertRun(fixture('minimal-incomplete'));
  store.insertRun(fixture('injection'));
  out = await renderDashboard(store, { outDir: join(work, 'dashboard'), now: new Date(Date.parse(runs[RUNS - 1]!.finishedAt!) + 3 * 3600_000) });
}, 300_000);

afterAll(() => {
  store?.close();
  rmSync(work, { recursive: true, force: true });
});

const read = (file: string) => readFileSync(file, 'utf8');

/** The rows of the table with class `cls` (each row's cells as text). */
function tableRows(html: string, cls: string): string[][] {
  const start = html.search(new RegExp(`<table class="[^"]*\\b${cls}\\b`));
  expect(start, `table.${cls}`).toBeGreaterThanOrEqual(0);
  const body = html.slice(html.indexOf('<tbody>', start), html.indexOf('</tbody>', start));
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) =>
      c[1]!
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    ),
  );
}

describe('dashboard', () => {
  it('writes an index and one page per device', () => {
    expect(out.index).toBe(join(work, 'dashboard', 'index.html'));
    expect(readdirSync(join(work, 'dashboard')).sort()).toEqual(
      ['index.html', devicePageName('nightly-board'), devicePageName('rpi3'), devicePageName(`lab-<script>alert(1)</script>"&'`)].sort(),
    );
    expect(devicePageName(`lab-<script>alert(1)</script>"&'`)).toMatch(/^device-lab-_script_alert_1_script_-[0-9a-f]{8}\.html$/);
  });

  it('is static and self-contained: no script, no external resource, every value escaped', () => {
    for (const file of [out.index, ...out.devicePages]) {
      const html = read(file);
      expect(html).not.toMatch(/<script/i);
      expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
      expect(html).not.toMatch(/<link\b/i);
      expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
    }
    const index = read(out.index);
    expect(index).toContain('lab-&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;');
    expect(index).toContain('moved to the &lt;new&gt; rack &amp; reflashed');
  });

  it('overview: last run and age, unreachable devices, series counts', () => {
    const rows = tableRows(read(out.index), 'overview');
    const board = rows.find((r) => r[0]!.startsWith('nightly-board'))!;
    expect(board[1]).toContain(runs[RUNS - 1]!.runId);
    expect(board[2]).toBe('3 h');
    expect(board[3]).toBe('complete');
    expect(board[5]).toMatch(/1 regressed .* never compared/);
    const rpi3 = rows.find((r) => r[0]!.startsWith('rpi3'))!;
    expect(rpi3[3]).toMatch(/^unreachable incomplete ssh connection to rpi3 lost/);
    expect(rpi3[3]).toMatch(/last probed run: 2025-03-14T09-21-05Z-rpi3-7f3a/);
    expect(read(out.index)).toMatch(/<h1>1 regression, 2 unreachable devices<\/h1>/);
  });

  it('regressions table: the series, run and commit range, magnitude with CI, p-value', () => {
    const rows = tableRows(read(out.index), 'regressions');
    expect(rows.length).toBe(1);
    const [device, series, runRange, commits, change, ci, p] = rows[0]!;
    expect(device).toBe('nightly-board');
    expect(series).toBe('conv/resnet50.conv1 conv-direct-naive-f32');
    expect(runRange).toBe(`${runs[RUNS - 2]!.runId} → ${runs[RUNS - 1]!.runId}`);
    expect(commits).toBe(`${runs[RUNS - 2]!.harness.gitCommit!.slice(0, 10)}..${runs[RUNS - 1]!.harness.gitCommit!.slice(0, 10)}`);
    expect(Number(change!.replace('%', ''))).toBeGreaterThan(15);
    expect(ci).toMatch(/^\+\d+\.\d% \.\. \+\d+\.\d%$/);
    expect(Number(p)).toBeLessThan(0.01);
  });

  it('change points: the 12% step found at the right run in every series of the variant', () => {
    const rows = tableRows(read(out.index), 'changepoints');
    const step = rows.filter((r) => r[2]!.includes('conv-im2col-gemm-f32'));
    expect(step.length).toBe(10);
    for (const r of step) {
      expect(r[0]).toBe(`${runs[STEP_AT]!.startedAt.slice(0, 19).replace('T', ' ')} UTC`);
      expect(Number(r[3]!.replace('%', ''))).toBeGreaterThan(9);
      expect(r[5]).toBe(`${runs[STEP_AT - 1]!.harness.gitCommit!.slice(0, 10)}..${runs[STEP_AT]!.harness.gitCommit!.slice(0, 10)}`);
    }
    // The one-night regression at the end is not (yet) a lasting change.
    expect(rows.filter((r) => !r[2]!.includes('conv-im2col-gemm-f32'))).toEqual([]);
  });

  it('device page: a chart per series with CI band, change points and annotations; trends and health', () => {
    const html = read(join(work, 'dashboard', devicePageName('nightly-board')));
    const current = store.series('nightly-board').filter((s) => s.n_points > 0);
    expect(current.length).toBe(40); // 20 before the Node upgrade, 20 after
    for (const s of current) expect(html).toContain(`id="${seriesAnchor(s.key)}"`);
    const seriesCharts = html.match(/<figure class="chart series-chart">\s*<svg/g) ?? [];
    expect(seriesCharts.length).toBe(40);
    // Change points of the step (10 series) and the annotation (on the 20 current series) carry hover titles.
    expect((html.match(new RegExp(`class="${CHANGEPOINT_CLASS}"`, 'g')) ?? []).length).toBe(10);
    expect((html.match(new RegExp(`class="[^"]*${ANNOTATION_CLASS}`, 'g')) ?? []).length).toBe(20);
    expect(html).toMatch(/<title>change point: \+1\d\.\d% slower/);
    expect(html).toMatch(/Device health[\s\S]*?<svg/);
    expect(html).toMatch(new RegExp(`class="[^"]*${THROTTLE_CLASS}`));
    expect(html).toMatch(/identity changed|Identity history/);
    expect(html).toContain('Earlier identities');
  });

  it('device page: series grouped by case with sparklines (median and CI band), the regression first, no many-line chart', () => {
    const html = read(join(work, 'dashboard', devicePageName('nightly-board')));
    const byCase = html.slice(html.indexOf('id="by-case"'), html.indexOf('</section>', html.indexOf('id="by-case"')));
    const groups = [...byCase.matchAll(/<h3 class="mono case-group-title">([^<]*)<\/h3>/g)].map((m) => m[1]);
    expect(groups.length).toBe(10);
    // The case of the regressed series comes first, its regressed row first within it.
    expect(groups[0]).toBe('conv/resnet50.conv1');
    const firstRow = byCase.slice(byCase.indexOf('<tr class="spark-row'));
    expect(firstRow).toMatch(/^<tr class="spark-row spark-regressed">[\s\S]*?conv-direct-naive-f32/);
    // One sparkline per current series with a hover label; its band is an area mark.
    const sparks = [...byCase.matchAll(new RegExp(`class="${SPARK_CLASS}"[^<>]*><title>([^<]*)</title>`, 'g'))].map((m) => m[1]!);
    expect(sparks.filter((t) => t.includes('median time per run')).length).toBe(20);
    expect(byCase).toMatch(/mark-area/);
    // The old trend charts drew one line per series on one axis: gone.
    expect(html).not.toContain('id="efficiency"');
    // Human labels for the identity, not field names and raw values.
    expect(html).not.toMatch(/<th scope="row">memoryMiB<\/th>/);
    expect(html).toMatch(/<th scope="row">memory<\/th>\s*<td>[\d.]+ (GiB|MiB)<\/td>/);
    expect(html).not.toMatch(/<td>null<\/td>/);
  });

  it('time axes label each tick once', () => {
    const html = read(join(work, 'dashboard', devicePageName('nightly-board')));
    let checked = 0;
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) {
      const axis = svg.match(/<g class="mark-text role-axis-label"[\s\S]*?<\/g>/g) ?? [];
      for (const a of axis) {
        checked++;
        const labels = [...a.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
        expect(new Set(labels).size, labels.join(' | ')).toBe(labels.length);
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(timeTicks({ start: '2025-01-01T00:00:00Z', end: '2025-01-01T20:00:00Z' }).format).toBe('%H:%M');
    expect(timeTicks({ start: '2025-01-01T00:00:00Z', end: '2025-01-20T00:00:00Z' }).format).toBe('%b %d');
    expect(timeTicks({ start: '2025-01-01T00:00:00Z', end: '2025-12-01T00:00:00Z' }).format).toBe('%b %Y');
  });

  it('loads in headless Chromium: the DOM has the tables and the charts', () => {
    // Like the sshd and ARM scripts, install what the test needs when we may (root with apt-get).
    if (!existsSync(CHROMIUM) && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 300_000 });
      spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env, timeout: 600_000 });
    }
    expect(existsSync(CHROMIUM), 'the dashboard test loads the site in headless Chromium: apt-get install -y chromium (.ci/run does)').toBe(true);
    const dump = (file: string) => {
      const r = spawnSync(CHROMIUM, [...CHROMIUM_FLAGS, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 120_000, maxBuffer: 512 * 1024 * 1024 });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const index = dump(out.index);
    expect(index).toMatch(/<table class="problems overview">/);
    expect(index).toMatch(/<table class="problems regressions">/);
    expect(index).toMatch(/<table class="problems changepoints">/);
    const device = dump(join(work, 'dashboard', devicePageName('nightly-board')));
    expect((device.match(/<svg\b/g) ?? []).length).toBeGreaterThanOrEqual(43);
    expect(device).toMatch(/<table class="problems compact runs">/);
    // And it paints: a screenshot of the index succeeds.
    const png = join(work, 'index.png');
    const shot = spawnSync(CHROMIUM, [...CHROMIUM_FLAGS, '--hide-scrollbars', '--window-size=1400,1800', `--screenshot=${png}`, `file://${out.index}`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(shot.status, shot.stderr).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 900_000);
});

describe('sparklines drawn from one compiled spec', () => {
  it('each render gets its own colour, time domain, values and change points (nothing carries over from the last)', async () => {
    const domain = { start: '2025-01-01T00:00:00Z', end: '2025-01-11T00:00:00Z' };
    const pts = (v: (i: number) => number) =>
      Array.from({ length: 10 }, (_, i) => ({ t: new Date(Date.parse(domain.start) + (i + 1) * 86_400_000).toISOString(), value: v(i) }));
    const a = await sparklineSvg(
      pts((i) => 1 + i),
      { domain, colour: '#ff0000', title: ['a'], idPrefix: 'a', markers: [pts(() => 0)[4]!.t] },
    );
    const b = await sparklineSvg(
      pts((i) => 10 - i),
      { domain: { ...domain, end: '2025-01-21T00:00:00Z' }, colour: '#00ff00', title: ['b'], idPrefix: 'b' },
    );
    expect(a).toContain('stroke="#ff0000"');
    expect(a).not.toContain('#00ff00');
    expect(b).toContain('stroke="#00ff00"');
    expect(b).not.toContain('#ff0000');
    // a's change point is a rule; b has none.
    expect(a).toMatch(/<g class="mark-rule[^"]*"[^>]*><line /);
    expect(b).not.toMatch(/<g class="mark-rule[^"]*"[^>]*><line /);
    // The last point: at the right edge for a (its domain ends with it), halfway for b (twice as long a domain).
    const lastX = (svg: string) => Number(/<g class="mark-symbol[^>]*><path transform="translate\(([\d.]+),/.exec(svg)![1]);
    expect(lastX(a!)).toBeCloseTo(150, 0);
    expect(lastX(b!)).toBeCloseTo(75, 0);
    // Rising in a, falling in b: the last point high (small y) in a, low (large y) in b.
    const lastY = (svg: string) => Number(/<g class="mark-symbol[^>]*><path transform="translate\([\d.]+,([\d.]+)\)/.exec(svg)![1]);
    expect(lastY(a!)).toBeLessThan(10);
    expect(lastY(b!)).toBeGreaterThan(18);
  });
});
