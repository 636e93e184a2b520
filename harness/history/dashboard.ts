/**
 * The nightly dashboard: a static, self-contained site built from the history
 * store (reports/dashboard/ by default):
 *
 *   index.html            every device's last run and its age (a device whose
 *                         last run is incomplete is shown as unreachable; an
 *                         interrupted one is shown as such),
 *                         counts of regressed / improved / unchanged / noisy /
 *                         never-compared series, the current regressions
 *                         (series, run and commit range, magnitude with CI,
 *                         p-value), recent change points and annotations;
 *   device-<name>.html    per device: its series grouped by case, regressions
 *                         and improvements first, each with sparklines (median
 *                         time with CI band and change points, % of roofline);
 *                         identity, recent runs, health over time (temperature,
 *                         throttling); and one chart per series (median with CI
 *                         band, change points, annotations), the steady ones
 *                         folded away.
 *
 * Inline CSS, inline SVG charts rendered here, no script, no network: pages
 * open from the file system and read the same with JavaScript off. Every value
 * goes through nunjucks autoescaping. The overview reads the per-series
 * summary table; each device page makes one indexed query for its points.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { ROOT } from './store.js';
import { IsoTime } from '../../core/contracts.js';
import { TEMPLATES_DIR as REPORT_TEMPLATES, reportCss } from '../report/render.js';
import * as f from '../report/format.js';
import { formatP, SERIES_STATES } from './compare.js';
import { age, changepointText, healthChartSvg, seriesChartSvg, sparklineSvg, type TimeDomain } from './charts.js';
import { variantColour } from '../report/colours.js';
import { IDENTITY_FIELD_NAMES, shortHash, type DeviceIdentityFields } from './identity.js';
import type { HistoryStore, PointRow, RunRow, SeriesRow } from './store.js';

export const HISTORY_TEMPLATES = fileURLToPath(new URL('./templates/', import.meta.url));
export const DEFAULT_DASHBOARD_DIR = join(ROOT, 'reports', 'dashboard');

export interface DashboardOptions {
  outDir?: string;
  /** "Now" for ages (default: the current time). */
  now?: Date;
  /** Runs listed in a device page's run table (default 30). */
  recentRuns?: number;
}

export interface DashboardOutput {
  dir: string;
  index: string;
  devicePages: string[];
  /** Device pages that could not be rendered (an error page stands in their place; the rest were rendered). */
  failures: { device: string; page: string; error: string }[];
  /** Stored runs left out because a timestamp is not an ISO date-time, one message each. */
  invalidRuns: string[];
  ms: number;
}

/** File name of a device's page: the name where it is file-safe, with a hash suffix otherwise. */
export function devicePageName(device: string): string {
  const safe = device.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  return `device-${safe === device ? safe : `${safe}-${shortHash(device).slice(0, 8)}`}.html`;
}

/** Anchor of a series on its device page. */
export function seriesAnchor(key: string): string {
  return `s-${key}`;
}

const pctChange = (r: number | null) => (r === null || !Number.isFinite(r) ? f.DASH : `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`);
const shortSha = (s: string | null) => (s ? s.slice(0, 10) : null);

function environment(): nunjucks.Environment {
  return new nunjucks.Environment(new nunjucks.FileSystemLoader([HISTORY_TEMPLATES, REPORT_TEMPLATES], { noCache: true }), {
    autoescape: true,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
}

interface StateCounts {
  regressed: number;
  improved: number;
  unchanged: number;
  noisy: number;
  never: number;
}

function countStates(series: SeriesRow[]): StateCounts {
  const c: StateCounts = { regressed: 0, improved: 0, unchanged: 0, noisy: 0, never: 0 };
  for (const s of series) {
    if (s.cmp_state === 'regressed' || s.cmp_state === 'improved' || s.cmp_state === 'unchanged' || s.cmp_state === 'noisy') c[s.cmp_state]++;
    else c.never++;
  }
  return c;
}

function identitySummary(fields: DeviceIdentityFields | undefined): string {
  if (!fields) return 'not probed';
  return `${fields.cpu} (${fields.arch}, ${fields.cores} cores, ${f.bytesBinary(fields.memoryMiB * 1024 * 1024)}), ${fields.os}, Node ${fields.node}${fields.emulated ? ', emulated' : ''}`;
}

interface DeviceData {
  name: string;
  page: string;
  /** The device's runs with valid timestamps, newest first. */
  runs: RunRow[];
  /** Runs left out: a timestamp that is not an ISO date-time (one message each, naming the run). */
  invalid: string[];
  runById: Map<number, RunRow>;
  last: RunRow | undefined;
  currentIdentity: string | null;
  current: SeriesRow[];
  retired: SeriesRow[];
}

function commitOf(r: RunRow | undefined): string | null {
  return r ? (r.commit_sha ?? r.harness_commit) : null;
}

const validTime = (t: string | null) => t === null || IsoTime.safeParse(t).success;

function gather(store: HistoryStore, device: string): DeviceData {
  const all = store.runs({ device });
  // A run stored with a broken timestamp (an old import, a hand-edited file) is named and left out, not allowed to break every chart.
  const runs = all.filter((r) => validTime(r.started_at) && validTime(r.finished_at));
  const invalid = all
    .filter((r) => !runs.includes(r))
    .map((r) => {
      const [field, value] = validTime(r.started_at) ? ['finished_at', r.finished_at] : ['started_at', r.started_at];
      return `device ${device}, run ${r.run_id} (row #${r.id}): ${field} ${JSON.stringify(value)} is not an ISO date-time; the run is left out of the dashboard (fix it or export and re-import it in ${store.path})`;
    });
  const last = runs[0];
  const currentIdentity = runs.find((r) => r.identity_hash !== null)?.identity_hash ?? null;
  const series = store.series(device);
  return {
    name: device,
    page: devicePageName(device),
    runs,
    invalid,
    runById: new Map(runs.map((r) => [r.id, r])),
    last,
    currentIdentity,
    current: series.filter((s) => s.identity_hash === currentIdentity),
    retired: series.filter((s) => s.identity_hash !== currentIdentity),
  };
}

function runLabel(r: RunRow | undefined): string {
  return r ? r.run_id : '?';
}

function regressionRow(d: DeviceData, s: SeriesRow) {
  const prev = s.prev_run_row !== null ? d.runById.get(s.prev_run_row) : undefined;
  const last = s.last_run_row !== null ? d.runById.get(s.last_run_row) : undefined;
  const c0 = shortSha(commitOf(prev));
  const c1 = shortSha(commitOf(last));
  return {
    device: d.name,
    href: `${d.page}#${seriesAnchor(s.key)}`,
    series: s.label,
    runs: `${runLabel(prev)} → ${runLabel(last)}`,
    commits: c0 && c1 ? (c0 === c1 ? `${c0} (same commit)` : `${c0}..${c1}`) : f.DASH,
    magnitude: pctChange(s.cmp_ratio),
    ci: s.cmp_ci_low !== null && s.cmp_ci_high !== null ? `${pctChange(s.cmp_ci_low)} .. ${pctChange(s.cmp_ci_high)}` : f.DASH,
    p: formatP(s.cmp_p),
    reason: s.cmp_reason ?? '',
    accuracy: (s.cmp_reason ?? '').startsWith('accuracy'),
  };
}

async function writePage(file: string, html: string): Promise<void> {
  try {
    await writeFile(file, html, 'utf8');
  } catch (cause) {
    throw new Error(`dashboard: cannot write ${file}: check that the directory is writable`, { cause });
  }
}

/** Build the dashboard from `store` into opts.outDir (default reports/dashboard). */
export async function renderDashboard(store: HistoryStore, opts: DashboardOptions = {}): Promise<DashboardOutput> {
  const t0 = performance.now();
  const outDir = resolve(opts.outDir ?? DEFAULT_DASHBOARD_DIR);
  const now = opts.now ?? new Date();
  store.refreshDirty();
  await mkdir(outDir, { recursive: true });
  const env = environment();
  const css = new nunjucks.runtime.SafeString(`${(await reportCss()).toString()}\n${await readFile(join(HISTORY_TEMPLATES, 'dashboard.css'), 'utf8')}`);
  const counts = store.counts();
  const generated = f.timestamp(now.toISOString());
  const generator = 'roofbench history dashboard';
  const devices = store.devices().map((d) => gather(store, d));

  // ---- index ----
  const overview = devices.map((d) => {
    const last = d.last;
    const lastProbed = d.runs.find((r) => r.identity_hash !== null);
    let ident: ReturnType<HistoryStore['identity']>;
    let identityError: string | null = null;
    try {
      ident = d.currentIdentity ? store.identity(d.currentIdentity) : undefined;
    } catch (e) {
      // A damaged identity row costs its device's identity column, not the dashboard.
      identityError = `the stored identity ${d.currentIdentity} cannot be read: ${(e as Error).message}`;
    }
    const prevIdentity = d.runs.find((r) => r.identity_hash !== null && r.identity_hash !== d.currentIdentity);
    const c = countStates(d.current);
    return {
      name: d.name,
      href: d.page,
      runs: d.runs.length,
      lastRunId: last?.run_id ?? f.DASH,
      lastStarted: f.timestamp(last?.started_at),
      age: age(last?.finished_at ?? last?.started_at ?? null, now),
      status: last?.status ?? 'none',
      statusDetail: last?.status_detail ?? '',
      // A run the user interrupted says nothing about whether the device is reachable.
      unreachable: last !== undefined && last.status !== 'complete' && last.status !== 'interrupted',
      lastGood: lastProbed && lastProbed !== last ? `${lastProbed.run_id} (${age(lastProbed.started_at, now)} ago)` : null,
      commit: shortSha(commitOf(last)) ?? f.DASH,
      identity: identityError ?? identitySummary(ident?.fields),
      identityChangedAt: prevIdentity && ident ? f.timestamp(ident.first_seen) : null,
      counts: c,
      series: d.current.length,
    };
  });
  const regressions = devices.flatMap((d) => d.current.filter((s) => s.cmp_state === 'regressed').map((s) => regressionRow(d, s)));
  const improvements = devices.flatMap((d) => d.current.filter((s) => s.cmp_state === 'improved').map((s) => regressionRow(d, s)));
  const allCps = devices.flatMap((d) =>
    store.changepoints(d.name).map((c) => {
      const from = d.runById.get(c.prev_run_row);
      const to = d.runById.get(c.run_row);
      return {
        device: d.name,
        href: `${d.page}#${seriesAnchor(c.series_key)}`,
        series: c.label,
        at: to?.started_at ?? '',
        when: f.timestamp(to?.started_at),
        change: `${c.rel_change > 0 ? '+' : ''}${(c.rel_change * 100).toFixed(1)}%`,
        slower: c.rel_change > 0,
        levels: `${f.sig(c.before_median, 4)} → ${f.sig(c.after_median, 4)} ms`,
        range: commitOf(from) && commitOf(to) ? `${shortSha(commitOf(from))}..${shortSha(commitOf(to))}` : `${runLabel(from)}..${runLabel(to)}`,
      };
    }),
  );
  allCps.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  const annotations = store.annotations().map((a) => ({
    device: a.device,
    href: devicePageName(a.device),
    at: f.timestamp(a.at),
    message: a.message,
    scope: a.series_key ? `series ${a.series_key}` : 'whole device',
  }));
  const totals = overview.reduce(
    (acc, o) => ({
      regressed: acc.regressed + o.counts.regressed,
      improved: acc.improved + o.counts.improved,
      unchanged: acc.unchanged + o.counts.unchanged,
      noisy: acc.noisy + o.counts.noisy,
      never: acc.never + o.counts.never,
    }),
    { regressed: 0, improved: 0, unchanged: 0, noisy: 0, never: 0 },
  );
  // ---- one page per device ----
  const devicePages: string[] = [];
  const failures: DashboardOutput['failures'] = [];
  for (const [di, d] of devices.entries()) {
    const file = join(outDir, d.page);
    try {
      await writePage(file, await devicePage(di, d));
    } catch (e) {
      // One page that cannot be rendered names itself; the other pages and the index still are.
      let msg = (e as Error).message;
      for (let c = (e as Error).cause; c instanceof Error; c = c.cause) msg += `: ${c.message}`;
      failures.push({ device: d.name, page: file, error: msg });
      await writePage(file, env.renderString(ERROR_PAGE, { title: `roofbench dashboard: ${d.name}`, device: d.name, error: msg, invalid: d.invalid }));
    }
    devicePages.push(file);
  }
  const indexHtml = env.render('dashboard.njk', {
    title: `roofbench dashboard: ${regressions.length} regression${regressions.length === 1 ? '' : 's'}`,
    css,
    generator,
    generated,
    historyPath: store.path,
    counts,
    totals,
    unreachable: overview.filter((o) => o.unreachable).length,
    overview,
    regressions,
    improvements,
    changepoints: allCps.slice(0, 50),
    moreChangepoints: Math.max(0, allCps.length - 50),
    annotations,
    failures,
    invalidRuns: devices.flatMap((d) => d.invalid),
    settings: { threshold: `${(store.compareOptions.threshold * 100).toFixed(1)}%`, alpha: String(store.compareOptions.alpha) },
  });
  const index = join(outDir, 'index.html');
  await writePage(index, indexHtml);

  return { dir: outDir, index, devicePages, failures, invalidRuns: devices.flatMap((d) => d.invalid), ms: performance.now() - t0 };

  async function devicePage(di: number, d: DeviceData): Promise<string> {
    const points = store.points(d.name).filter((p) => d.runById.has(p.run_row));
    const bySeries = new Map<string, PointRow[]>();
    for (const p of points) {
      const list = bySeries.get(p.series_key);
      if (list) list.push(p);
      else bySeries.set(p.series_key, [p]);
    }
    const domain = timeDomain(
      d.runs.map((r) => r.started_at),
      now,
    );
    // A series chart spans its identity's runs (series of one identity share the axis).
    const identityDomains = new Map<string, TimeDomain>();
    const domainOf = (hash: string) => {
      let dom = identityDomains.get(hash);
      if (!dom) {
        dom = timeDomain(
          d.runs.filter((r) => r.identity_hash === hash).map((r) => r.started_at),
          now,
        );
        identityDomains.set(hash, dom);
      }
      return dom;
    };
    const annotationsOf = store.annotations(d.name);
    const cpsBySeries = new Map<string, ReturnType<HistoryStore['changepoints']>>();
    for (const c of store.changepoints(d.name)) cpsBySeries.set(c.series_key, [...(cpsBySeries.get(c.series_key) ?? []), c]);
    const commitOfRow = (row: number) => commitOf(d.runById.get(row));
    const seriesView = async (s: SeriesRow, i: number, retired: boolean) => {
      const pts = bySeries.get(s.key) ?? [];
      const cps = (cpsBySeries.get(s.key) ?? []).map((c) => {
        const from = d.runById.get(c.prev_run_row);
        const to = d.runById.get(c.run_row);
        return {
          idx: c.idx,
          relChange: c.rel_change,
          before: c.before_median,
          after: c.after_median,
          text: changepointText(
            { relChange: c.rel_change, before: c.before_median, after: c.after_median },
            { runId: runLabel(from), commit: commitOf(from) },
            { runId: runLabel(to), commit: commitOf(to) },
          ),
        };
      });
      const anns = annotationsOf.filter((a) => a.series_key === null || a.series_key === s.key);
      const prefix = `d${di}${retired ? 'r' : 's'}${i}`;
      const svg =
        pts.length > 0
          ? new nunjucks.runtime.SafeString(
              await seriesChartSvg(
                {
                  points: pts,
                  changepoints: cps.filter((c) => c.idx > 0 && c.idx < pts.length),
                  annotations: anns,
                  domain: domainOf(s.identity_hash),
                  commitOf: commitOfRow,
                },
                prefix,
              ),
            )
          : null;
      const lastRun = s.last_run_row !== null ? d.runById.get(s.last_run_row) : undefined;
      const colour = variantColour(s.variant);
      const spark =
        pts.length > 0
          ? await sparklineSvg(
              pts.map((p) => ({ t: p.started_at, value: p.median, lo: p.ci_low, hi: p.ci_high })),
              {
                domain: domainOf(s.identity_hash),
                colour,
                idPrefix: `${prefix}sp`,
                markers: cps.filter((c) => c.idx > 0 && c.idx < pts.length).map((c) => pts[c.idx]!.started_at),
                title: [
                  `${s.label}: median time per run with its 99% CI`,
                  `${pts.length} run${pts.length === 1 ? '' : 's'}, ${f.sig(Math.min(...pts.map((p) => p.median)), 4)}–${f.sig(Math.max(...pts.map((p) => p.median)), 4)} ms; last ${f.sig(pts.at(-1)!.median, 4)} ms`,
                  ...(cps.length ? [`${cps.length} change point${cps.length === 1 ? '' : 's'} (red)`] : []),
                ],
              },
            )
          : null;
      const pctPts = pts.filter((p) => p.pct_measured !== null);
      const pctSpark =
        pctPts.length > 1
          ? await sparklineSvg(
              pctPts.map((p) => ({ t: p.started_at, value: p.pct_measured ?? NaN })),
              {
                domain: domainOf(s.identity_hash),
                colour: '#5b6270',
                idPrefix: `${prefix}pc`,
                width: 90,
                zero: true,
                title: [
                  `${s.label}: % of the measured roofline per run`,
                  `${f.pct(Math.min(...pctPts.map((p) => p.pct_measured ?? NaN)))}–${f.pct(Math.max(...pctPts.map((p) => p.pct_measured ?? NaN)))}`,
                ],
              },
            )
          : null;
      return {
        caseId: s.case_id,
        variant: s.variant,
        colour,
        rank: stateRank(s.cmp_state),
        sparkSvg: spark ? new nunjucks.runtime.SafeString(spark) : null,
        pctSparkSvg: pctSpark ? new nunjucks.runtime.SafeString(pctSpark) : null,
        anchor: seriesAnchor(s.key),
        key: s.key,
        label: s.label,
        state: s.cmp_state ?? 'new',
        stateLabel: s.cmp_state === 'new' || s.cmp_state === null ? 'never compared' : s.cmp_state,
        reason: s.cmp_reason ?? '',
        lastState: s.last_state ?? f.DASH,
        lastMedian: s.last_median !== null ? `${f.sig(s.last_median, 4)} ms` : f.DASH,
        lastCi: s.last_ci_low !== null && s.last_ci_high !== null ? `${f.sig(s.last_ci_low, 4)}..${f.sig(s.last_ci_high, 4)}` : f.DASH,
        change: pctChange(s.cmp_ratio),
        ci: s.cmp_ci_low !== null && s.cmp_ci_high !== null ? `${pctChange(s.cmp_ci_low)}..${pctChange(s.cmp_ci_high)}` : f.DASH,
        p: formatP(s.cmp_p),
        pct: s.last_pct_measured !== null ? f.pct(s.last_pct_measured) : f.DASH,
        relL2: s.last_rel_l2 !== null ? f.sci(s.last_rel_l2, 1) : f.DASH,
        points: s.n_points,
        changepoints: cps.map((c) => c.text),
        stale: d.last !== undefined && lastRun !== undefined && lastRun.id !== d.runs.find((r) => r.identity_hash !== null)?.id,
        lastSeen: lastRun ? lastRun.run_id : f.DASH,
        svg,
      };
    };
    const current = [];
    for (const [i, s] of d.current.entries()) current.push(await seriesView(s, i, false));
    const retired = [];
    for (const [i, s] of d.retired.entries()) retired.push(await seriesView(s, i, true));
    // Regressions and improvements first; series grouped by case, cases ordered by their most urgent series.
    const byUrgency = <T extends { rank: number; caseId: string; variant: string }>(a: T, b: T) =>
      a.rank - b.rank || a.caseId.localeCompare(b.caseId) || a.variant.localeCompare(b.variant);
    current.sort(byUrgency);
    const caseGroups: { caseId: string; rank: number; series: typeof current }[] = [];
    for (const v of current) {
      const g = caseGroups.find((x) => x.caseId === v.caseId);
      if (g) g.series.push(v);
      else caseGroups.push({ caseId: v.caseId, rank: v.rank, series: [v] });
    }
    caseGroups.sort((a, b) => a.rank - b.rank || a.caseId.localeCompare(b.caseId));
    const labelOf = new Map([...d.current, ...d.retired].map((s) => [s.key, s.label]));
    const health = store
      .health(d.name)
      .filter((h) => d.runById.has(h.run_row))
      .map((h) => ({ at: h.at, phase: h.phase, temperatureC: h.temperature_c, throttled: h.throttled, runId: h.run_id }));
    const healthRaw = await healthChartSvg(health, domain, `d${di}health`);
    const healthSvg = healthRaw ? new nunjucks.runtime.SafeString(healthRaw) : null;
    const throttledRuns = new Set(
      health.filter((h) => h.throttled !== null && !/^(0x0+|0|)$/i.test(h.throttled.trim().replace(/^throttled=/, ''))).map((h) => h.runId),
    ).size;
    const stateCounts = runStateCounts(store, d.name);
    const ident = d.currentIdentity ? store.identity(d.currentIdentity) : undefined;
    const identities = (
      store.db.prepare('SELECT hash, first_seen, fields_json FROM identities WHERE device = ? ORDER BY first_seen DESC').all(d.name) as {
        hash: string;
        first_seen: string;
        fields_json: string;
      }[]
    ).map((i) => ({
      hash: i.hash,
      since: f.timestamp(i.first_seen),
      summary: identitySummary(JSON.parse(i.fields_json) as DeviceIdentityFields),
      current: i.hash === d.currentIdentity,
    }));
    return env.render('device.njk', {
      invalidRuns: d.invalid,
      title: `roofbench dashboard: ${d.name}`,
      css,
      generator,
      generated,
      device: overview[di]!,
      identityRows: ident ? identityRows(ident.fields) : [],
      identities,
      runs: d.runs.slice(0, opts.recentRuns ?? 30).map((r) => ({
        runId: r.run_id,
        started: f.timestamp(r.started_at),
        status: r.status,
        statusDetail: r.status_detail ?? '',
        commit: shortSha(commitOf(r)) ?? f.DASH,
        source: r.source,
        counts: stateCounts.get(r.id) ?? [],
      })),
      moreRuns: Math.max(0, d.runs.length - (opts.recentRuns ?? 30)),
      current,
      changed: current.filter((v) => v.rank <= 1 || v.changepoints.length > 0),
      steady: current.filter((v) => !(v.rank <= 1 || v.changepoints.length > 0)),
      caseGroups,
      retired,
      healthSvg,
      throttledRuns,
      annotations: annotationsOf.map((a) => ({
        at: f.timestamp(a.at),
        message: a.message,
        scope: a.series_key ? `series ${labelOf.get(a.series_key) ?? a.series_key}` : 'whole device',
      })),
      states: SERIES_STATES,
    });
  }
}

/** Order of urgency of a series' last comparison: regressions, then improvements, noisy, new, unchanged. */
function stateRank(state: string | null): number {
  const i = ['regressed', 'improved', 'noisy', 'new', 'gone', 'unchanged'].indexOf(state ?? 'new');
  return i < 0 ? 3 : i;
}

/** The identity as the device page shows it: human names and values ("memory 896 MiB", "profile none"). */
export function identityRows(fields: DeviceIdentityFields): { key: string; value: string; mono?: boolean }[] {
  const value = (k: keyof DeviceIdentityFields, v: unknown): string => {
    if (k === 'memoryMiB') return f.bytesBinary(Number(v) * 1024 * 1024);
    if (k === 'profile') return v === null || v === '' ? 'none (no datasheet ceilings)' : String(v);
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    return String(v);
  };
  const names: Partial<Record<keyof DeviceIdentityFields, string>> = {
    ...IDENTITY_FIELD_NAMES,
    memoryMiB: 'memory',
    wasmSimd: 'WebAssembly SIMD',
    v8: 'V8',
    node: 'Node.js',
    emulated: 'emulated (qemu)',
  };
  return (Object.keys(fields) as (keyof DeviceIdentityFields)[]).map((k) => ({
    key: names[k] ?? k,
    value: value(k, fields[k]),
    mono: k === 'node' || k === 'v8',
  }));
}

/** What stands in for a device page that could not be rendered (autoescaped like every page). */
const ERROR_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ device }}: this page could not be rendered</h1>
<p role="alert">{{ error }}</p>
{% for r in invalid %}<p>{{ r }}</p>{% endfor %}
<p><a href="index.html">Back to the dashboard</a></p></body></html>
`;

/** The span of `times` (ISO), widened to a day when it is a single instant. */
function timeDomain(times: string[], now: Date): TimeDomain {
  const sorted = [...times].sort();
  const start = sorted[0] ?? now.toISOString();
  const end = sorted[sorted.length - 1] ?? now.toISOString();
  if (start !== end) return { start, end };
  const t = new Date(start).getTime();
  return { start: new Date(t - 12 * 3600_000).toISOString(), end: new Date(t + 12 * 3600_000).toISOString() };
}

function runStateCounts(store: HistoryStore, device: string): Map<number, { state: string; count: number }[]> {
  const rows = store.db
    .prepare('SELECT r.run_row, r.state, COUNT(*) AS n FROM results r JOIN runs ru ON ru.id = r.run_row WHERE ru.device = ? GROUP BY r.run_row, r.state')
    .all(device) as { run_row: number; state: string; n: number }[];
  const out = new Map<number, { state: string; count: number }[]>();
  for (const r of rows) out.set(r.run_row, [...(out.get(r.run_row) ?? []), { state: r.state, count: r.n }]);
  for (const list of out.values()) list.sort((a, b) => ORDER.indexOf(a.state) - ORDER.indexOf(b.state));
  return out;
}

const ORDER = ['passed', 'inaccurate', 'errored', 'skipped'];
