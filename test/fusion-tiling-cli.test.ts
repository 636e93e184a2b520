/**
 * The fusion and tiling suites as a user runs them (system tier: real runs of the command line): listed with
 * --list --suite, run with --suite ... --quick, every way checked against the float64 graph and stored;
 * bad input (an unknown suite, chain or tile size) refused before anything runs, with a did-you-mean. Injected
 * faults (ROOFBENCH_TEST_FAULTS, test-only): a fused way whose epilogue has the bias one channel off, and tiled
 * schedules whose halo is one row short, must come out inaccurate in a real run, while the same run's other
 * ways pass. No speed is asserted.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { isTimed, RunResults, type CaseResult } from '../core/contracts.js';
import { buildFusionView, buildTilingView } from '../harness/report/graph-pairs.js';
import { bench } from './helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-fusion-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const outDir = () => join(mkdtempSync(join(work, 'run-')), 'r');
const readRun = (dir: string): RunResults => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
const find = (run: RunResults, caseId: string, variant: string): CaseResult => {
  const r = run.results.find((x) => x.caseId === caseId && x.variant === variant);
  if (!r) throw new Error(`no result for ${caseId} ${variant}`);
  return r;
};
const failedChecks = (r: CaseResult) => (isTimed(r) ? (r.accuracy.checks ?? []).filter((c) => !c.ok).map((c) => c.name) : [`not timed: ${r.state}`]);

const FUSION_CASES = 'mobilenet_v1.block.3.dw-pw,mobilenet_v1.conv_pw_4.bn-relu';
const WAYS = 'fusion-unfused-f32,fusion-fused-f32,tiling-layer-by-layer-f32,tiling-tiled-8-f32,tiling-tiled-28-f32,tiling-cached-8-f32';

describe('listing and bad input', () => {
  it('--list --suite fusion,tiling lists their cases and variants, and only theirs', async () => {
    const r = await bench(['--list', '--suite', 'fusion,tiling']);
    expect(r.code, r.stderr).toBe(0);
    for (const s of [
      'suite fusion:',
      'suite tiling:',
      'fusion-fused-f32',
      'fusion-ort-all-f32',
      'tiling-tiled-16-f32',
      'fusion/mobilenet_v1.block.1.dw-pw',
      'tiling/chain112',
    ]) {
      expect(r.stdout).toContain(s);
    }
    expect(r.stdout).not.toContain('suite conv:');
    const bad = await bench(['--list', '--suite', 'fusoin']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown suite fusoin.*did you mean.*fusion/s);
  });

  it('a tile size that makes no sense, one off the sweep, and an unknown chain are refused with what to do', async () => {
    for (const [args, msg] of [
      [['--tile', '0'], /--tile "0" is not a tile size: .*positive integers/],
      [['--tile', '8x8'], /--tile "8x8" is not a tile size/],
      [['--tile', '9'], /--tile 9 is not in the tiling suite's sweep \(did you mean 8\?\); valid: 4, 8, 16/],
      // Far off the sweep: no "did you mean 4", and the size as typed, not 1e20 printed in full.
      [['--tile', '99999999999999999999'], /--tile 99999999999999999999 is not in the tiling suite's sweep; valid: 4, 8, 16, 28, 56, 112$/m],
      [['--suite', 'tiling', '--case', 'vgg16_conv4'], /unknown case: vgg16_conv4.*did you mean.*vgg16_conv3/s],
      // A tile size with the tiling suite left out would change nothing: refused, saying how to run it.
      [['--suite', 'fusion', '--tile', '8'], /--tile applies to the tiling suite, which this run leaves out \(it runs: fusion\): add tiling to --suite/],
    ] as const) {
      const r = await bench([...args, '--no-ceilings', '--out', outDir()]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('a real quick run of both suites', () => {
  it('every way passes its checks, the tiled bytes come from the traffic model; the injected faults fail', async () => {
    const args = ['--suite', 'fusion,tiling', '--quick', '--no-ceilings', '--case', `${FUSION_CASES},resnet_basic`, '--variant', WAYS];
    const out = outDir();
    const r = await bench([...args, '--out', out], { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const run = readRun(out);
    expect(run.results.length).toBe(2 * 2 + 4);
    for (const x of run.results) expect(failedChecks(x), `${x.caseId} ${x.variant}`).toEqual([]);
    // The bit-identity check ran where the ways do the same operations in the same order (not for folded BN).
    const names = (c: string, v: string) => {
      const x = find(run, c, v);
      return isTimed(x) ? (x.accuracy.checks ?? []).map((k) => k.name) : [];
    };
    expect(names('fusion/mobilenet_v1.block.3.dw-pw', 'fusion-fused-f32')).toContain('bit-identical');
    expect(names('fusion/mobilenet_v1.conv_pw_4.bn-relu', 'fusion-fused-f32')).not.toContain('bit-identical');
    expect(names('tiling/resnet_basic', 'tiling-tiled-8-f32')).toEqual(['per-element bound', 'bit-identical', 'stable output']);
    // Fused moves fewer modeled bytes than unfused for the same FLOPs; a tiled result carries its traffic facts.
    const fu = find(run, 'fusion/mobilenet_v1.block.3.dw-pw', 'fusion-unfused-f32');
    const ff = find(run, 'fusion/mobilenet_v1.block.3.dw-pw', 'fusion-fused-f32');
    expect(ff.cost.flops).toBe(fu.cost.flops);
    expect(ff.cost.bytes).toBeLessThan(fu.cost.bytes);
    const t8 = find(run, 'tiling/resnet_basic', 'tiling-tiled-8-f32');
    expect(t8.info?.tile).toBe(8);
    expect(t8.info?.tiles).toBe(49);
    expect(t8.info?.modeledBytes).toBe(t8.cost.bytes);
    expect(Number(t8.info?.recomputeOverhead)).toBeGreaterThan(0);
    expect(t8.cost.executedFlops).toBeGreaterThan(t8.cost.flops);
    // Halos cached: nothing recomputed, and no more modeled bytes than recomputing them.
    const c8 = find(run, 'tiling/resnet_basic', 'tiling-cached-8-f32');
    expect(c8.info?.halo).toBe('cached');
    expect(c8.cost.executedFlops).toBeLessThanOrEqual(c8.cost.flops);
    expect(names('tiling/resnet_basic', 'tiling-cached-8-f32')).toEqual(['per-element bound', 'bit-identical', 'stable output']);

    // The report's views: per pair and per chain, with real SVG charts; every text escaped.
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const section = (id: string) => html.slice(html.indexOf(`<section id="${id}"`), html.indexOf('</section>', html.indexOf(`<section id="${id}"`)));
    const fusion = section('fusion');
    const tiling = section('tiling');
    expect(fusion).toContain('fusion/mobilenet_v1.block.3.dw-pw');
    expect(fusion).toMatch(/fused: (faster than|slower than|no clear difference from) the unfused way: speedup [~]?[\d.]+× .*; [\d.]+x fewer modeled bytes/);
    expect(fusion.match(/<svg/g)?.length).toBe(1);
    // The best tile only when it beats layer by layer; else the fastest tiled schedule, named as not beating it.
    expect(tiling).toMatch(/(best tile on this device:|the fastest,|the fastest tiled schedule,) (8x8|28x28|strips of 8 rows, halos cached) \(/);
    expect(tiling).toMatch(/cache sizes marked: L1D/);
    expect(tiling.match(/<svg/g)?.length).toBe(1 + 2); // the chains' roofline, then time and model per chain
    expect(tiling).toContain('64x56x56 -&gt; 64x56x56');
    expect(tiling).not.toContain('64x56x56 -> 64x56x56');
    const view = buildTilingView(run)!;
    expect(view[0]!.series.map((x) => `${x.halo} ${x.tile}`).sort()).toEqual(['cached 8', 'recomputed 28', 'recomputed 8']);
    expect(view[0]!.roof.map((p) => p.series)).toEqual(['layer by layer', 'best tile']);
    expect(
      buildFusionView(run)!
        .pairs.map((p) => p.caseId)
        .sort(),
    ).toEqual(['fusion/mobilenet_v1.block.3.dw-pw', 'fusion/mobilenet_v1.conv_pw_4.bn-relu']);

    const faulty = outDir();
    const f = await bench([...args, '--gate', '--out', faulty], {
      timeoutMs: 300_000,
      env: { ROOFBENCH_TEST_FAULTS: JSON.stringify({ fusedBiasShift: true, tiledHaloShort: true }) },
    });
    // --gate fails the run on them, naming the worst.
    expect(f.code, f.stderr).toBe(1);
    expect(f.stderr).toMatch(/--gate: 5 inaccurate result\(s\) on local; worst:\n {2}(fusion-fused-f32|tiling-(tiled|cached)-\d+-f32) on /);
    expect(f.stderr).toMatch(/exceeds its own tolerance \(maxAbs <= /);
    const bad = readRun(faulty);
    // A wrong epilogue: off the float64 graph (and, where bit-identity is claimed, off the unfused bits).
    expect(find(bad, 'fusion/mobilenet_v1.block.3.dw-pw', 'fusion-fused-f32').state).toBe('inaccurate');
    expect(failedChecks(find(bad, 'fusion/mobilenet_v1.block.3.dw-pw', 'fusion-fused-f32'))).toEqual(['per-element bound', 'bit-identical']);
    expect(failedChecks(find(bad, 'fusion/mobilenet_v1.conv_pw_4.bn-relu', 'fusion-fused-f32'))).toEqual(['per-element bound']);
    // A halo one row short: both checks fail for every tiled schedule with more than one tile row.
    for (const v of ['tiling-tiled-8-f32', 'tiling-tiled-28-f32', 'tiling-cached-8-f32']) {
      expect(failedChecks(find(bad, 'tiling/resnet_basic', v)), v).toEqual(['per-element bound', 'bit-identical']);
    }
    // The faults touch nothing else.
    for (const v of ['fusion-unfused-f32']) expect(failedChecks(find(bad, 'fusion/mobilenet_v1.block.3.dw-pw', v))).toEqual([]);
    expect(failedChecks(find(bad, 'tiling/resnet_basic', 'tiling-layer-by-layer-f32'))).toEqual([]);
    // A schedule that failed its checks is never the best tile, nor a fused way that failed a speedup.
    expect(buildTilingView(bad)![0]!.best).toBe('no tiled schedule passed its checks: no best tile');
    expect(buildFusionView(bad)!.pairs.every((p) => p.summary.startsWith('no speedup: fused inaccurate'))).toBe(true);
  }, 600_000);
});
