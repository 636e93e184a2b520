/**
 * Issue 17's goals, measured through the whole command line (a measurement, not a test):
 *
 * 1. the native example's AVX2 im2col + GEMM conv (examples/native-conv) on vgg16.conv3_2 as a share
 *    of the native peak its own probe measures, in one run next to the WebAssembly variants and
 *    ONNX Runtime (the report shows them side by side, with the native roof);
 * 2. the same kernel's results over SSH (the test sshd on loopback) against local: the median
 *    kernel time of each, from runs made one after the other (never at the same time), alternating
 *    local and ssh so that drift in the machine's load hits both alike.
 *
 *   npx tsx scripts/native-goals.ts [--rounds 2] [--case vgg16.conv3_2]
 *
 * Builds the x86-64 example, starts the test sshd (as test/helpers/sshd.ts does), prints `uptime`
 * before and after, each run's figures and report, and the ssh/local ratios. Runs go to a temporary
 * reports directory and are not stored in the history.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RunResults, type CaseResult } from '../core/contracts.js';
import { ROOT, runProcess } from '../test/helpers/cli.js';
import { startSshd, stopSshd } from '../test/helpers/sshd.js';
import { sshdDevice } from '../test/helpers/boards.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, case: { type: 'string', default: 'vgg16.conv3_2' } } });
const GEMM = 'conv-im2col-gemm-native-f32';
const VARIANTS = [GEMM, 'conv-im2col-gemm-f32', 'conv3x3-winograd-f4x4-f32', 'conv-onnxruntime-f32'];
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

execFileSync('bash', [join(ROOT, 'scripts', 'build-native.sh'), 'x86-64'], { stdio: ['ignore', 'ignore', 'inherit'] });
const work = mkdtempSync(join(tmpdir(), 'roofbench-native-goals-'));
const sshd = await startSshd();
const devicesFile = join(work, 'devices.yaml');
writeFileSync(devicesFile, ['devices:', '  local:', '    transport: local', sshdDevice(sshd, work, 'loopback', process.execPath), ''].join('\n'));
const env = { ...process.env, ROOFBENCH_REPORTS: join(work, 'reports') };

const timed = (r: CaseResult | undefined) => (r && (r.state === 'passed' || r.state === 'inaccurate') ? r : undefined);

async function one(device: string): Promise<{ median: number; min: number; run: RunResults; report: string }> {
  const args = [
    '--import',
    'tsx',
    'harness/cli.ts',
    'bench',
    '--devices',
    devicesFile,
    '--device',
    device,
    '--native-example',
    '--case',
    values.case!,
    '--variant',
    VARIANTS.join(','),
    '--no-baselines',
    '--no-history',
    '--json',
  ];
  const r = await runProcess(process.execPath, args, { env, timeoutMs: 1_800_000 });
  const done = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.type === 'run-complete');
  if (!done) throw new Error(`bench on ${device} did not complete (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  const run = RunResults.parse(JSON.parse(readFileSync(join(String(done.dir), 'results.json'), 'utf8')));
  const gemm = timed(run.results.find((x) => x.variant === GEMM));
  if (!gemm) throw new Error(`${device}: ${GEMM} has no timing: ${JSON.stringify(run.results.find((x) => x.variant === GEMM))}`);
  const n = run.ceilings.native;
  console.log(`\n[${device}] ${String(done.report)}  (contended: ${run.contention?.contended ? `yes, ${run.contention.reason}` : 'no'})`);
  console.log(
    `  native roof: peak ${n?.peakGflops.toFixed(1)} GFLOP/s, DRAM ${n?.dramGbps.toFixed(1)} GB/s; WebAssembly roof: peak ${run.ceilings.measured?.peakGflops.toFixed(1)} GFLOP/s`,
  );
  for (const v of VARIANTS) {
    const x = run.results.find((y) => y.variant === v);
    const t = timed(x);
    if (!t) {
      console.log(`  ${v.padEnd(28)} ${x?.state ?? 'missing'}${x && 'error' in x ? `: ${x.error.split('\n')[0]}` : x && 'reason' in x ? `: ${x.reason}` : ''}`);
      continue;
    }
    const roofs = [
      t.perf.pctNative !== undefined ? `${t.perf.pctNative.toFixed(1)}% of the native roof` : null,
      t.perf.pctMeasured !== undefined ? `${t.perf.pctMeasured.toFixed(1)}% of the WebAssembly roof` : null,
    ]
      .filter(Boolean)
      .join(', ');
    console.log(
      `  ${v.padEnd(28)} ${t.state.padEnd(10)} median ${t.timing.stats.median.toFixed(2)} ms (cv ${(t.timing.stats.cv * 100).toFixed(1)}%, ${t.timing.samples.length} samples)  ${t.perf.gflops.toFixed(1)} GFLOP/s  ${roofs}  relL2 ${String(t.accuracy.relL2)}`,
    );
  }
  return { median: gemm.timing.stats.median, min: gemm.timing.stats.min, run, report: String(done.report) };
}

try {
  console.log(`uptime before: ${uptime()}`);
  const rounds = Number(values.rounds);
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const local = await one('local');
    const ssh = await one('loopback');
    const ratio = ssh.median / local.median;
    ratios.push(ratio);
    console.log(
      `\nround ${i + 1}: ${GEMM} median over ssh / local = ${ssh.median.toFixed(2)} / ${local.median.toFixed(2)} ms = ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)}%)`,
    );
    // On a shared machine the fastest repeat is the least disturbed one: shown too, for what it says.
    console.log(`round ${i + 1}: fastest repeat over ssh / local = ${ssh.min.toFixed(2)} / ${local.min.toFixed(2)} ms = ${(ssh.min / local.min).toFixed(3)}`);
  }
  console.log(`\nssh / local ratios: ${ratios.map((r) => r.toFixed(3)).join(', ')}; goal: within 5%`);
  console.log(`uptime after: ${uptime()}`);
} finally {
  await stopSshd(sshd);
}
