import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Two tiers (README "Tests"):
 * - unit: pure modules and the kernels, in-process, no network, no devices (npm run test:unit, < 30 s;
 *   what spawns Node processes, measures the machine or loads heavy tooling is in the system tier, e.g.
 *   test/precision-kernels-full.test.ts, test/conformance-relaxed.test.ts, test/ceilings.test.ts, test/lint.test.ts);
 * - system: the command line end to end, SSH against real OpenSSH servers, the emulated ARM boards,
 *   the dashboard in headless Chromium.
 * `npm test` runs both.
 */
export const UNIT = [
  'test/analyze-chains.test.ts',
  'test/boundary.test.ts',
  'test/cases.test.ts',
  'test/chain-traffic.test.ts',
  'test/changepoints.test.ts',
  'test/cli-args.test.ts',
  'test/colours.test.ts',
  'test/compare.test.ts',
  'test/conformance.test.ts',
  'test/contracts.test.ts',
  'test/cost.test.ts',
  'test/devices.test.ts',
  'test/devices-add-unit.test.ts',
  'test/threads-option.test.ts',
  'test/threads-runner.test.ts',
  'test/models-threads.test.ts',
  'test/models-tfjs.test.ts',
  'test/peers-variants.test.ts',
  'test/export.test.ts',
  'test/external-file.test.ts',
  'test/fast-budgets.test.ts',
  'test/fft-conv.test.ts',
  'test/fusion-kernels.test.ts',
  'test/fusion-ort.test.ts',
  'test/graph-cost.test.ts',
  'test/graph-pairs-views.test.ts',
  'test/graph-reference.test.ts',
  'test/graph.test.ts',
  'test/int8-onnxruntime.test.ts',
  'test/kernels.test.ts',
  'test/measure-policies.test.ts',
  'test/npy.test.ts',
  'test/onnxruntime.test.ts',
  'test/precision-kernels.test.ts',
  'test/precision-reference.test.ts',
  'test/probe.test.ts',
  'test/progress.test.ts',
  'test/quantized-networks-view.test.ts',
  'test/quick-coverage.test.ts',
  'test/reference.test.ts',
  'test/runtime.test.ts',
  'test/schemes.test.ts',
  'test/session.test.ts',
  'test/report-accuracy.test.ts',
  'test/report-facts.test.ts',
  'test/report-layout.test.ts',
  'test/report-network.test.ts',
  'test/report-quantization.test.ts',
  'test/report.test.ts',
  'test/shell.test.ts',
  'test/sparse-reference.test.ts',
  'test/sparse-suite.test.ts',
  'test/spmm.test.ts',
  'test/stats.test.ts',
  'test/tiling-executor.test.ts',
  'test/threads.test.ts',
  'test/winograd-conv.test.ts',
  'test/winograd-transforms.test.ts',
  'test/zoo.test.ts',
];

/** Settings every tier shares. */
const shared = {
  testTimeout: 120_000,
  hookTimeout: 300_000,
  passWithNoTests: false,
  // Fails a test file that wrote into the user's reports/.
  setupFiles: ['test/setup/each-file.ts'],
};

export default defineConfig({
  test: {
    // Once per run (not per tier): compiles the kernels; sends every report and history store to a temporary directory.
    globalSetup: ['test/setup/global.ts'],
    projects: [
      // Pure and in-process: the files share the cores (vitest's default is one worker fewer than the
      // cores, so one on a 2-core machine; here at least two), and a worker keeps its imported modules from
      // one file to the next (isolate: false: re-importing vega, zod, the kernels' loaders and the report for
      // every file was a third of the tier's time). These files leave no global state behind (one that swaps
      // a kit's object puts it back in a finally); what must be isolated (a child process, a test store, the
      // environment) is in the files of the system tier.
      {
        test: {
          ...shared,
          name: 'unit',
          include: UNIT,
          fileParallelism: true,
          maxWorkers: Math.max(2, availableParallelism() - 1),
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      // Kernel timing is not asserted anywhere, but these spawn real runs (with case timeouts): after the
      // unit tier (a later group), one file at a time on 2 cores.
      { test: { ...shared, name: 'system', include: ['test/**/*.test.ts'], exclude: UNIT, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
