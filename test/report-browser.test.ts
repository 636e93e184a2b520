/**
 * The report as a browser lays it out (headless Chromium, system tier): at a 1,400 px window the
 * per-case decision tables fit their section, so no column is cut off or needs a sideways scroll.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { renderReport } from '../harness/report/render.js';
import { chromium, dumpDom } from './helpers/chromium.js';
import { reportScratch } from './helpers/report.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const scratch = reportScratch('roofbench-report-browser-');

/**
 * Test-only: a copy of the page with a script that writes each decision table's width and its
 * container's into the DOM (the report itself has no scripts, and its CSP forbids them).
 */
const MEASURE = (tables: string) => `<script>(() => {
  const rows = [...document.querySelectorAll('${tables}')].map((t) => [t.scrollWidth, t.parentElement.clientWidth]);
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify({ rows, page: [document.documentElement.scrollWidth, window.innerWidth] });
  document.body.appendChild(pre);
})();</script>`;

function measure(html: string, dir: string, size: string, tables = 'table.acc-decision'): { rows: [number, number][]; page: [number, number] } {
  const file = join(dir, `measure-${size.replace(',', 'x')}.html`);
  writeFileSync(file, html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('</body>', `${MEASURE(tables)}</body>`));
  const r = dumpDom(file, size);
  const m = /<pre id="measured">([^<]*)<\/pre>/.exec(r.dom);
  expect(m, `Chromium ran the measuring script (status ${r.status}): ${r.stderr.slice(-300)}`).not.toBeNull();
  return JSON.parse(m![1]!.replace(/&quot;/g, '"')) as { rows: [number, number][]; page: [number, number] };
}

describe('the per-case decision tables in a 1,400 px window', () => {
  it('fit their container (no sideways scroll), and so does the page', async () => {
    expect(chromium(), 'this test loads the report in headless Chromium: apt-get install -y chromium').not.toBeNull();
    const run = RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, 'winograd-decision.json'), 'utf8')));
    const index = await renderReport(run, scratch());
    const html = readFileSync(index, 'utf8');
    const { rows, page } = measure(html, scratch(), '1400,2000');
    expect(rows.length, 'the fixture has decision tables').toBeGreaterThan(2);
    for (const [table, box] of rows) expect(table, `a decision table ${table} px wide in a ${box} px container`).toBeLessThanOrEqual(box);
    expect(page[0]).toBeLessThanOrEqual(page[1]);
  });
});

describe('a network case in a 1,400 px window', () => {
  it('does not widen the page: its per-layer check sentences wrap, its summary table scrolls in its own box', async () => {
    const run = RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, 'v1-conv-and-model.json'), 'utf8')));
    const index = await renderReport(run, scratch());
    // The per-layer profiles are collapsed <details>: opened, as a reader who clicks them sees them.
    const html = readFileSync(index, 'utf8').replace(/<details class="layer-profile">/g, '<details class="layer-profile" open>');
    const { rows, page } = measure(html, scratch(), '1400,2000', 'table.details-table.layers');
    expect(rows.length, 'the fixture has per-layer profiles').toBeGreaterThan(0);
    for (const [table, box] of rows) expect(table, `a per-layer table ${table} px wide in a ${box} px container`).toBeLessThanOrEqual(box);
    expect(page[0], 'the page is no wider than the window').toBeLessThanOrEqual(page[1]);
  });
});
