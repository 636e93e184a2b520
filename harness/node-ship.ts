/**
 * A board without a usable Node gets one: Debian 12's own Node 18 for its
 * architecture (armhf, arm64, amd64), the same build the emulated boards run
 * (scripts/arm-node.sh), packed once on this machine, content-hashed, uploaded
 * over SFTP into the device's work dir, verified there file by file, and run
 * from there with its own loader and libraries: no root on the board, nothing
 * outside the work dir, the board's own libraries untouched.
 *
 * The pack (`<cache>/node-ARCH-ID.tar.gz`, cache = $ROOFBENCH_ARM_CACHE or
 * .cache/arm-node): bin/node, lib/ (the dynamic loader and every shared library
 * node needs, found through their DT_NEEDED entries with readelf), and the few
 * JavaScript files Debian's node loads from /usr/share/nodejs (cjs-module-lexer,
 * undici, acorn). Those paths are compiled into libnode; without root they cannot
 * exist on the board, so the pack's libnode has the 18-byte prefix
 * `/usr/share/nodejs/` rewritten to `node/ID/` (also 18 bytes), relative to the
 * work dir, which is the current directory of every command that runs it
 * (the device wrapper and the probe `cd` there). ID names the pack's source
 * (format, architecture, Debian package versions), so it is known before the
 * pack is built; the tar's SHA-256 and every file's SHA-256 are the checks.
 *
 * On the device: WORKDIR/node/ID/{bin,lib,...}, run as
 *   [launcher...] WORKDIR/node/ID/lib/LOADER --library-path WORKDIR/node/ID/lib WORKDIR/node/ID/bin/node
 * (the loader's --library-path, not LD_LIBRARY_PATH: programs node starts, such
 * as the probe's shell commands, keep the board's own libraries). Every file is
 * checked with sha256sum against this machine's list before each run.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Client } from 'ssh2';
import type { DeviceNode } from '../core/contracts.js';
import { SHIP_ARCHES, type Device, type ShipArch } from './devices.js';
import { ROOT } from './payload.js';
import { remoteDir, shJoin, shq } from './transport/shell.js';
import { DEFAULT_STEP_TIMEOUT_MS, runStep, sftpCall, sftpOf, SshError, type SshOptions } from './transport/ssh.js';

const execFileP = promisify(execFile);

/** Bump when the pack's layout changes (it is part of the pack's ID). */
export const NODE_PACK_FORMAT = 1;
const PREFIX = '/usr/share/nodejs/';
const TRIPLET: Record<ShipArch, string> = { armhf: 'arm-linux-gnueabihf', arm64: 'aarch64-linux-gnu', amd64: 'x86_64-linux-gnu' };
const LOADER: Record<ShipArch, string> = { armhf: 'ld-linux-armhf.so.3', arm64: 'ld-linux-aarch64.so.1', amd64: 'ld-linux-x86-64.so.2' };

/** A packed Node, ready to upload. */
export interface NodePack {
  arch: ShipArch;
  /** 12 hex digits naming the pack's source; the folder on the device. */
  id: string;
  /** SHA-256 of the .tar.gz (hex). */
  hash: string;
  tarPath: string;
  /** Size of the .tar.gz in bytes. */
  bytes: number;
  /** `v18.20.4` */
  version: string;
  /** The Debian nodejs package, e.g. `nodejs armhf 18.20.4+dfsg-1~deb12u2`. */
  package: string;
  /** The dynamic loader's file name under lib/. */
  loader: string;
  /** Every file of the pack (relative path -> SHA-256 hex): checked on the device before each run. */
  sums: Record<string, string>;
}

/** Where sysroots, debs and packs are kept on this machine. */
export function armCache(): string {
  return process.env.ROOFBENCH_ARM_CACHE ?? join(ROOT, '.cache', 'arm-node');
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The sysroot of Debian's Node 18 for `arch`, built (or reused) by scripts/arm-node.sh. */
async function sysroot(arch: ShipArch, cache: string, log: (m: string) => void): Promise<string> {
  const root = join(cache, `sysroot-${arch}`);
  if (existsSync(join(root, '.roofbench-sysroot')) && existsSync(join(root, 'usr', 'bin', 'node'))) return root;
  log(`building Debian 12's Node 18 for ${arch} with scripts/arm-node.sh (once; cached in ${cache})`);
  try {
    await execFileP('bash', [join(ROOT, 'scripts', 'arm-node.sh'), arch, join(cache, 'wrappers')], {
      env: { ...process.env, ROOFBENCH_ARM_CACHE: cache },
      timeout: 900_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(
      `cannot build the Node 18 to ship for ${arch}: scripts/arm-node.sh failed:\n${String(err.stderr ?? err.message)
        .trim()
        .slice(-2000)}`,
      { cause: e },
    );
  }
  return root;
}

/** DT_NEEDED entries of an ELF file (readelf from binutils; any architecture). */
async function needed(file: string): Promise<string[]> {
  let out: string;
  try {
    ({ stdout: out } = await execFileP('readelf', ['-d', file], { maxBuffer: 16 * 1024 * 1024 }));
  } catch (e) {
    throw new Error(`readelf -d ${file} failed (install binutils: apt-get install binutils): ${(e as Error).message}`, { cause: e });
  }
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
}

/** Every file under `dir` (relative paths, sorted). */
function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, p));
    else out.push(p);
  }
  return out.sort();
}

/**
 * The packed Node 18 for `arch`: reused when its .tar.gz still has the hash it
 * was made with, else built from the sysroot (scripts/arm-node.sh builds that
 * first when missing).
 */
export async function packNode(arch: ShipArch, opts: { log?: (m: string) => void; cache?: string } = {}): Promise<NodePack> {
  const log = opts.log ?? (() => {});
  const cache = opts.cache ?? armCache();
  mkdirSync(cache, { recursive: true });
  const root = await sysroot(arch, cache, log);
  const stamp = readFileSync(join(root, '.roofbench-sysroot'), 'utf8');
  const packages = stamp
    .split('\n')
    .filter((l) => l.startsWith('package='))
    .join('\n');
  const version = /^node=(.*)$/m.exec(stamp)?.[1] ?? 'unknown';
  const pkg = /^package=(nodejs .*)$/m.exec(stamp)?.[1] ?? `nodejs ${arch}`;
  const id = sha256(`format=${NODE_PACK_FORMAT}\narch=${arch}\n${packages}\n`).slice(0, 12);
  const tarPath = join(cache, `node-${arch}-${id}.tar.gz`);
  const metaPath = `${tarPath}.json`;
  if (existsSync(metaPath) && existsSync(tarPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as NodePack;
      if (meta.id === id && sha256(readFileSync(tarPath)) === meta.hash) return { ...meta, tarPath };
      log(`${tarPath} does not match its recorded hash: packing it again`);
    } catch {
      /* unreadable metadata: pack again */
    }
  }
  log(`packing Debian's Node ${version} for ${arch} (once; ${tarPath})`);
  const libDir = join(root, 'usr', 'lib', TRIPLET[arch]);
  const stage = join(cache, `.pack-${arch}-${id}.tmp-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  try {
    mkdirSync(join(stage, 'bin'), { recursive: true });
    mkdirSync(join(stage, 'lib'));
    copyFileSync(join(root, 'usr', 'bin', 'node'), join(stage, 'bin', 'node'));
    // The loader and the closure of DT_NEEDED, by soname (copyFileSync follows the symlinks).
    copyFileSync(join(libDir, LOADER[arch]), join(stage, 'lib', LOADER[arch]));
    const todo = await needed(join(root, 'usr', 'bin', 'node'));
    const seen = new Set<string>([LOADER[arch]]);
    while (todo.length > 0) {
      const so = todo.shift()!;
      if (seen.has(so)) continue;
      seen.add(so);
      const src = [join(libDir, so), join(root, 'usr', 'lib', so)].find((p) => existsSync(p));
      if (!src)
        throw new Error(
          `packing Node for ${arch}: ${so} (needed by node) is not in ${root}; rebuild it: ROOFBENCH_ARM_REFRESH=1 scripts/arm-node.sh ${arch} DIR`,
        );
      copyFileSync(src, join(stage, 'lib', so));
      todo.push(...(await needed(src)));
    }
    // Debian's compiled-in /usr/share/nodejs paths: copy what they name, point them into the work dir.
    const libnode = [...seen].find((s) => s.startsWith('libnode.so'));
    if (!libnode) throw new Error(`packing Node for ${arch}: node does not link libnode (not Debian's build?)`);
    const bin = readFileSync(join(stage, 'lib', libnode));
    const text = bin.toString('latin1');
    const files = new Set([...text.matchAll(/\/usr\/share\/nodejs\/[A-Za-z0-9_./-]+\.js/g)].map((m) => m[0]));
    for (const f of files) {
      const src = join(root, f);
      if (!existsSync(src)) continue; // named in process.config only, or not part of Debian 12's closure
      const dst = join(stage, f.slice(PREFIX.length));
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
    }
    const to = Buffer.from(`node/${id}/`, 'latin1');
    const from = Buffer.from(PREFIX, 'latin1');
    if (to.length !== from.length) throw new Error(`internal: the prefix node/${id}/ must be ${from.length} bytes`);
    let n = 0;
    for (let at = bin.indexOf(from); at >= 0; at = bin.indexOf(from, at + from.length)) {
      to.copy(bin, at);
      n++;
    }
    if (n === 0) throw new Error(`packing Node for ${arch}: ${libnode} names no ${PREFIX} path (not Debian's build?)`);
    writeFileSync(join(stage, 'lib', libnode), bin);
    const sums = Object.fromEntries(walk(stage).map((p) => [p, sha256(readFileSync(join(stage, p)))]));
    const { stdout } = await execFileP(
      'tar',
      ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-cf', '-', ...readdirSync(stage).sort()],
      {
        encoding: 'buffer',
        maxBuffer: 1024 * 1024 * 1024,
      },
    );
    const tgz = gzipSync(stdout, { level: 6 });
    const pack: NodePack = { arch, id, hash: sha256(tgz), tarPath, bytes: tgz.byteLength, version, package: pkg, loader: LOADER[arch], sums };
    const tmp = `${tarPath}.tmp-${process.pid}`;
    writeFileSync(tmp, tgz);
    renameSync(tmp, tarPath);
    writeFileSync(`${metaPath}.tmp-${process.pid}`, `${JSON.stringify({ ...pack, tarPath: undefined }, null, 2)}\n`);
    renameSync(`${metaPath}.tmp-${process.pid}`, metaPath);
    return pack;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// On the device
// ---------------------------------------------------------------------------

/** The shipped Node's folder on the device: for the shell and for SFTP. */
function shippedDir(device: Device, pack: Pick<NodePack, 'id'>): { sh: string; sftp: string; rel: string } {
  const w = remoteDir(device.workDir);
  return { sh: `${w.sh}/node/${shq(pack.id)}`, sftp: `${w.sftp}/node/${pack.id}`, rel: `node/${pack.id}` };
}

/**
 * A shell fragment that succeeds only when every file of the shipped Node in
 * `dirSh` has the SHA-256 this machine computed (coreutils or busybox sha256sum).
 */
export function verifyShippedScript(dirSh: string, sums: Readonly<Record<string, string>>): string {
  const list = Object.entries(sums)
    .map(([p, h]) => `${h}  ${p}`)
    .join('\n');
  return `( cd ${dirSh} 2>/dev/null && printf '%s\\n' ${shq(list)} | sha256sum -c - >/dev/null 2>&1 )`;
}

/** What runs the shipped Node (shell text: the work dir may start with "$HOME"). */
export function shippedNodeCommand(device: Device, pack: Pick<NodePack, 'id' | 'loader'>): string {
  const d = shippedDir(device, pack).sh;
  const env = device.emulated && device.launcher.length > 0 ? `ROOFBENCH_EMULATION=${shq(device.launcher.join(' '))} ` : '';
  const launcher = device.launcher.length > 0 ? `${shJoin(device.launcher)} ` : '';
  return `${env}${launcher}${d}/lib/${shq(pack.loader)} --library-path ${d}/lib ${d}/bin/node`;
}

/** The device's Debian architecture, for the shipped Node: `arch:` in devices.yaml, else asked (dpkg, uname). */
export async function remoteArch(client: Client, device: Device, opts: SshOptions = {}): Promise<ShipArch> {
  if (device.arch) return device.arch;
  const r = await runStep(client, 'dpkg --print-architecture 2>/dev/null; echo "@@"; uname -m', {
    deadlineMs: opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    what: `asking device ${device.name} for its architecture`,
    abort: opts.abort,
  });
  const [dpkgPart = '', unamePart = ''] = r.stdout.split('@@');
  const dpkg = dpkgPart.trim();
  const machine = unamePart.trim();
  return archOf(device.name, dpkg, machine);
}

/** The shipped Node's architecture from `dpkg --print-architecture` (may be empty) and `uname -m`; throws with what to do. */
export function archOf(name: string, dpkg: string, machine: string): ShipArch {
  const unsupported = (what: string) =>
    new SshError(
      `device ${name} is ${what}: roofbench ships Node 18 for ${SHIP_ARCHES.join(', ')} only. Install Node >= 18 on it and set node: in devices.yaml` +
        ' (or set arch: when the device runs one of those under emulation)',
      'node',
    );
  if (/^armv[65]/.test(machine)) throw unsupported(`an ${machine} (ARMv6 or older: Debian's armhf Node needs ARMv7, e.g. a Raspberry Pi 2 or later)`);
  if (dpkg) {
    if ((SHIP_ARCHES as readonly string[]).includes(dpkg)) return dpkg as ShipArch;
    throw unsupported(`a Debian ${dpkg} system`);
  }
  if (machine === 'aarch64' || machine === 'arm64') return 'arm64';
  if (/^armv[78]/.test(machine)) return 'armhf';
  if (machine === 'x86_64' || machine === 'amd64') return 'amd64';
  throw unsupported(`a ${machine || 'machine of unknown architecture'}`);
}

/**
 * Make sure the device holds `pack`, intact: reused when every file matches,
 * else uploaded (SFTP), its tar checked, unpacked and every file checked.
 * Returns the bytes uploaded (0 when reused) and the seconds it took.
 */
export async function ensureShippedNode(
  client: Client,
  device: Device,
  pack: NodePack,
  opts: SshOptions = {},
): Promise<{ uploadedBytes: number; seconds: number }> {
  const t0 = performance.now();
  const step = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const dir = shippedDir(device, pack);
  const w = remoteDir(device.workDir);
  const check = await runStep(client, `mkdir -p ${w.sh}/node || exit 71\n${verifyShippedScript(dir.sh, pack.sums)} && echo intact`, {
    deadlineMs: step,
    what: `checking the shipped Node on device ${device.name}`,
    abort: opts.abort,
  });
  if (check.code === 71) {
    throw new SshError(
      `cannot create ${device.workDir}/node on device ${device.name}: make the work dir writable or set workDir in devices.yaml (${check.stderr.trim().slice(0, 300)})`,
      'node',
    );
  }
  if (check.stdout.includes('intact')) return { uploadedBytes: 0, seconds: (performance.now() - t0) / 1000 };
  const stamp = `${process.pid}-${Date.now()}`;
  const tmpTar = `.tmp-${pack.id}-${stamp}.tar.gz`;
  const tmpDir = `.tmp-${pack.id}-${stamp}`;
  const sftp = await sftpOf(client);
  try {
    const data = readFileSync(pack.tarPath);
    // A large file: its deadline grows with its size (at least 1 MB/s).
    const ms = Math.max(step, Math.ceil(data.byteLength / 1e6) * 1000);
    await sftpCall<void>(sftp, (cb) => sftp.writeFile(`${w.sftp}/node/${tmpTar}`, data, cb), {
      ms,
      what: `uploading Node ${pack.version} (${(pack.bytes / 1e6).toFixed(1)} MB) to device ${device.name}`,
    });
  } catch (cause) {
    await runStep(client, `rm -f ${w.sh}/node/${shq(tmpTar)}`, { deadlineMs: step, what: 'cleaning up' }).catch(() => undefined);
    if (cause instanceof SshError) throw cause;
    throw new SshError(
      `uploading Node ${pack.version} (${(pack.bytes / 1e6).toFixed(1)} MB, about ${Math.ceil((pack.bytes * 3.5) / 1e6)} MB unpacked) to device ${device.name}:${device.workDir} failed: ${(cause as Error).message}. ` +
        'Free some disk space on the device or set workDir in devices.yaml',
      'upload',
      { cause },
    );
  } finally {
    sftp.end();
  }
  const unpack = [
    `cd ${w.sh}/node || exit 71`,
    `T=${shq(tmpTar)}; D=${shq(tmpDir)}`,
    `got=$(sha256sum "$T" 2>/dev/null | cut -c1-64)`,
    `if [ "$got" != ${shq(pack.hash)} ]; then rm -f "$T"; echo "roofbench: the uploaded Node archive has SHA-256 $got, expected ${pack.hash}" >&2; exit 81; fi`,
    `rm -rf "$D"; mkdir "$D" || exit 82`,
    `tar -xzf "$T" -C "$D" || { rm -rf "$D" "$T"; echo "roofbench: tar -xzf failed (df: $(df -Pk . | tail -n 1))" >&2; exit 85; }`,
    `rm -f "$T"`,
    `${verifyShippedScript('"$D"', pack.sums)} || { rm -rf "$D"; echo "roofbench: the unpacked Node does not match its hashes (a full disk? df: $(df -Pk . | tail -n 1))" >&2; exit 83; }`,
    `rm -rf ${shq(pack.id)} && mv "$D" ${shq(pack.id)} || exit 84`,
  ].join('\n');
  const r = await runStep(client, unpack, {
    deadlineMs: Math.max(step, 300_000),
    what: `unpacking Node ${pack.version} on device ${device.name}`,
    abort: opts.abort,
  });
  if (r.code !== 0) {
    throw new SshError(
      `installing the shipped Node in ${device.workDir}/node/${pack.id} on device ${device.name} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 600)}. ` +
        'It needs tar, gzip and sha256sum on the device and about 100 MB free in the work dir',
      'upload',
    );
  }
  return { uploadedBytes: pack.bytes, seconds: (performance.now() - t0) / 1000 };
}

/** How the device's Node is recorded in a run (results.json `device.node`). */
export function shippedRecord(device: Device, pack: NodePack, version: string, uploaded: { uploadedBytes: number; seconds: number }): DeviceNode {
  return {
    source: 'shipped',
    version,
    command: `${device.launcher.length ? `${device.launcher.join(' ')} ` : ''}${device.workDir}/node/${pack.id}/bin/node (with its own loader and libraries)`,
    shipped: {
      arch: pack.arch,
      package: pack.package,
      id: pack.id,
      sha256: pack.hash,
      bytes: pack.bytes,
      uploadedBytes: uploaded.uploadedBytes,
      seconds: Math.round(uploaded.seconds * 1000) / 1000,
    },
  };
}
