/**
 * The sparse suite end to end: `bench --suite sparse` with --pattern and --sparsity on this
 * machine, the dense GEMM on the same pruned weights in every case, interleaved, and the
 * report's sparse view (speedup against sparsity per layer, the break-even with its interval,
 * XNNPACK's 2/3 rule, storage against dense, the verdict). Asserts structure, never a speed.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { bench, jsonLines } from './helpers/cli.js';
import { buildSparseView, layerChartData } from '../harness/report/sparse.js';
import { renderReportHtml } from '../harness/report/render.js';

const LAYER = 'mobilenet_v1.conv4.pw';
let run: RunResults;
let html: string;
let stdout: string;

beforeAll(async () => {
  const r = await bench(
    [
      '--suite',
      'sparse',
      '--quick',
      '--case',
      LAYER,
      '--pattern',
      'unstructured,1x4',
      '--sparsity',
      '10%,50%,0.95',
      '--target-ms',
      '30',
      '--min-samples',
      '5',
      '--no-ceilings',
      '--json',
    ],
    { timeoutMs: 240_000 },
  );
  stdout = r.stdout;
  if (r.code !== 0) throw new Error(`bench exited ${r.code}: ${r.stderr}`);
  const done = jsonLines(r.stdout).find((e) => e.type === 'run-complete');
  run = RunResults.parse(JSON.parse(readFileSync(join(String(done?.dir), 'results.json'), 'utf8')));
  html = readFileSync(String(done?.report), 'utf8');
}, 300_000);

describe('bench --suite sparse', () => {
  it('runs layer x pattern x sparsity, each case with the dense baseline and the sparse formats, interleaved', () => {
    expect(stdout).not.toBe('');
    expect(run.cases.map((c) => c.id)).toEqual([
      `sparse/${LAYER}.unstructured.s10`,
      `sparse/${LAYER}.unstructured.s50`,
      `sparse/${LAYER}.unstructured.s95`,
      `sparse/${LAYER}.1x4.s10`,
      `sparse/${LAYER}.1x4.s50`,
      `sparse/${LAYER}.1x4.s95`,
    ]);
    for (const c of run.cases) {
      const rs = run.results.filter((r) => r.caseId === c.id);
      const state = (v: string) => rs.find((r) => r.variant === v)?.state;
      expect(state('conv-im2col-gemm-f32')).toBe('passed');
      expect(state('conv-spmm-csr-f32')).toBe('passed');
      expect(state('conv-spmm-b1x1-f32')).toBe('passed');
      // Blocks of 4 output channels fit 1x4 pruning only; on unstructured weights they are skipped with the reason.
      expect(state('conv-spmm-b1x4-f32')).toBe(c.sparsity?.pattern === '1x4' ? 'passed' : 'skipped');
      for (const r of rs) {
        if (r.state !== 'passed') continue;
        // The same pruned weights for every variant of the case, and the interleaved rounds.
        expect(r.info).toMatchObject({ sparsityPattern: c.sparsity?.pattern, sparsityFraction: c.sparsity?.fraction });
        expect((r.timing.samplesPerRound ?? []).filter((n) => n > 0).length).toBeGreaterThan(1);
      }
    }
  });

  it('the report draws a speedup-vs-sparsity chart per layer with the 2/3 rule, the break-even table, storage and a verdict', () => {
    expect(html).toContain('<section id="sparse"');
    expect(html).toContain('Sparse vs dense: the break-even sparsity');
    expect(html).toMatch(/Verdict\.<\/strong> On this device, /);
    expect(html).toContain('XNNPACK&#39;s 2/3 rule');
    // One point per pattern and sparsity, each with its hover text.
    expect(html.match(/class="[^"]*rb-sparse-point/g)).toHaveLength(6);
    const view = buildSparseView(run)!;
    expect(view.layers.map((l) => l.layer)).toEqual([LAYER]);
    expect(view.layers[0]!.lines.map((l) => l.pattern)).toEqual(['unstructured', '1x4']);
    // Storage: CSR and b1x1 on every case, b1x4 on the 1x4 cases only, all against the dense bytes.
    const st = view.layers[0]!.storage;
    expect(st).toHaveLength(6);
    for (const s of st) {
      expect(s.denseBytes).toBe(4 * 32 * 32);
      expect(Object.keys(s.formats).sort()).toEqual(s.pattern === '1x4' ? ['b1x1', 'b1x2', 'b1x4', 'csr'] : ['b1x1', 'csr']);
    }
    expect(html).toContain('Weight storage against dense');
    // The executed roofline: a sparse kernel moves left of the dense GEMM as the weights thin out.
    expect(html.match(/class="[^"]*rb-sparse-roof/g)).toHaveLength(12);
    for (const line of view.layers[0]!.lines) {
      const xs = line.roofline.map((p) => p.executedIntensity);
      expect(xs.every((x, i) => i === 0 || x < xs[i - 1]!)).toBe(true);
      expect(line.roofline.at(-1)!.executedIntensity).toBeLessThan(line.roofline.at(-1)!.denseIntensity);
    }
  });

  it('fault: a dense baseline that errored leaves its sparsity out, with a note, instead of a speedup against nothing', () => {
    const broken = structuredClone(run);
    const i = broken.results.findIndex((r) => r.caseId === `sparse/${LAYER}.unstructured.s50` && r.variant === 'conv-im2col-gemm-f32');
    broken.results[i] = { ...broken.results[i]!, state: 'errored', error: 'injected', phase: 'run' } as unknown as (typeof broken.results)[number];
    const l = buildSparseView(broken)!.layers[0]!;
    expect(l.notes).toContain('unstructured: the dense baseline did not pass at 50%; those sparsities are left out');
    expect(l.lines.find((x) => x.pattern === 'unstructured')!.points.map((p) => p.fraction)).toEqual([0.1, 0.95]);
    expect(layerChartData(l).points.filter((p) => p.pattern === 'unstructured')).toHaveLength(2);
  });

  it('fault: on an emulated device the view gives no speedup, break-even or verdict', async () => {
    const emu = structuredClone(run);
    emu.device.emulated = true;
    const page = await renderReportHtml(emu);
    expect(page).toContain('<section id="sparse"');
    expect(page).toContain('no speedup, break-even or verdict is given');
    expect(page).not.toContain('rb-sparse-point');
    expect(page).not.toContain('Verdict.</strong>');
    expect(page).toContain('Weight storage against dense');
  });

  it('a bad --sparsity or --pattern is a usage error before anything runs', async () => {
    const bad = await bench(['--sparsity', '50%,150%', '--quick']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--sparsity: "150%" is not a sparsity/);
    const pat = await bench(['--pattern', 'diagonal', '--quick']);
    expect(pat.code).toBe(2);
    expect(pat.stderr).toMatch(/--pattern: unknown sparsity pattern "diagonal"/);
  });
});
