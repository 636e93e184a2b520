/**
 * `--suite models --threads 1,2 --quick` through the command line on one small network (the test network
 * every-op): the fp32 whole networks have `@t2` results that ran (not skipped), bit-identical to one thread,
 * their conv layers on 2 threads; every result says its thread count, and so does its history series; the
 * report's network table gives the thread count and its scaling view shows the networks.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTimed, RunResults } from '../core/contracts.js';
import { deviceIdentity, seriesOf } from '../harness/history/identity.js';
import { scalingView } from '../harness/report/scaling.js';
import { bench } from './helpers/cli.js';

const EVERY_OP = 'test/fixtures/every-op.yaml';
const FP32 = ['model-runtime-im2col-f32', 'model-runtime-best-f32'];

describe('models suite at --threads 1,2 (CLI)', () => {
  it('every-op: @t2 networks run and match one thread bit for bit; threads in results, history series, network table and scaling view', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-models-threads-')), 'run');
    const r = await bench(['--suite', 'models', '--model', EVERY_OP, '--threads', '1,2', '--quick', '--no-ceilings', '--no-history', '--out', out], {
      timeoutMs: 600_000,
    });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.cases.map((c) => c.id)).toEqual(['models/every_op']);
    const by = new Map(run.results.map((x) => [x.variant, x]));
    const identity = deviceIdentity(run)!;
    for (const name of FP32) {
      const one = by.get(name);
      const two = by.get(`${name}@t2`);
      expect(isTimed(one) && isTimed(two), JSON.stringify(two)).toBe(true);
      if (!isTimed(one) || !isTimed(two)) continue;
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      expect(two.state).toBe('passed');
      expect(two.accuracy.outputChecksum).toBe(one.accuracy.outputChecksum);
      expect(two.model!.layers.filter((l) => l.threads === 2).length).toBe(6);
      // The history keeps 1- and 2-thread networks apart.
      expect(seriesOf(identity, run, two, run.cases[0]).fields.threads).toBe(2);
      expect(seriesOf(identity, run, one, run.cases[0]).fields.threads).toBeUndefined();
    }
    // The scaling view: the network with its fp32 variants at 1 and 2 threads.
    const view = scalingView(run)!;
    const net = view.layers.find((l) => l.caseId === 'models/every_op')!;
    expect(net.kind).toBe('whole network');
    for (const name of FP32) {
      const row = net.rows.find((x) => x.variant === name)!;
      expect(row.cells.map((c) => [c.threads, c.missing])).toEqual([
        [1, ''],
        [2, ''],
      ]);
      expect(row.cells[1]!.speedupText).toMatch(/×/);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<section id="scaling"');
    expect(html).toMatch(/<span class="mono">every_op<\/span> <span class="muted">whole network/);
    // The network table's thread column.
    expect(html).toMatch(/<td class="left prose">2 \(6 layers \(conv, FC\) on 2 threads; [0-9.]+% of the layer time on thread 0\)<\/td>/);
  }, 900_000);
});
