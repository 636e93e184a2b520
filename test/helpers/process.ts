import { readFileSync } from 'node:fs';

/**
 * Whether a process still runs. A killed process whose new parent has not
 * reaped it yet (PID 1 in a container may be slow to, or never) is a zombie:
 * kill(pid, 0) still succeeds on it, but it runs nothing. Running means it
 * exists and, where /proc says, is not in state Z.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Gone between the two looks (Linux), or no /proc (elsewhere: trust kill).
    return process.platform !== 'linux';
  }
  const close = stat.lastIndexOf(')');
  return stat.charAt(close + 2) !== 'Z';
}
