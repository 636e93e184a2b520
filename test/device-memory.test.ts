/**
 * The memory check on the host, before shipping (harness/device-memory.ts): the device's memory from what
 * the host knows (this machine for `local`, the probe of its latest run in the history otherwise), and the
 * cases it cannot hold skipped with the reason. The end-to-end path (skipped, never shipped, the rest of
 * the run kept) is in test/models-e2e.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../core/contracts.js';
import { deviceMemory, memorySkips, probedMemory } from '../harness/device-memory.js';
import { HistoryStore } from '../harness/history/store.js';
import { loadModelCase } from '../suites/models/suite.js';
import { synthRuns } from './helpers/synthetic.js';
import { ROOT } from './helpers/cli.js';

let work: string;
let history: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-devmem-'));
  history = join(work, 'history.sqlite');
  const store = HistoryStore.open(history);
  try {
    // Two runs of a board: the later one's probe is the fact the host uses.
    const [a, b] = synthRuns({ device: 'board', runs: 2, cases: 1, variants: 1 });
    store.insertRun({ ...a!, probe: { ...a!.probe!, memory: { totalBytes: 4 * 2 ** 30 } } });
    store.insertRun({ ...b!, probe: { ...b!.probe!, memory: { totalBytes: 2 ** 30 } } });
  } finally {
    store.close();
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const opts = { quick: false, seed: 1, distribution: 'uniform(-1,1)' as const };
const planOf = (...names: string[]): Pick<Plan, 'items'> => ({
  items: names.map((n) => ({ caseSpec: loadModelCase(n, opts).caseSpec, variants: ['model-runtime-im2col-f32', 'model-onnxruntime-f32'] })),
});
const info = () => ({ algorithm: 'a', dtype: 'f32' });

describe('the device memory the host knows', () => {
  it('a device with runs in the history: the memory probed in its latest run, saying so', () => {
    const m = probedMemory(history, 'board');
    expect(m?.bytes).toBe(2 ** 30);
    expect(m?.source).toMatch(/^probed in its run .+, from the history$/);
    expect(deviceMemory({ name: 'board', transport: 'ssh' }, history, {})).toEqual(m);
  });

  it('local: this machine; a device never run: unknown (no host check); the test fault stands for the device', () => {
    expect(deviceMemory({ name: 'local', transport: 'local' }, history, {})).toEqual({ bytes: totalmem(), source: 'this machine' });
    expect(deviceMemory({ name: 'never-run', transport: 'ssh' }, history, {})).toBeNull();
    expect(probedMemory(join(work, 'missing.sqlite'), 'board')).toBeNull();
    expect(deviceMemory({ name: 'board', transport: 'ssh' }, history, { faults: { deviceMemoryBytes: 123 } })).toEqual({
      bytes: 123,
      source: 'test fault deviceMemoryBytes',
    });
  });
});

describe('cases the device cannot hold are skipped on the host', () => {
  const plan = planOf('vgg16', `${ROOT}/test/fixtures/every-op.yaml`);

  it('VGG-16 at 224 on a 1 GiB board: every variant skipped with the figures and where they come from; the small network stays', () => {
    const skips = memorySkips(plan, probedMemory(history, 'board')!, info);
    expect(skips.map((s) => s.caseId)).toEqual(['models/vgg16']);
    const [r] = skips[0]!.results;
    expect(skips[0]!.results.map((x) => x.variant)).toEqual(['model-runtime-im2col-f32', 'model-onnxruntime-f32']);
    expect(r!.state).toBe('skipped');
    expect(r!.state === 'skipped' && r!.reason).toMatch(
      /^vgg16 needs about [12][0-9]{3} MiB \(arena .* weights .*\) but this device has 1024 MiB of memory \(probed in its run .*; checked on the host before shipping; 80% usable: 819 MiB\): run it at --quick/,
    );
    expect(r!.cost.flops).toBeGreaterThan(30e9);
  });

  it('the same plan on a device with enough memory skips nothing (the check is not skipping everything)', () => {
    expect(memorySkips(plan, { bytes: 64 * 2 ** 30, source: 'x' }, info)).toEqual([]);
  });
});
