/**
 * Server-side SVG rendering of Vega-Lite specs, and the post-processing that
 * gives chart marks a hover label.
 *
 * Vega's SVG renderer writes a mark's `description` encoding as an
 * `aria-label` attribute but never emits the SVG `<title>` element browsers
 * show on hover. So the chart code puts a token (`rbtip:<n>`) in the
 * description, and `attachTitles` replaces each token with the real label:
 * escaped into the aria-label and added as a `<title>` child.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for an XML/HTML text node or a quoted attribute value. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/** The token a datum carries in its description channel, replaced later by its label. */
export function tipToken(index: number): string {
  return `rbtip:${index}`;
}

/** Vega-Lite's messages, prefixed so they can be traced to the report (warnings mean a chart spec bug). */
const chartLogger = {
  level(): number {
    return 2; // warn
  },
  error(...args: readonly unknown[]) {
    console.error('roofbench report chart:', ...args);
    return this;
  },
  warn(...args: readonly unknown[]) {
    console.warn('roofbench report chart:', ...args);
    return this;
  },
  info() {
    return this;
  },
  debug() {
    return this;
  },
};

/**
 * Prefix every id defined in `svg` (and the url(#id) / href="#id" references to
 * it), so several charts inlined in one page cannot resolve each other's clip paths.
 */
export function scopeIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  if (ids.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}${prefix}-${id}${b}`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}-${id})` : m))
    .replace(/(href=")#([^"]+)"/g, (m, a: string, id: string) => (ids.has(id) ? `${a}#${prefix}-${id}"` : m));
}

/** Compile a Vega-Lite spec and render it to an SVG string, headless; ids are scoped by `idPrefix`. */
export async function vegaLiteToSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  let view: vega.View;
  try {
    const vgSpec = compile(spec, { logger: chartLogger }).spec;
    view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  } catch (cause) {
    throw new Error('report chart: Vega-Lite could not compile the chart spec (a bug in harness/report)', { cause });
  }
  try {
    return scopeIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

/**
 * A chart drawn many times with different data (a box plot per case, a sparkline per series):
 * the Vega-Lite spec names its datasets (`data: { name }`) instead of holding values, and is
 * compiled and parsed once; each render fills the datasets of a fresh view and draws it.
 */
export function vegaLiteTemplate(
  spec: TopLevelSpec,
): (datasets: Record<string, object[]>, idPrefix: string, signals?: Record<string, unknown>) => Promise<string> {
  let runtime: ReturnType<typeof vega.parse>;
  try {
    runtime = vega.parse(compile(spec, { logger: chartLogger }).spec);
  } catch (cause) {
    throw new Error('report chart: Vega-Lite could not compile the chart spec (a bug in harness/report)', { cause });
  }
  return async (datasets, idPrefix, signals = {}) => {
    const view = new vega.View(runtime, { renderer: 'none' });
    try {
      for (const [name, values] of Object.entries(datasets)) view.data(name, values);
      // The spec's params (scale domains, a colour) for this render.
      for (const [name, value] of Object.entries(signals)) view.signal(name, value);
      return scopeIds(await view.toSVG(), idPrefix);
    } finally {
      view.finalize();
    }
  };
}

export interface Tip {
  /** Multi-line hover text (lines joined with "\n" in the title, "; " in the aria-label). */
  lines: string[];
  /** Class added to the mark element, so the marks can be found (e.g. by tests or CSS). */
  className: string;
}

/**
 * Replace every `aria-label="rbtip:<n>"` in `svg` by the escaped label of
 * tips[n] and give the element a `<title>` child. Throws if a tip has no mark
 * or a mark has no tip: a chart point without its hover label is a bug.
 */
export function attachTitles(svg: string, tips: readonly Tip[]): string {
  const seen = new Set<number>();
  const re = /<([a-z]+)\b([^<>]*?)\saria-label="rbtip:(\d+)"([^<>]*?)(\/?)>/g;
  const out = svg.replace(re, (_m, tag: string, before: string, idx: string, after: string, selfClose: string) => {
    const i = Number(idx);
    const tip = tips[i];
    if (!tip) throw new Error(`report chart: SVG mark refers to tip ${i}, but only ${tips.length} tips exist`);
    if (seen.has(i)) throw new Error(`report chart: tip ${i} appears on more than one SVG mark`);
    seen.add(i);
    const label = escapeXml(tip.lines.join('; '));
    const title = escapeXml(tip.lines.join('\n'));
    let attrs = `${before} aria-label="${label}"${after}`;
    const cls = escapeXml(tip.className);
    if (/\sclass="/.test(attrs)) attrs = attrs.replace(/\sclass="([^"]*)"/, (_c, v: string) => ` class="${v} ${cls}"`);
    else attrs += ` class="${cls}"`;
    const open = `<${tag}${attrs}>`;
    return selfClose ? `${open}<title>${title}</title></${tag}>` : `${open}<title>${title}</title>`;
  });
  if (seen.size !== tips.length) {
    const missing = tips.map((_, i) => i).filter((i) => !seen.has(i));
    throw new Error(
      `report chart: ${missing.length} of ${tips.length} chart marks were not found in the SVG (tips ${missing.slice(0, 5).join(', ')}); ` +
        'a point with a non-positive value on a log axis is dropped by Vega: filter it before charting',
    );
  }
  return out;
}

/** Common look for all report charts, matching the page's typography. */
export const CHART_CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  background: 'white',
  view: { stroke: '#c9ced6' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 600,
    titleColor: '#222',
    labelColor: '#444',
    gridColor: '#eceef2',
    domainColor: '#888',
    tickColor: '#888',
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, symbolSize: 80 },
} as const;
