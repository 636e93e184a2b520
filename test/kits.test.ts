/**
 * Kits are the one place a suite is known (suites/kits.ts): every host suite has a kit with the same
 * variants; the models suite is a GraphKit that measures its cases itself; and the runner and the report
 * reach suites only through kits (no import of a suite's own folder, no branch on a models-suite field).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { suites } from '../suites/index.js';
import { measuresItself } from '../suites/kit.js';
import { allKits, kitOf } from '../suites/kits.js';
import { ROOT } from './helpers/cli.js';

const sources = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(join(ROOT, dir, f), 'utf8') }));

describe('suite kits', () => {
  it('every suite the command line knows has a kit with the same variants', () => {
    for (const s of suites) {
      const kit = kitOf(s.name);
      expect(kit, s.name).toBeDefined();
      expect(kit!.variants.map((v) => v.name)).toEqual(s.variants.map((v) => v.name));
    }
    expect(new Set(allKits.map((k) => k.name)).size).toBe(allKits.length);
  });

  it('the models suite is a kit that measures its whole-graph cases itself; the operator suites are not', () => {
    expect(measuresItself(kitOf('models')!)).toBe(true);
    expect(measuresItself(kitOf('conv')!)).toBe(false);
    expect(measuresItself(kitOf('sparse')!)).toBe(false);
    // The fusion and tiling suites measure the ways of one graph themselves (suites/fusion/ways.ts).
    for (const s of ['fusion', 'tiling']) {
      const kit = kitOf(s)!;
      expect(measuresItself(kit), s).toBe(true);
      expect(
        kit.variants.every((v) => v.op === 'graph'),
        s,
      ).toBe(true);
    }
  });

  it('the runner and the report import no suite folder and read no models-suite field of a case', () => {
    const offenders = [...sources('harness/runner'), ...sources('harness/report')].flatMap(({ file, text }) => {
      const bad: string[] = [];
      if (/from '\.\.\/\.\.\/suites\/models\//.test(text)) bad.push(`${file}: imports suites/models/`);
      if (/caseSpec\.model\b|c\.model\.graph/.test(text)) bad.push(`${file}: reads the case's model field to choose a path`);
      return bad;
    });
    expect(offenders).toEqual([]);
  });
});
