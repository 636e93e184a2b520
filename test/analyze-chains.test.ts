/**
 * npm run analyze -- --chain: chains cut from zoo networks, modeled against a device's caches (docs/tiling.md).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeChain, ChainError, chainFromGraph, chainText, deviceCaches, parseChainSpec } from '../harness/analyze/chains.js';
import { main } from '../harness/analyze/cli.js';
import { parseDevices } from '../harness/devices.js';
import { loadZooModel } from '../suites/models/zoo.js';

const registry = parseDevices(
  `profiles:
  board:
    description: a board
    peakGflops: { f32: 10 }
    dramGbps: 4
    caches: { l1d: 32KiB, l2: 512KiB }
    source: test
  bare:
    description: no caches
    peakGflops: { f32: 10 }
    dramGbps: 4
    source: test
devices:
  local: { transport: local }
`,
  'inline.yaml',
);
const NO_HISTORY = join('/nonexistent', 'history.sqlite');

const chainOf = (model: string, spec: string) => {
  const m = loadZooModel(model, { weights: false });
  const { first, last } = parseChainSpec(`${model}:${spec}`);
  return chainFromGraph(m.graph, m.shapes, first, last, `${model}:${spec}`);
};

describe('chains cut from networks', () => {
  it('VGG-16 conv3_1..conv3_3: three 3x3 convs at 56x56, the ReLUs fused', () => {
    const { chain, fused } = chainOf('vgg16', 'conv3_1..conv3_3');
    expect([chain.h, chain.w, chain.c]).toEqual([56, 56, 128]);
    expect(chain.layers.map((l) => [l.name, l.k, l.stride, l.pad, l.cout])).toEqual([
      ['conv3_1.conv', 3, 1, 1, 256],
      ['conv3_2.conv', 3, 1, 1, 256],
      ['conv3_3.conv', 3, 1, 1, 256],
    ]);
    expect(fused).toEqual(['conv3_1.conv.relu', 'conv3_2.conv.relu', 'conv3_3.conv.relu']);
  });

  it('MobileNet v1 block conv3 (depthwise stride 2, then pointwise): the depthwise conv keeps its groups', () => {
    const { chain } = chainOf('mobilenet_v1', 'conv3');
    expect(chain.layers[0]).toMatchObject({ k: 3, stride: 2, groups: 64 });
    expect(chain.layers[1]).toMatchObject({ k: 1, stride: 1, cout: 128 });
  });

  it('refuses what is not a linear chain of convs and pools, naming the node', () => {
    expect(() => chainOf('resnet50_v1.5', 'conv2_1..conv2_2')).toThrow(/node conv2_1\.proj reads pool1, not the chain's/);
    expect(() => chainOf('vgg16', 'pool5..fc6')).toThrow(/node pool5\.flatten is a flatten: a chain holds conv and pool nodes/);
    expect(() => chainOf('vgg16', 'conv9_1')).toThrow(/no node "conv9_1" in vgg16 \(its conv nodes: conv1_1\.conv/);
    expect(() => parseChainSpec('vgg16')).toThrow(ChainError);
    expect(() => chainOf('squeezenet_1.1', 'conv1..pool1')).toThrow(/ceil mode/);
  });
});

describe('the analysis against a device', () => {
  it("uses the profile's caches when the history has no probed run, and says so", () => {
    const c = deviceCaches(registry, NO_HISTORY, 'board');
    expect(c.caches).toEqual([
      { level: 'l1d', bytes: 32 * 1024 },
      { level: 'l2', bytes: 512 * 1024 },
    ]);
    expect(c.source).toMatch(/profile "board"/);
    expect(() => deviceCaches(registry, NO_HISTORY, 'bare')).toThrow(/no cache sizes for device bare: run npm run bench -- --device bare/);
  });

  it('VGG-16 conv2_1..conv2_2 at 112x112 on a 2 MiB L2: tiles cut the bytes beyond L2, at a recompute price', () => {
    const { chain, fused } = chainOf('vgg16', 'conv2_1..conv2_2');
    const a = analyzeChain('vgg16:conv2_1..conv2_2', chain, fused, [{ level: 'l2', bytes: 2 * 2 ** 20 }], 'test');
    const l2 = a.perLevel[0]!;
    expect(l2.best.recompute).not.toBeNull();
    expect(l2.best.recompute!.offChipBytes).toBeLessThan(l2.layerByLayer.offChipBytes / 2);
    expect(l2.best.recompute!.recomputeOverhead).toBeGreaterThan(0);
    expect(l2.best.cache!.recomputeOverhead).toBe(0);
    // the sweep runs from 1x1 to the whole image, and only tiles whose working set fits are a 'best'
    expect(a.sweep[0]!.side).toBe(1);
    expect(a.sweep.at(-1)!.side).toBe(112);
    expect(a.sweep.at(-1)!.recompute.fits).toBe(false);
    const text = chainText(a);
    expect(text).toMatch(/conv2_1\.conv -> conv2_2\.conv/);
    expect(text).toMatch(/L2 +22\.3 MiB/);
  });
});

describe('npm run analyze -- --chain', () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const o = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      const code = await main(args);
      return { code, stdout: out.join(''), stderr: err.join('') };
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
  };

  it('prints the chain against the named profile; bad specs and devices exit 2 with a clear message', async () => {
    const ok = await run(['--chain', 'vgg16:conv3_1..conv3_3', '--device', 'rpi3', '--history', NO_HISTORY]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/caches \(profile "rpi3" in devices\.yaml; device rpi3\): L1D 32\.0 KiB, L2 512 KiB/);
    const json = await run(['--chain', 'vgg16:conv3_1..conv3_3', '--device', 'rpi3', '--history', NO_HISTORY, '--json']);
    expect((JSON.parse(json.stdout) as { chain: { layers: unknown[] } }[])[0]!.chain.layers).toHaveLength(3);
    const typo = await run(['--chain', 'vgg16:conv3_1', '--device', 'rpi', '--history', NO_HISTORY]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown device "rpi" \(did you mean "rpi3"\?\)/);
    const bad = await run(['--chain', 'vgg16', '--device', 'rpi3', '--history', NO_HISTORY]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected MODEL:FIRST\.\.LAST/);
    const both = await run(['--chain', 'vgg16:conv3_1', '--model', 'vgg16']);
    expect(both.code).toBe(2);
  });

  it('a mistyped option exits 2 with "did you mean", as the bench CLI does', async () => {
    const typo = await run(['--modle', 'vgg16']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option --modle \(did you mean --model\?\)/);
    const far = await run(['--zzzzzz']);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/Unknown option '--zzzzzz'/);
  });
});
