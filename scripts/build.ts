/**
 * npm run build (also run by `npm ci` through the prepare script):
 * compile the kernels to WebAssembly, bundle the device payload, and write the
 * published JSON Schema of results.json.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RunResults } from '../core/contracts.js';
import { buildPayload, ROOT } from '../harness/payload.js';
import { buildKernels } from '../kernels/build.js';

export function resultsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(RunResults, { target: 'draft-2020-12', unrepresentable: 'any' }),
    $id: 'https://roofbench.dev/schemas/results.schema.json',
    title: 'roofbench run (results.json)',
    description: 'One run of roofbench on one device. See docs/results.md.',
  };
}

async function main(): Promise<void> {
  const wasm = await buildKernels({ outDir: join(ROOT, 'kernels', 'build') });
  const payload = await buildPayload();
  mkdirSync(join(ROOT, 'schemas'), { recursive: true });
  writeFileSync(join(ROOT, 'schemas', 'results.schema.json'), `${JSON.stringify(resultsJsonSchema(), null, 2)}\n`);
  process.stdout.write(
    `built ${wasm.length} kernel module(s); payload ${payload.hash} (${payload.files.map((f) => `${f.path} ${(f.bytes / 1024).toFixed(0)} KiB`).join(', ')})\n`,
  );
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  main().catch((e: unknown) => {
    process.stderr.write(`build failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
