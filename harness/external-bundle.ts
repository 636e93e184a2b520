/**
 * The user's native kernels in a run (`--kernels FILE`): which of their files
 * travel in the payload and under which names, and what the plan tells the
 * device about them (harness/external.ts PlanExternal).
 *
 * Files are content-addressed inside the payload: a binary goes to
 * `native/<sha256>/<its name>`, a directory to `native/<sha256 of its files>/`.
 * So the payload hash changes exactly when one of them does (the device keeps
 * reusing its copy while nothing changed), two kernels sharing a binary upload
 * it once, and the device checks every byte against its SHA-256 before the
 * runner is loaded, as it does the runner's own files. A device receives only
 * the builds of its own architecture (harness/payload.ts payloadForArch).
 *
 * Host-side only (reads files).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ExternalCommand, ExternalKernel, HostFiles, KernelsFile } from './external-file.js';
import { NATIVE_ARCHS, type PayloadFiles, type PlanExternal, type TimingProtocol } from '../core/external.js';
import type { NativeFile } from './payload.js';

/** An uploaded directory may hold at most this much (a kernel and its scripts, not a data set). */
const MAX_DIR_BYTES = 256 * 1024 * 1024;
const MAX_DIR_FILES = 10_000;

const hash16 = (h: ReturnType<typeof createHash>) => h.digest('hex').slice(0, 16);

/** Every regular file under `dir` (relative paths, sorted); symbolic links to files are followed, to directories refused (a loop would never end). */
function walk(dir: string, source: string): string[] {
  const out: string[] = [];
  let bytes = 0;
  const visit = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const st = statSync(path.join(dir, p));
      if (st.isDirectory() && e.isSymbolicLink()) {
        throw new Error(
          `${source}: ${path.join(dir, p)} is a symbolic link to a directory: files: dir is uploaded whole, so replace the link by the files it needs`,
        );
      }
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) {
        out.push(p);
        bytes += st.size;
        if (out.length > MAX_DIR_FILES || bytes > MAX_DIR_BYTES) {
          throw new Error(
            `${source}: the directory ${dir} holds more than ${MAX_DIR_FILES} files or ${MAX_DIR_BYTES / 1024 / 1024} MiB: ` +
              'files: dir is uploaded whole to every device; point it at a folder with only the kernel and what it needs',
          );
        }
      }
    }
  };
  visit('');
  return out;
}

/** The payload files of one declaration, and where they are inside the payload. */
function bundleFiles(files: HostFiles, source: string): { native: NativeFile[]; where: PayloadFiles } {
  if (files.kind === 'binary') {
    const native: NativeFile[] = [];
    const binary: NonNullable<PayloadFiles['binary']> = {};
    for (const arch of NATIVE_ARCHS) {
      const p = files.binaries[arch];
      if (p === undefined) continue;
      const h = hash16(createHash('sha256').update(readFileSync(p)));
      const rel = `native/${h}/${path.basename(p)}`;
      native.push({ path: rel, source: p, arch, executable: true });
      binary[arch] = rel;
    }
    return { native, where: { binary } };
  }
  const rels = walk(files.dir, source);
  const h = createHash('sha256');
  const modes = new Map<string, boolean>();
  for (const r of rels) {
    const abs = path.join(files.dir, r);
    modes.set(r, (statSync(abs).mode & 0o111) !== 0);
    h.update(r)
      .update('\0')
      .update(readFileSync(abs))
      .update(modes.get(r) ? '\0x' : '\0-');
  }
  const base = `native/${hash16(h)}`;
  const native = rels.map((r) => ({ path: `${base}/${r}`, source: path.join(files.dir, r), arch: null, executable: modes.get(r) === true }));
  const where: PayloadFiles = { dir: base };
  if (files.script) where.script = `${base}/${path.relative(files.dir, files.script).split(path.sep).join('/')}`;
  return { native, where };
}

/**
 * What a run with these kernels sends: the files for the payload (every
 * architecture's; the payload of a device keeps its own) and the plan's part.
 * `used` are the kernel names the plan kept (a kernel the selection left out is not uploaded).
 */
export function bundleKernels(
  file: KernelsFile,
  used: ReadonlySet<string>,
  opts: { timing: TimingProtocol; timeoutMs: number; ceilings: boolean },
): { native: NativeFile[]; external: PlanExternal } {
  const native = new Map<string, NativeFile>();
  const add = (c: ExternalKernel | ExternalCommand) => {
    const b = bundleFiles(c.files, c.spec.source);
    for (const f of b.native) if (!native.has(f.path)) native.set(f.path, f);
    return b.where;
  };
  const kernels = file.kernels.filter((k) => used.has(k.spec.name)).map((k) => ({ spec: k.spec, files: add(k) }));
  const external: PlanExternal = { file: file.file, kernels, timing: opts.timing, timeoutMs: opts.timeoutMs };
  if (opts.ceilings && file.ceilings) external.ceilings = { spec: file.ceilings.spec, files: add(file.ceilings) };
  return { native: [...native.values()], external };
}
