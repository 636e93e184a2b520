/** The report's derived facts (harness/report/facts.ts): computed once per run, and what each case's suite kit says. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { runFacts } from '../harness/report/facts.js';
import { convKit } from '../suites/conv/kit.js';
import { sparseKit } from '../suites/sparse/kit.js';

const fixture = (name: string): RunResults =>
  RunResults.parse(JSON.parse(readFileSync(fileURLToPath(new URL(`./fixtures/results/${name}`, import.meta.url)), 'utf8')));

describe('run facts', () => {
  it('are computed once per run and shared', () => {
    const run = fixture('rpi3-complete.json');
    const a = runFacts(run);
    expect(runFacts(run)).toBe(a);
    expect(runFacts(fixture('rpi3-complete.json'))).not.toBe(a); // another run object: its own facts
    expect([...a.numbers.values()]).toEqual([...a.numbers.keys()].map((_, i) => i + 1));
    for (const r of run.results) expect(a.colours.get(r.variant)).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("take each case's baseline and decision references from its suite's kit", () => {
    const run = fixture('rpi3-complete.json');
    const f = runFacts(run);
    const conv = run.cases.find((c) => c.suite === 'conv');
    expect(conv).toBeDefined();
    expect(f.tableBaseline(conv!.id)).toBe(convKit.tableBaseline);
    expect(f.decision(conv!.id)).toBe(convKit.decision);
    expect(f.tableBaseline('sparse/mobilenet_v1.conv_pw_13')).toBe(sparseKit.tableBaseline);
    expect(f.decision('sparse/mobilenet_v1.conv_pw_13')).toBeUndefined();
    // A suite without a kit (a run from a newer version): no baseline, no decision, nothing invented.
    expect(f.tableBaseline('quantum/x')).toBeUndefined();
    expect(f.decision('quantum/x')).toBeUndefined();
  });
});
