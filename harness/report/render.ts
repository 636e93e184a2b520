/**
 * The HTML report of one run: a single self-contained index.html (inline CSS,
 * inline server-rendered SVG charts, no scripts, no network), rendered with
 * nunjucks (autoescape on) from the view model in model.ts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { isTimed, type RunResults } from '../../core/contracts.js';
import { bandwidthSweepSvg, INT8_ROOF_COLOUR, NATIVE_ROOF_COLOUR, rooflineSvg } from './charts.js';
import { buildView } from './model.js';
import { accuracyChartSvgs } from './accuracy.js';
import { runFacts } from './facts.js';
import { errorGrowthSvg } from './network.js';
import { samplesSvg } from './samples.js';
import { sparseSection } from './sparse.js';
import { graphPairSections } from './graph-pairs.js';
import { quantizationDecision } from './quantization.js';
import { quantizedNetworksView } from './quantized-networks.js';
import { scalingView, threadedRoofsBelowOne, threadsSummary } from './scaling.js';
import { sig } from './format.js';

export { rooflineSvg, bandwidthSweepSvg } from './charts.js';
export { buildView } from './model.js';

/** Templates and the stylesheet live next to this module. */
export const TEMPLATES_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

/** The report's nunjucks environment: templates next to this module, every value autoescaped. */
export function environment(): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(TEMPLATES_DIR, { noCache: true }), {
    autoescape: true,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  return env;
}

/** The stylesheet inlined into every report page. */
export async function reportCss(): Promise<nunjucks.runtime.SafeString> {
  return new nunjucks.runtime.SafeString(await readFile(join(TEMPLATES_DIR, 'report.css'), 'utf8'));
}

/** Render the report of `run` to a string (index.html's content). */
export async function renderReportHtml(run: RunResults): Promise<string> {
  const view = buildView(run);
  const [roofline, sweep, css, accuracySvgs, samples, growth, sparse, graphPairs] = await Promise.all([
    rooflineSvg(run),
    bandwidthSweepSvg(run),
    reportCss(),
    view.accuracy ? accuracyChartSvgs(view.accuracy) : Promise.resolve([]),
    caseSamplesSvgs(run),
    errorGrowthSvgs(run),
    sparseSection(run),
    graphPairSections(run),
  ]);
  try {
    return environment().render('report.njk', {
      ...view,
      // Built only from escaped text (Vega escapes its text, attachTitles escapes the titles).
      rooflineSvg: new nunjucks.runtime.SafeString(roofline),
      sweepSvg: sweep === null ? null : new nunjucks.runtime.SafeString(sweep),
      // One per view.accuracy.charts entry, same order (Vega escapes its text, attachTitles the titles).
      accuracySvgs: accuracySvgs.map((s) => new nunjucks.runtime.SafeString(s)),
      // Case anchor -> the raw samples chart (Vega escapes its text, attachTitles the titles) and its notes.
      samples,
      // Case anchor -> a network's error-growth chart (Vega escapes its text).
      growth,
      // The sparse suite's view (templates/sparse.njk; its SVGs escaped by Vega and attachTitles).
      sparse: sparse.sparse,
      sparseSvgs: sparse.sparseSvgs.map((s) => ({
        speedup: new nunjucks.runtime.SafeString(s.speedup),
        roofline: new nunjucks.runtime.SafeString(s.roofline),
      })),
      // The fusion and tiling suites' views (templates/graph-pairs.njk; SVGs marked safe in graph-pairs.ts: Vega and attachTitles escape).
      graphPairs,
      css,
      quantization: quantizationDecision(run),
      quantizedNetworks: quantizedNetworksView(run),
      scaling: scalingView(run),
      threads: threadsSummary(run),
      roofsBelowOne: threadedRoofsBelowOne(run).map(
        (t) => `${t.threads} threads measured a peak of ${sig(t.peak, 3)} GFLOP/s, below the ${sig(t.one, 3)} of one thread`,
      ),
      nativePeers: [...new Set(run.results.filter((r) => 'timing' in r && (r.info?.code === 'native' || r.external !== undefined)).map((r) => r.variant))],
      nativeRoofColour: NATIVE_ROOF_COLOUR,
      int8RoofColour: INT8_ROOF_COLOUR,
      generator: `roofbench ${run.harness.version}`,
    });
  } catch (cause) {
    throw new Error(`report: rendering the template for run ${run.runId} failed (templates in ${TEMPLATES_DIR})`, { cause });
  }
}

/** Each case's raw-samples chart, by the case's anchor (case-<n>), for the cases with a timed result. */
async function caseSamplesSvgs(run: RunResults): Promise<Record<string, { svg: nunjucks.runtime.SafeString; notes: string[] }>> {
  const { numbers } = runFacts(run);
  const out: Record<string, { svg: nunjucks.runtime.SafeString; notes: string[] }> = {};
  for (const [caseId, no] of numbers) {
    const chart = await samplesSvg(
      run.results.filter((r) => r.caseId === caseId),
      `rb-samples-${no}`,
    );
    if (chart) out[`case-${no}`] = { svg: new nunjucks.runtime.SafeString(chart.svg), notes: chart.notes };
  }
  return out;
}

/** The error-growth chart of each case with a per-layer view (a graph run layer by layer), by the case's anchor (case-<n>). */
async function errorGrowthSvgs(run: RunResults): Promise<Record<string, nunjucks.runtime.SafeString>> {
  const out: Record<string, nunjucks.runtime.SafeString> = {};
  for (const [caseId, no] of runFacts(run).numbers) {
    if (!run.results.some((r) => r.caseId === caseId && isTimed(r) && (r.model?.layers.length ?? 0) > 0)) continue;
    const svg = await errorGrowthSvg(
      run.results.filter((r) => r.caseId === caseId),
      `rb-growth-${no}`,
    );
    if (svg) out[`case-${no}`] = new nunjucks.runtime.SafeString(svg);
  }
  return out;
}

/** Write outDir/index.html for `run` (creating outDir) and return its path. */
export async function renderReport(run: RunResults, outDir: string): Promise<string> {
  const html = await renderReportHtml(run);
  const file = join(outDir, 'index.html');
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(file, html, 'utf8');
  } catch (cause) {
    throw new Error(`report: cannot write ${file}: check that the directory is writable`, { cause });
  }
  return file;
}
