/**
 * The analyzer's self-contained HTML report (inline CSS and SVG charts, no
 * scripts, no network), rendered with nunjucks (autoescape on) from an
 * Analysis; and its terminal summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { bytesDecimal, flopCount, pct, sig } from '../report/format.js';
import { reportCss } from '../report/render.js';
import { analyzeRooflineSvg, modelColors, timeSharesSvg } from './charts.js';
import type { Analysis, ModelAnalysis } from './model.js';

export const ANALYZE_TEMPLATES = fileURLToPath(new URL('./templates/', import.meta.url));

const count = (n: number): string => (n >= 1e9 ? `${sig(n / 1e9, 3)} G` : n >= 1e6 ? `${sig(n / 1e6, 3)} M` : n >= 1e3 ? `${sig(n / 1e3, 3)} k` : String(n));
const msText = (ms: number): string => (ms >= 1000 ? `${sig(ms / 1e3, 3)} s` : ms >= 1 ? `${sig(ms, 3)} ms` : `${sig(ms * 1e3, 3)} µs`);

/** The report's title: the models analysed. */
export function analysisTitle(a: Analysis): string {
  const names = a.models.map((m) => m.name);
  return `Roofline analysis: ${names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ')}`;
}

function modelView(m: ModelAnalysis, a: Analysis, color: string) {
  const t = m.totals;
  const right = t.intensity >= a.ridge;
  return {
    name: m.name,
    title: m.title,
    color,
    origin: m.origin,
    source: m.source,
    weightsNote: m.weightsNote,
    input: m.input.join('×'),
    macs: count(t.macs),
    flops: flopCount(t.flops),
    params: count(t.params),
    paramBytes: bytesDecimal(t.paramBytes),
    bytes: bytesDecimal(t.bytes),
    intensity: sig(t.intensity, 3),
    rightOfRidge: right,
    side: `${right ? 'right' : 'left'}, ${sig(t.intensity / a.ridge, 2)}×`,
    predicted: msText(t.predictedMs),
    gflops: sig(t.effectiveGflops, 3),
    memoryPct: pct(t.memoryBoundPct),
    layerCounts: `${t.memoryBoundLayers} / ${t.computeBoundLayers}`,
    layers: m.layers.map((l) => ({
      index: l.index,
      node: l.node,
      op: l.op,
      detail: l.detail,
      flops: l.flops > 0 ? flopCount(l.flops) : '0',
      params: l.params > 0 ? count(l.params) : '',
      bytes: l.bytes > 0 ? bytesDecimal(l.bytes) : '0 (view)',
      intensity: l.flops > 0 ? sig(l.intensity, 3) : '',
      bound: l.bound,
      boundClass: l.bound === 'data movement' ? 'movement' : l.bound,
      attainable: l.flops > 0 ? sig(l.attainableGflops, 3) : '',
      predicted: l.predictedMs > 0 ? msText(l.predictedMs) : '0',
      pct: pct(l.pct),
      cumulative: pct(l.cumulativePct),
    })),
  };
}

/** The report's HTML. */
export async function renderAnalysisHtml(a: Analysis, opts: { generator?: string } = {}): Promise<string> {
  const [roofline, time, css] = await Promise.all([analyzeRooflineSvg(a), timeSharesSvg(a), reportCss()]);
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(ANALYZE_TEMPLATES, { noCache: true }), {
    autoescape: true,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  const colors = modelColors(a);
  try {
    return env.render('analyze.njk', {
      title: analysisTitle(a),
      generator: opts.generator ?? 'roofbench analyze',
      ceilings: a.ceilings,
      peak: sig(a.ceilings.peakGflops, 3),
      bandwidth: sig(a.ceilings.dramGbps, 3),
      ridge: sig(a.ridge, 3),
      bytesPerElement: a.bytesPerElement,
      quick: a.models.some((m) => m.quick),
      models: a.models.map((m, i) => modelView(m, a, colors[i]!)),
      // Built only from escaped text (Vega escapes its text, attachTitles the titles).
      rooflineSvg: new nunjucks.runtime.SafeString(roofline),
      timeSvg: new nunjucks.runtime.SafeString(time),
      css,
    });
  } catch (cause) {
    throw new Error(`analyze: rendering the report failed (templates in ${ANALYZE_TEMPLATES})`, { cause });
  }
}

/** Write outDir/index.html and outDir/analysis.json; returns the HTML path. */
export async function writeAnalysis(a: Analysis, outDir: string, opts: { generator?: string } = {}): Promise<string> {
  const html = await renderAnalysisHtml(a, opts);
  const file = join(outDir, 'index.html');
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(file, html, 'utf8');
    await writeFile(join(outDir, 'analysis.json'), `${JSON.stringify(a, null, 1)}\n`, 'utf8');
  } catch (cause) {
    throw new Error(`analyze: cannot write the report to ${outDir}: check that the directory is writable`, { cause });
  }
  return file;
}

/** The terminal summary: ceilings, one line per model, the costliest layers. */
export function analysisText(a: Analysis, topLayers = 3): string {
  const c = a.ceilings;
  const lines = [
    `ceilings (${c.kind}, ${c.name}): peak ${sig(c.peakGflops, 3)} GFLOP/s, DRAM ${sig(c.dramGbps, 3)} GB/s, ridge ${sig(a.ridge, 3)} FLOP/byte`,
    `  ${c.source}`,
    '',
  ];
  const header = ['model', 'MACs', 'params', 'bytes', 'FLOP/B', 'vs ridge', 'predicted', 'mem-bound'];
  const rows = a.models.map((m) => {
    const t = m.totals;
    return [
      m.name,
      count(t.macs),
      count(t.params),
      bytesDecimal(t.bytes),
      sig(t.intensity, 3),
      t.intensity >= a.ridge ? 'right' : 'left',
      msText(t.predictedMs),
      pct(t.memoryBoundPct),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  lines.push(fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt));
  if (topLayers > 0) {
    lines.push('');
    for (const m of a.models) {
      const top = [...m.layers].sort((p, q) => q.predictedMs - p.predictedMs).slice(0, topLayers);
      lines.push(`${m.name}: ${top.map((l) => `${l.node} ${pct(l.pct)} (${l.bound})`).join(', ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
