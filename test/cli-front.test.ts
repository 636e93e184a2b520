/** The command line as a new user meets it: npm's own flag handling, the bin, --version, per-command help, export. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runProcess } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'roofbench-cli-front-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const reports = join(work, 'reports');
const env = { ...process.env, ROOFBENCH_REPORTS: reports, ROOFBENCH_HISTORY: join(work, 'h.sqlite') };
const npm = (args: string[]) => runProcess('npm', args, { env, timeoutMs: 120_000 });
const bin = (args: string[]) => runProcess(process.execPath, [join(ROOT, 'bin', 'roofbench.js'), ...args], { env, timeoutMs: 120_000 });
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

describe('npm run bench --quick (without --)', () => {
  it('stops before running anything and shows the command that passes the flags', async () => {
    const r = await npm(['run', 'bench', '--quick', '--device', 'local', '--no-ceilings']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('npm took --device local, --quick, --no-ceilings as its own config');
    expect(r.stderr).toContain('npm run bench -- --device local --quick --no-ceilings');
    expect(existsSync(reports) ? readdirSync(reports) : []).toEqual([]);
  });
});

describe('the roofbench bin', () => {
  it('is declared in package.json and prints the version', async () => {
    expect(pkg.bin.roofbench).toBe('bin/roofbench.js');
    for (const args of [['--version'], ['bench', '--version']]) {
      const r = await bin(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^roofbench ${pkg.version.replace(/\./g, '\\.')}( \\(commit [0-9a-f]{12}.*\\))?\\n$`));
    }
  });

  it('suggests the closest option and command', async () => {
    const opt = await bin(['bench', '--quik']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain('unknown option --quik (did you mean --quick?)');
    const cmd = await bin(['bench-x']);
    expect(cmd.code).toBe(2);
    const sub = await bin(['history', 'anotate']);
    expect(sub.stderr).toContain('unknown command "anotate" (did you mean "annotate"?)');
    expect(sub.code).toBe(2);
  });

  it('devices: the same "did you mean" and exit 2 for a mistyped command or option, and for a malformed one', async () => {
    const cmd = await bin(['devices', 'lsit']);
    expect(cmd.stderr).toContain('unknown devices command "lsit" (did you mean "list"?); commands: list, add, remove, check, trust');
    expect(cmd.code).toBe(2);
    const opt = await bin(['devices', 'list', '--devics', 'x.yaml']);
    expect(opt.stderr).toContain('unknown option --devics (did you mean --devices?)');
    expect(opt.stderr).toContain('run with --help for the options');
    expect(opt.code).toBe(2);
    const value = await bin(['devices', 'list', '--devices']);
    expect(value.stderr).toContain('--devices needs a value: a devices.yaml file, e.g. --devices devices.yaml');
    expect(value.code).toBe(2);
  });

  it('runs analyze like the other commands (the README\'s "the same commands through the bin" left it out)', async () => {
    const bad = await bin(['analyze', '--model', 'nosuch']);
    expect(bad.stderr).toContain('unknown model "nosuch"');
    expect(bad.code).toBe(2);
    const help = await bin(['analyze', '--help']);
    expect(help.stdout).toMatch(/^roofbench analyze: /);
    expect(help.code).toBe(0);
    expect((await bin(['--help'])).stdout).toMatch(/^ {2}analyze /m);
  });

  it('gives compare, dashboard and history each their own help, naming no internal path', async () => {
    const compare = await bin(['compare', '--help']);
    const dashboard = await bin(['dashboard', '--help']);
    const history = await bin(['history', '--help']);
    expect(compare.stdout).toMatch(/^usage: npm run compare -- <run> <run>/);
    expect(compare.stdout).toContain('--threshold');
    expect(compare.stdout).not.toContain('--min-segment');
    expect(dashboard.stdout).toMatch(/^usage: npm run dashboard -- \[--out DIR\]/);
    expect(dashboard.stdout).not.toContain('--threshold');
    expect(history.stdout).toMatch(/^roofbench history: .*\n\nusage: npm run history -- <command>/);
    for (const r of [compare, dashboard, history]) {
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/harness\/|tsx /);
      expect(r.stdout.split('\n').length).toBeLessThan(40);
    }
  });

  it('exports a run as CSV and Markdown', async () => {
    const fixture = join(ROOT, 'test', 'fixtures', 'results', 'rpi3-complete.json');
    const csv = await bin(['report', fixture, '--format', 'csv']);
    expect(csv.code).toBe(0);
    const rows = parse(csv.stdout) as string[][];
    const run = JSON.parse(readFileSync(fixture, 'utf8')) as { results: unknown[] };
    expect(rows).toHaveLength(1 + run.results.length);
    const out = join(work, 'run.md');
    const md = await bin(['report', fixture, '--format', 'md', '--out', out]);
    expect(md.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^### roofbench: rpi3, run /);
    const bad = await bin(['report', fixture, '--format', 'xlsx']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format must be one of html, csv, md, got "xlsx"');
  });
});
