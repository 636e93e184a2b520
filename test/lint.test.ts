/**
 * The linter and formatter configurations (eslint.config.js, .prettierrc.json) can fail: an injected
 * finding is reported, and code in the configured style passes. `npm run lint` runs them on the repository.
 */
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';

describe('lint and format configuration', () => {
  it('eslint reports an unused import and a never-reassigned let, and passes clean code', async () => {
    const eslint = new ESLint();
    const [bad] = await eslint.lintText("import { join } from 'node:path';\nlet x = 1;\nexport const y = x;\n", { filePath: 'harness/injected.ts' });
    expect(bad?.messages.map((m) => m.ruleId)).toEqual(expect.arrayContaining(['@typescript-eslint/no-unused-vars', 'prefer-const']));
    const [good] = await eslint.lintText("import { join } from 'node:path';\nexport const y = join('a', 'b');\n", { filePath: 'harness/injected.ts' });
    expect(good?.messages).toEqual([]);
  });

  it('prettier flags double quotes and a missing trailing comma, and accepts the configured style', async () => {
    const options = { ...JSON.parse(readFileSync('.prettierrc.json', 'utf8')), filepath: 'harness/injected.ts' };
    expect(await prettier.check('export const a = "x";\n', options)).toBe(false);
    expect(await prettier.check("export const a = ['x', 'y'];\n", options)).toBe(true);
    const long = `export const list = [\n${Array.from({ length: 30 }, (_, i) => `  'item${i}'`).join(',\n')}\n];\n`;
    expect(await prettier.format(long, options)).toContain("'item29',\n");
  });
});
