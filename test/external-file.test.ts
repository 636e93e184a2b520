/**
 * The external kernels file (harness/external-file.ts): a valid file resolved into the specs the
 * device gets, and every kind of mistake reported with file:line:column, the field and what to do,
 * all problems at once (as devices.yaml is).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../harness/devices.js';
import { elfArch, kernelForCase, loadKernelsFile, parseKernelsFile, type KernelsFileOptions } from '../harness/external-file.js';
import { expandArgv, ExternalVariantSpec, externalApplies, templatePlaceholders } from '../core/external.js';

let dir: string;
let file: string;

/** The first 64 bytes of an ELF executable for a machine (enough for elfArch). */
function elf(machine: number, bits: 32 | 64): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = bits === 64 ? 2 : 1;
  b[5] = 1; // little-endian
  b[6] = 1;
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  return b;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roofbench-kernels-file-'));
  file = join(dir, 'my-kernels.yaml');
  mkdirSync(join(dir, 'build', 'x86-64'), { recursive: true });
  mkdirSync(join(dir, 'build', 'arm64'), { recursive: true });
  mkdirSync(join(dir, 'build', 'armhf'), { recursive: true });
  mkdirSync(join(dir, 'py'));
  const bin = (p: string, content: Buffer, mode = 0o755) => {
    writeFileSync(join(dir, p), content);
    chmodSync(join(dir, p), mode);
  };
  bin('build/x86-64/conv', elf(62, 64));
  bin('build/arm64/conv', elf(183, 64));
  bin('build/armhf/conv', elf(40, 32));
  bin('build/x86-64/probe', elf(62, 64));
  bin('build/x86-64/noexec', elf(62, 64), 0o644);
  bin('build/riscv', elf(243, 64));
  bin('py/run.py', Buffer.from('#!/usr/bin/env python3\n'));
  bin('run.sh', Buffer.from('#!/bin/sh\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `# my kernels
kernels:
  - name: conv-im2col-gemm-native-f32
    op: conv
    dtype: f32
    cases: all
    applies: { groups: 1 }
    files:
      binary:
        x86-64: build/x86-64/conv
        arm64: build/arm64/conv
        armhf: build/armhf/conv
    command: ["{binary}", --algo, gemm, "{work}"]
    env: { OMP_NUM_THREADS: 1 }
  - name: conv-winograd-f4x4-py-f32
    op: conv
    algorithm: winograd
    dtype: f32
    description: a Winograd kernel in Python
    cases: [vgg16.conv3_2, conv/resnet50.res2b.branch2b]
    accuracy: { maxRelL2: 1e-4 }
    files: { dir: py, script: run.py }
    command: [python3, "{script}", "--case", "{case}", "--out", "{out}"]
ceilings:
  files: { binary: build/x86-64/probe }
  command: ["{binary}", "--json"]
`;

const parse = (text: string, opts: KernelsFileOptions = {}) => parseKernelsFile(text, file, opts);
/** The problems of a file, one `line:column: field: message` string each. */
function problems(text: string, opts: KernelsFileOptions = {}): string[] {
  try {
    parse(text, opts);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map((p) => `${p.line}:${p.column}: ${p.field}: ${p.message}`);
  }
  throw new Error('the file was accepted');
}

describe('a valid kernels file', () => {
  it('resolves to device specs, host paths and the declaration lines', () => {
    const k = parse(GOOD);
    expect(k.kernels).toHaveLength(2);
    const [gemm, py] = k.kernels;
    expect(gemm!.spec).toEqual({
      name: 'conv-im2col-gemm-native-f32',
      op: 'conv',
      algorithm: 'im2col-gemm-native',
      dtype: 'f32',
      description: `external kernel declared in ${file}:3`,
      applies: { groups: 1 },
      accuracy: { kind: 'exact' },
      files: 'binary',
      archs: ['x86-64', 'arm64', 'armhf'],
      command: ['{binary}', '--algo', 'gemm', '{work}'],
      env: { OMP_NUM_THREADS: '1' },
      source: `${file}:3`,
    });
    // What travels to the device is the payload contract.
    expect(ExternalVariantSpec.parse(gemm!.spec)).toEqual(gemm!.spec);
    expect(gemm!.files).toEqual({
      kind: 'binary',
      binaries: { 'x86-64': join(dir, 'build/x86-64/conv'), arm64: join(dir, 'build/arm64/conv'), armhf: join(dir, 'build/armhf/conv') },
    });
    expect(gemm!.cases).toBe('all');
    expect(py!.spec).toMatchObject({ algorithm: 'winograd', accuracy: { kind: 'approximate', maxRelL2: 1e-4 }, files: 'dir', archs: [], source: `${file}:15` });
    expect(py!.files).toEqual({ kind: 'dir', dir: join(dir, 'py'), script: join(dir, 'py', 'run.py') });
    // A plain binary path: its architecture comes from its ELF header.
    expect(k.ceilings).toEqual({
      spec: { files: 'binary', archs: ['x86-64'], command: ['{binary}', '--json'], env: {}, source: `${file}:24` },
      files: { kind: 'binary', binaries: { 'x86-64': join(dir, 'build/x86-64/probe') } },
    });
  });

  it('loads from disk, paths relative to the file; a missing file says where it looked', () => {
    writeFileSync(file, GOOD);
    expect(loadKernelsFile(file).kernels).toHaveLength(2);
    expect(() => loadKernelsFile(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml: not found \(looked for .*nope\.yaml\): give the path of your kernels file/);
  });

  it('which cases a kernel is for, and which shapes it applies to', () => {
    const [gemm, py] = parse(GOOD).kernels;
    const c = { id: 'conv/resnet50.res2b.branch2b', layer: 'resnet50.res2b.branch2b' };
    expect(kernelForCase(gemm!, c)).toBe(true);
    expect(kernelForCase(py!, c)).toBe(true);
    expect(kernelForCase(py!, { id: 'conv/vgg16.conv3_2', layer: 'vgg16.conv3_2' })).toBe(true);
    expect(kernelForCase(py!, { id: 'conv/vgg16.conv5_1', layer: 'vgg16.conv5_1' })).toBe(false);
    const shape = { n: 1, c: 4, h: 5, w: 5, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 2 };
    expect(externalApplies(gemm!.spec, shape)).toMatch(/declared for groups = 1 only .* this case has groups = 2/);
    expect(externalApplies(gemm!.spec, { ...shape, groups: 1 })).toBe(true);
  });

  it('checks only the binaries of the architectures a run targets, when told which', () => {
    const text = GOOD.replace('build/armhf/conv', 'build/armhf/not-built-yet');
    expect(problems(text)[0]).toMatch(/^12:16: kernels\[0\] \([^)]*\)\.files\.binary\.armhf: not found \(looked for .*not-built-yet\): build it first/);
    expect(parse(text, { archs: ['x86-64'] }).kernels).toHaveLength(2);
  });
});

describe('mistakes, with file:line:column, the field and what to do', () => {
  const one = (from: string, to: string, opts?: KernelsFileOptions) => problems(GOOD.replace(from, to), opts);
  const cases: [string, string, string, RegExp, KernelsFileOptions?][] = [
    [
      'a command that is a shell string',
      'command: ["{binary}", --algo, gemm, "{work}"]',
      'command: "{binary} --algo gemm {work}"',
      /^13:14: kernels\[0\] \([^)]*\)\.command: expected a list of arguments \(argv\), got a string: roofbench runs the command without a shell, so it must be a YAML list, e\.g\. \["\{binary\}","--algo","gemm","\{work\}"\]$/,
    ],
    [
      'a command that is a mapping',
      'command: ["{binary}", --algo, gemm, "{work}"]',
      'command: { run: x }',
      /^13:14: kernels\[0\] \([^)]*\)\.command: expected a list of arguments \(argv\), got a mapping/,
    ],
    ['an empty command', 'command: ["{binary}", --algo, gemm, "{work}"]', 'command: []', /got an empty list: the first one is the program/],
    [
      'a missing binary',
      'x86-64: build/x86-64/conv',
      'x86-64: build/x86-64/conv2',
      /^10:17: kernels\[0\] \([^)]*\)\.files\.binary\.x86-64: not found \(looked for .*build\/x86-64\/conv2\): build it first \(e\.g\. scripts\/build-native\.sh ARCH/,
    ],
    [
      'a binary of another architecture',
      'arm64: build/arm64/conv',
      'arm64: build/x86-64/conv',
      /^11:16: kernels\[0\] \([^)]*\)\.files\.binary\.arm64: .*build\/x86-64\/conv is an x86-64 binary, declared for arm64: check the build \(scripts\/build-native\.sh arm64\)/,
    ],
    [
      'a binary roofbench has no architecture for',
      'x86-64: build/x86-64/conv',
      'x86-64: build/riscv',
      /is an ELF binary for an architecture roofbench does not run \(x86-64, armhf, arm64\)/,
    ],
    ['a binary that is not executable', 'x86-64: build/x86-64/conv', 'x86-64: build/x86-64/noexec', /noexec is not executable \(chmod \+x .*noexec\)/],
    [
      'a script declared as a binary',
      'x86-64: build/x86-64/conv',
      'x86-64: run.sh',
      /run\.sh is not an ELF executable: for a script, declare files: \{ dir: <its folder>, script: <its name> \}/,
    ],
    [
      'a misspelt architecture',
      'x86-64: build/x86-64/conv',
      'x86_64: build/x86-64/conv',
      /^10:17: kernels\[0\] \([^)]*\)\.files\.binary\.x86_64: unknown architecture "x86_64" \(did you mean "x86-64"\?\); valid: x86-64, armhf, arm64/,
    ],
    [
      'an unknown placeholder',
      '"{work}"]\n    env',
      '"{wrok}"]\n    env',
      /^13:41: kernels\[0\] \([^)]*\)\.command\[3\]: unknown placeholder \{wrok\} \(did you mean "work"\?\); placeholders: \{work\} \{case\}/,
    ],
    [
      'an unmatched brace',
      '"{work}"]\n    env',
      '"{work"]\n    env',
      /kernels\[0\] \([^)]*\)\.command\[3\]: unmatched "\{" in "\{work" \(write \{\{ for a literal brace\)/,
    ],
    [
      '{binary} in a command that uploads a directory',
      '[python3, "{script}"',
      '["{binary}", "{script}"',
      /^23:15: kernels\[1\] \([^)]*\)\.command\[0\]: \{binary\} \(the path of the uploaded binary .*\) has no value here; this command can use \{work\} \{case\} \{x\} \{w\} \{out\} \{dir\} \{script\}/,
    ],
    [
      'a command that never runs the binary',
      '["{binary}", --algo',
      '[./conv, --algo',
      /^13:14: kernels\[0\] \([^)]*\)\.command: the command never runs the uploaded binary: use \{binary\}/,
    ],
    [
      '{script} without script:',
      'files: { dir: py, script: run.py }',
      'files: { dir: py }',
      /kernels\[1\] \([^)]*\)\.command\[1\]: \{script\} is used but files: has no script:/,
    ],
    [
      'a script outside its directory',
      'script: run.py',
      'script: ../run.sh',
      /kernels\[1\] \([^)]*\)\.files\.script: \.\.\/run\.sh is outside dir: .*py \(only dir: is uploaded/,
    ],
    ['a missing script', 'script: run.py', 'script: main.py', /kernels\[1\] \([^)]*\)\.files\.script: not found \(looked for .*py\/main\.py\)/],
    [
      'both binary and dir',
      'files: { dir: py, script: run.py }',
      'files: { dir: py, script: run.py, binary: build/x86-64/conv }',
      /kernels\[1\] \([^)]*\)\.files: declare either binary: \(built binaries\) or dir: \(a directory with a script\), not both/,
    ],
    [
      'no files at all',
      'files: { dir: py, script: run.py }',
      'files: {}',
      /kernels\[1\] \([^)]*\)\.files: missing: binary: \(built binaries\) or dir: \(a directory to upload, with script:\)/,
    ],
    [
      'a misspelt key',
      '    command: [python3',
      '    comand: [python3',
      /^23:5: kernels\[1\] \([^)]*\)\.comand: unknown kernel key "comand" \(did you mean "command"\?\); valid: name, op, algorithm/,
    ],
    [
      'a missing key (pointed at the kernel that lacks it)',
      '    command: [python3, "{script}", "--case", "{case}", "--out", "{out}"]\n',
      '',
      /^15:5: kernels\[1\] \([^)]*\)\.command: missing: expected a list of arguments \(argv\)/,
    ],
    [
      'a name outside the variant grammar',
      'name: conv-im2col-gemm-native-f32',
      'name: Conv_GEMM',
      /^3:11: kernels\[0\] \([^)]*\)\.name: "Conv_GEMM" does not follow the variant grammar <op>-<algorithm>\[-<detail>\]-<dtype>/,
    ],
    [
      'a name whose dtype is not the declared one',
      'name: conv-im2col-gemm-native-f32',
      'name: conv-im2col-gemm-native-f16',
      /"conv-im2col-gemm-native-f16" declares dtype f32 but does not end in -f32/,
    ],
    [
      'a duplicate name',
      'name: conv-winograd-f4x4-py-f32',
      'name: conv-im2col-gemm-native-f32',
      /^15:11: kernels\[1\] \([^)]*\)\.name: duplicate kernel name "conv-im2col-gemm-native-f32" \(also kernels\[0\]\)/,
    ],
    [
      'the name of a built-in variant',
      'name: conv-im2col-gemm-native-f32',
      'name: conv-im2col-gemm-f32',
      /"conv-im2col-gemm-f32" is a built-in variant: give the external kernel its own name/,
      { builtinVariants: ['conv-im2col-gemm-f32'] },
    ],
    [
      'an unknown case',
      'cases: [vgg16.conv3_2,',
      'cases: [vgg16.conv3_3,',
      /^20:13: kernels\[1\] \([^)]*\)\.cases\[0\]: unknown case "vgg16\.conv3_3" \(did you mean "vgg16\.conv3_2"\?\)/,
      { knownCases: ['vgg16.conv3_2', 'conv/resnet50.res2b.branch2b'] },
    ],
    [
      'another dtype',
      '    dtype: f32\n    cases: all',
      '    dtype: f16\n    cases: all',
      /^5:12: kernels\[0\] \([^)]*\)\.dtype: expected f32, got "f16" \(the only dtype external kernels take for now/,
    ],
    [
      'another op',
      '    op: conv\n    dtype: f32\n    cases: all',
      '    op: gemm\n    dtype: f32\n    cases: all',
      /^4:9: kernels\[0\] \([^)]*\)\.op: expected conv, got "gemm"/,
    ],
    [
      'a wrong accuracy',
      'accuracy: { maxRelL2: 1e-4 }',
      'accuracy: approximate',
      /kernels\[1\] \([^)]*\)\.accuracy: expected exact, or \{ maxRelL2: <budget> \} for an approximate algorithm, got "approximate"/,
    ],
    [
      'a wrong applies',
      'applies: { groups: 1 }',
      'applies: { group: 1 }',
      /kernels\[0\] \([^)]*\)\.applies\.group: unknown shape field "group" \(did you mean "groups"\?\)/,
    ],
    ['cases neither all nor a list', 'cases: all', 'cases: every', /kernels\[0\] \([^)]*\)\.cases: expected all, or a list of layers, got "every"/],
    [
      'a bad environment variable name',
      'env: { OMP_NUM_THREADS: 1 }',
      'env: { OMP-THREADS: 1 }',
      /kernels\[0\] \([^)]*\)\.env\.OMP-THREADS: "OMP-THREADS" is not a valid environment variable name/,
    ],
    [
      'invalid YAML',
      '    op: conv\n    dtype: f32\n    cases: all',
      '    op: conv\n   dtype: f32\n    cases: all',
      /^\d+:\d+: : invalid YAML: .*check the indentation/,
    ],
  ];
  for (const [what, from, to, message, opts] of cases) {
    it(what, () => {
      expect(GOOD.includes(from), `fixture text not found: ${from}`).toBe(true);
      const got = one(from, to, opts);
      expect(
        got.some((p) => message.test(p)),
        got.join('\n'),
      ).toBe(true);
    });
  }

  it('an empty file, and one that declares nothing', () => {
    expect(problems('')[0]).toMatch(/expected a mapping with kernels: \(and optionally ceilings:\)/);
    // a whole file that is not a mapping is never quoted: it may be a key or a token named by mistake
    const text = problems('ghp_NotARealTokenButSecretLooking0123\n')[0];
    expect(text).toMatch(/got text of 37 characters \(not shown\)/);
    expect(text).not.toContain('ghp_');
    expect(problems('kernels_: []\n')).toEqual(expect.arrayContaining([expect.stringMatching(/declares nothing: add kernels:/)]));
  });

  it('reports every problem at once, in file order, and the message names the file', () => {
    const text = GOOD.replace('command: ["{binary}", --algo, gemm, "{work}"]', 'command: "{binary} {work}"')
      .replace('script: run.py', 'script: main.py')
      .replace('cases: all', 'cases: every');
    const got = problems(text);
    expect(got.map((p) => p.split(':')[0])).toEqual(['6', '13', '22']);
    try {
      parse(text);
    } catch (e) {
      expect((e as Error).message.split('\n')[0]).toMatch(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:12: kernels\\[0\\] \\(conv-im2col-gemm-native-f32\\)\\.cases: `),
      );
    }
  });
});

describe('argv templates', () => {
  it('expands placeholders inside arguments, never splitting or joining them', () => {
    expect(expandArgv(['{binary}', '--in={x}', '{{literal}}', 'a b', '{work}/out.npy'], { binary: '/d/conv', x: '/w/x.npy', work: '/w' })).toEqual([
      '/d/conv',
      '--in=/w/x.npy',
      '{literal}',
      'a b',
      '/w/out.npy',
    ]);
    expect(templatePlaceholders(['{binary}', '--x={x}{w}', '{{no}}'])).toEqual(['binary', 'x', 'w']);
    expect(() => expandArgv(['{binary}'], {})).toThrow(/placeholder \{binary\} in "\{binary\}" has no value here/);
    expect(() => expandArgv(['oops}'], {})).toThrow(/unmatched "\}" in "oops\}"/);
  });

  it('reads the architecture of an ELF binary', () => {
    expect(elfArch(join(dir, 'build/x86-64/conv'))).toBe('x86-64');
    expect(elfArch(join(dir, 'build/arm64/conv'))).toBe('arm64');
    expect(elfArch(join(dir, 'build/armhf/conv'))).toBe('armhf');
    expect(elfArch(join(dir, 'build/riscv'))).toBe('other');
    expect(elfArch(join(dir, 'run.sh'))).toBe(null);
    expect(elfArch(process.execPath)).toBe(process.arch === 'x64' ? 'x86-64' : process.arch === 'arm64' ? 'arm64' : 'armhf');
  });
});
