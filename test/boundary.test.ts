/**
 * The host/device boundary, as the layout shows it: the device payload is built from core/, reference/,
 * suites/, the kernels' loader and harness/runner/ only (harness/payload.ts refuses a runner bundle that
 * pulls in anything else), and core/ and reference/ are pure: no node: builtins and nothing outside
 * themselves, so anything may import them on either side.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleRunner, hostInputs, ROOT } from '../harness/payload.js';

const PURE = ['core', 'reference'];

/**
 * The import specifiers of a TypeScript source that reach run time: static imports, re-exports and dynamic
 * imports, not type-only ones (`import type`, `import('x').T`), which the compiler erases.
 */
function importsOf(src: string): string[] {
  const statics = [...src.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\bfrom\s*)?['"]([^'"]+)['"]/gm)].filter((m) => !m[2]).map((m) => m[3]!);
  const dynamic = [...src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)(?!\s*\.)/g)].map((m) => m[1]!);
  return [...statics, ...dynamic];
}

/** Imports of the pure folders that leave them (or reach a node: builtin): `file -> specifier`. */
function impureImports(root: string): string[] {
  const bad: string[] = [];
  for (const dir of PURE) {
    for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.ts'))) {
      const file = `${dir}/${f}`;
      for (const spec of importsOf(readFileSync(join(root, file), 'utf8'))) {
        if (spec.startsWith('node:')) bad.push(`${file} -> ${spec}`);
        else if (spec.startsWith('.')) {
          const target = posix.normalize(posix.join(dir, spec));
          if (!PURE.some((p) => target.startsWith(`${p}/`))) bad.push(`${file} -> ${spec}`);
        }
      }
    }
  }
  return bad;
}

const tmp = mkdtempSync(join(tmpdir(), 'roofbench-boundary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the host/device boundary', () => {
  it('the runner bundle is built from payload sources only, and they include core/', async () => {
    // bundleRunner throws if host code is bundled; the bundle really holds the core modules.
    const runner = new TextDecoder().decode(await bundleRunner());
    expect(runner).toContain('// core/contracts.ts');
    expect(runner).toContain('// core/stats.ts');
    expect(runner).toContain('// harness/runner/measure.ts');
    expect(runner).not.toMatch(/^\/\/ harness\/(?!runner\/)/m);
  });

  it('refuses a device entry point that imports host code (injected: an entry importing the device registry)', async () => {
    const entry = join(tmp, 'bad-entry.ts');
    const devices = relative(tmp, join(ROOT, 'harness', 'devices.js'))
      .split('\\')
      .join('/');
    writeFileSync(entry, `import { loadDevices } from '${devices}';\nconsole.log(typeof loadDevices);\n`);
    await expect(bundleRunner(entry)).rejects.toThrow(/imports host code \(.*harness\/devices\.ts/);
    expect(
      hostInputs(['core/stats.ts', 'harness/runner/main.ts', 'harness/cli.ts', 'node_modules/zod/index.js', '../../elsewhere/node_modules/zod/index.js']),
    ).toEqual(['harness/cli.ts']);
  });

  it('core/ and reference/ import nothing outside themselves and no node: builtins', () => {
    expect(impureImports(ROOT)).toEqual([]);
  });

  it('the purity check finds an injected host import (test-only copy of the folders)', () => {
    for (const dir of PURE) {
      mkdirSync(join(tmp, dir), { recursive: true });
      for (const f of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) {
        writeFileSync(join(tmp, dir, f), readFileSync(join(ROOT, dir, f), 'utf8'));
      }
    }
    writeFileSync(join(tmp, 'core', 'stats.ts'), `import { readFileSync } from 'node:fs';\nimport { x } from '../harness/cli.js';\n`);
    expect(impureImports(tmp)).toEqual(['core/stats.ts -> node:fs', 'core/stats.ts -> ../harness/cli.js']);
  });
});
