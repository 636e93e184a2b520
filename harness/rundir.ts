/**
 * Where a run is written: checked before anything is created, and claimed
 * atomically, so two runs never share a directory and no run overwrites
 * another's results.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { RESULTS_FILE } from './results.js';

/** A path the user gave that cannot hold a run (exit code 2, like other usage errors). */
export class OutPathError extends Error {
  override name = 'OutPathError';
}

/** Kernel and device file systems: not a place for a run (and `mkdir -p` in /proc never returns on some Node versions). */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];
/** Real file systems under those roots (/dev/shm is a tmpfs). */
const ALLOWED_UNDER_PSEUDO = ['/dev/shm'];
const under = (p: string, root: string) => p === root || p.startsWith(`${root}${sep}`);
/** statfs magic numbers of pseudo file systems (proc, sysfs, devtmpfs/devpts, debugfs, tracefs, cgroup, cgroup2, securityfs, configfs). */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x1cd1, 0x64626720, 0x74726163, 0x27e0eb, 0x63677270, 0x73636673, 0x62656570]);

/** The deepest part of `p` that exists (p itself, or an ancestor). */
function existingAncestor(p: string): string {
  let cur = p;
  for (;;) {
    if (existsSync(cur)) return cur;
    const up = dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EACCES':
      return 'permission denied';
    case 'EPERM':
      return 'operation not permitted (is the directory immutable, or on a read-only mount?)';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    default:
      return err.message ?? String(e);
  }
}

/**
 * Check `--out` before anything is created: not inside /proc, /sys or /dev (or
 * another kernel file system), every existing part of it a directory, and not a
 * directory that already holds something (a run is never overwritten).
 * Returns the absolute path.
 */
export function checkOutDir(out: string): string {
  const abs = resolve(out);
  const anc = existingAncestor(abs);
  let real = anc;
  try {
    real = realpathSync(anc);
  } catch {
    /* a dangling link: statSync below says so */
  }
  for (const root of PSEUDO_ROOTS) {
    if (ALLOWED_UNDER_PSEUDO.some((ok) => under(real, ok) && under(abs, ok) && abs !== ok)) continue;
    if (under(real, root) || under(abs, root)) {
      throw new OutPathError(`--out ${out} is inside ${root}, a kernel file system, not a place for a run: choose a directory on disk`);
    }
  }
  try {
    if (PSEUDO_FS.has(Number(statfsSync(anc).type))) {
      throw new OutPathError(`--out ${out} is on a kernel file system (${anc}), not a place for a run: choose a directory on disk`);
    }
  } catch (e) {
    if (e instanceof OutPathError) throw e;
  }
  let st;
  try {
    st = statSync(anc);
  } catch (e) {
    throw new OutPathError(`--out ${out}: cannot use ${anc}: ${describe(e)}`, { cause: e });
  }
  if (!st.isDirectory()) {
    throw new OutPathError(
      anc === abs
        ? `--out ${out} exists and is a file, not a directory: give a new directory for the run`
        : `--out ${out}: ${anc} is a file, not a directory, so nothing can be created under it`,
    );
  }
  if (anc === abs) {
    let entries: string[];
    try {
      entries = readdirSync(abs);
    } catch (e) {
      throw new OutPathError(`--out ${out}: cannot read the directory: ${describe(e)}`, { cause: e });
    }
    if (entries.length > 0) {
      const what = entries.includes(RESULTS_FILE)
        ? `holds a run (${RESULTS_FILE})`
        : `is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'})`;
      throw new OutPathError(
        `--out ${out} already exists and ${what}: roofbench never overwrites a run. Give a new directory, or leave --out out (runs go to reports/<device>/<run-id>)`,
      );
    }
  }
  return abs;
}

/**
 * Claim `dir` for one run, atomically: its parents are made, then the directory
 * itself with a non-recursive mkdir, which exactly one process can win. An
 * existing empty directory (an explicit --out) is claimed by creating its
 * results.json exclusively. Throws OutPathError when it is taken or cannot be made.
 */
export function claimDir(dir: string, label = dir): void {
  try {
    mkdirSync(dirname(dir), { recursive: true });
  } catch (e) {
    throw new OutPathError(`cannot create ${dirname(dir)} for ${label}: ${describe(e)}`, { cause: e });
  }
  try {
    mkdirSync(dir);
    // Claimed at once: another run trying the same path between this mkdir and the first save finds it taken.
    closeSync(openSync(join(dir, RESULTS_FILE), 'wx'));
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutPathError(`cannot create ${label}: ${describe(e)}`, { cause: e });
  }
  // It exists: usable only if it is an empty directory nobody else claimed first.
  if (!statSync(dir).isDirectory()) throw new OutPathError(`${label} exists and is a file, not a directory`);
  try {
    closeSync(openSync(join(dir, RESULTS_FILE), 'wx'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OutPathError(`${label} already holds a run: roofbench never overwrites a run`);
    throw new OutPathError(`cannot write in ${label}: ${describe(e)}`, { cause: e });
  }
  const others = readdirSync(dir).filter((f) => f !== RESULTS_FILE);
  if (others.length > 0) throw new OutPathError(`${label} is not empty: roofbench never overwrites a run`);
}

/**
 * Claim a new run directory under `parent` named `name`, or `name-2`, `name-3`
 * ... when that is taken (runs started in the same second). Returns its path;
 * its base name is the run's id.
 */
export function claimRunDir(parent: string, name: string): string {
  for (let i = 1; i < 10_000; i++) {
    const dir = join(parent, i === 1 ? name : `${name}-${i}`);
    try {
      mkdirSync(parent, { recursive: true });
      mkdirSync(dir);
      return dir;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw new OutPathError(`cannot create the run directory ${dir}: ${describe(e)}`, { cause: e });
    }
  }
  throw new OutPathError(`cannot find a free run directory name under ${parent} for ${name}`);
}

/** The run id a claimed directory stands for (its base name). */
export const runIdOf = (dir: string) => basename(dir);
