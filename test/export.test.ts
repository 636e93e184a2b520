/** CSV and Markdown export of a run (npm run report -- DIR --format csv|md): quoting and escaping. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { CSV_COLUMNS, exportRows, runToCsv, runToMarkdown } from '../harness/report/export.js';
import { mdTable, mdText } from '../harness/report/markdown.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const fixture = (name: string) => RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));

/** Every control character the escaping must neutralise, and text that means something to CSV, Markdown, HTML or a spreadsheet. */
const CONTROLS = [
  ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)),
  ...Array.from({ length: 33 }, (_, i) => String.fromCharCode(0x7f + i)),
  '\u200b',
  '\u200e',
  '\u2028',
  '\u2029',
  '\u202e',
  '\u2066',
  '\u2069',
  '\ufeff',
];
const NASTY = `=HYPERLINK("http://x","a"),b|c\r\nd <img src=x> @team [l](http://y) *e* \`f\` #g ${CONTROLS.join('')}`;

/** The fixture with hostile text in every free-text field. */
function hostileRun(): RunResults {
  const run = fixture('rpi3-complete');
  run.runId = `run ${NASTY}`;
  run.device.name = `dev ${NASTY}`;
  const caseId = run.results[0]!.caseId;
  for (const r of run.results) {
    if (r.caseId !== caseId) continue;
    r.caseId = `case ${NASTY}`;
    if (r.state === 'skipped') r.reason = `reason ${NASTY}`;
    if (r.state === 'errored') r.error = `error ${NASTY}`;
  }
  for (const c of run.cases) if (c.id === caseId) c.id = `case ${NASTY}`;
  run.results.push({ ...run.results.find((r) => r.state === 'skipped')!, variant: `-cmd|' /c calc ${NASTY}` } as never);
  return run;
}

/** What a spreadsheet-safe cell must look like after parsing: the text, with a ' before a formula-like start. */
const safeCell = (v: unknown) => (v === null ? '' : typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v));

/** Parse `csv` and check it holds exactly `rows` (header first); throws on any difference. */
function expectRoundTrip(csv: string, run: RunResults): void {
  const parsed = parse(csv, { relax_column_count: false }) as string[][];
  expect(parsed[0]).toEqual([...CSV_COLUMNS]);
  const rows = exportRows(run);
  expect(parsed.length - 1).toBe(rows.length);
  rows.forEach((row, i) => expect(parsed[i + 1]).toEqual(row.map(safeCell)));
}

describe('CSV export', () => {
  it('round-trips every cell through a CSV parser, commas, quotes, line breaks and control characters included', () => {
    const run = hostileRun();
    expectRoundTrip(runToCsv(run), run);
  });

  it('keeps numbers as numbers (a negative SQNR is not formula-escaped) and text that starts like a formula inert', () => {
    const run = hostileRun();
    const rows = parse(runToCsv(run)) as string[][];
    const col = (name: string) => CSV_COLUMNS.indexOf(name as never);
    const variants = rows.slice(1).map((r) => r[col('variant')]);
    expect(variants.some((v) => v?.startsWith(`'-cmd|`))).toBe(true);
    for (const r of rows.slice(1)) {
      const m = r[col('median_ms')];
      if (m) expect(Number(m)).not.toBeNaN();
    }
    const timed = run.results.find((r) => r.state === 'passed')!;
    if (timed.state === 'passed') timed.accuracy.sqnrDb = -3.5;
    expect(runToCsv(run)).toContain(',-3.5,');
  });

  it("a native kernel's share of its native roof has its own column", () => {
    const run = hostileRun();
    const timed = run.results.find((r) => r.state === 'passed')!;
    if (timed.state !== 'passed') throw new Error('no passed result');
    timed.perf.pctNative = 61.5;
    const rows = parse(runToCsv(run)) as string[][];
    const col = CSV_COLUMNS.indexOf('pct_native_roofline');
    expect(
      rows
        .slice(1)
        .map((r) => r[col])
        .filter((x) => x !== ''),
    ).toEqual(['61.5']);
  });

  it('a naive join (the fault the quoting prevents) fails the same round-trip check', () => {
    const run = hostileRun();
    const naive = [[...CSV_COLUMNS], ...exportRows(run)].map((r) => r.map((c) => (c === null ? '' : String(c))).join(',')).join('\r\n');
    expect(() => expectRoundTrip(naive, run)).toThrow();
  });
});

/** The rendered characters of a Markdown text cell, by a strict reading: no raw control, HTML or unescaped syntax. */
function expectInert(md: string): void {
  for (const ch of CONTROLS) {
    if (ch === '\n') continue; // lines are the output's own
    expect(md.includes(ch), `raw U+${ch.charCodeAt(0).toString(16).padStart(4, '0')} in the output`).toBe(false);
  }
  expect(md).not.toMatch(/<(?!br>)/);
  expect(md).not.toMatch(/(^|[^\\])[`*[\]]/m);
  expect(md).not.toMatch(/(^|[^&#\d])@/);
}

describe('Markdown export', () => {
  it('mdText shows control characters as visible escapes and leaves no markup', () => {
    const out = mdText(NASTY);
    expectInert(out);
    expect(out).not.toContain('\n');
    expect(out).toContain('\\\\x1b');
    expect(out).toContain('\\\\u202e');
    expect(out).toContain('&lt;img');
    expect(out).toContain('\\|');
    // The injected fault: the raw text fails the same check.
    expect(() => expectInert(NASTY)).toThrow();
  });

  it('a table keeps one row per line and its column count, whatever the cells hold', () => {
    const cells = (l: string) => l.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length;
    const expectShape = (t: string, rows: number) => {
      const lines = t.split('\n');
      expect(lines).toHaveLength(rows + 2);
      for (const l of lines) expect(cells(l)).toBe(cells(lines[0]!));
    };
    expectShape(
      mdTable(
        ['a', 'b'],
        [
          [NASTY, 'x'],
          ['y', NASTY],
        ],
      ),
      2,
    );
    // The injected fault: the same table with unescaped cells fails the same check.
    const naive = ['| a | b |', '| --- | --- |', `| ${NASTY} | x |`, `| y | ${NASTY} |`].join('\n');
    expect(() => expectShape(naive, 2)).toThrow();
  });

  it('a whole run as Markdown is inert and names the run, its counts and each timed result', () => {
    const run = hostileRun();
    const md = runToMarkdown(run);
    expectInert(md);
    expect(md).toMatch(/passed, \d+ inaccurate, \d+ errored, \d+ skipped/);
    const timed = run.results.filter((r) => r.state === 'passed' || r.state === 'inaccurate').length;
    const errored = run.results.filter((r) => r.state === 'errored').length;
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(2 + timed + errored);
  });
});
