/**
 * Quoting for the remote POSIX shell. Nothing from devices.yaml or the command
 * line reaches a remote shell except through these functions.
 */

/** Single-quote a string for sh: 'it'\''s' */
export function shq(s: string): string {
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote shell');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A command line (argv) as one shell string, every word quoted. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shq).join(' ');
}

/**
 * A remote directory as written in devices.yaml (`~/.cache/roofbench`,
 * `/opt/roofbench`, `relative/dir`) in its two forms: for the shell (with
 * $HOME expanded by the shell, the rest quoted) and for SFTP (whose paths are
 * relative to the login directory).
 */
export function remoteDir(dir: string): { sh: string; sftp: string } {
  if (dir === '~' || dir === '~/') return { sh: '"$HOME"', sftp: '.' };
  if (dir.startsWith('~/')) {
    const rest = dir.slice(2).replace(/\/+$/, '');
    return { sh: `"$HOME"/${shq(rest)}`, sftp: rest };
  }
  if (dir.startsWith('~')) throw new Error(`workDir "${dir}": ~user paths are not supported; use ~/... or an absolute path`);
  const clean = dir.replace(/\/+$/, '') || '/';
  return { sh: shq(clean), sftp: clean };
}
