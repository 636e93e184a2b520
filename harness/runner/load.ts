/**
 * Runs on the device: how much CPU other work took while the runner measured.
 *
 * A snapshot reads the machine's CPU time (/proc/stat on Linux, where it also
 * gives steal time; os.cpus() elsewhere), the runner's own CPU time
 * (process.cpuUsage) and, on Linux, its parent's (the host's `bench` process
 * on the local device, the remote shell over SSH): bookkeeping for this run,
 * not competing work. Between two snapshots, the CPU time nobody of this run
 * used, divided by the wall time, is the load other processes put on the
 * machine, in cores. Pure arithmetic apart from cpuSnapshot.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { CpuLoad } from '../../core/contracts.js';

/** Linux's USER_HZ: /proc tick counts are in 1/100 s on every mainstream architecture. */
const TICK_MS = 10;

export interface CpuSnapshot {
  /** Wall clock, ms (performance.now). */
  at: number;
  /** CPU time spent busy on all cores (everything but idle, iowait and steal), ms. */
  busyMs: number;
  /** All CPU time, steal included, ms. */
  totalMs: number;
  /** Time stolen by the hypervisor, ms; null where the kernel does not report it. */
  stealMs: number | null;
  /** This process's and its parent's CPU time, ms. */
  ownMs: number;
  /** 1-minute load average at the snapshot. */
  loadAvg1: number;
}

function readText(path: string): string | null {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : null;
  } catch {
    return null;
  }
}

/** CPU time of a process from /proc/<pid>/stat (utime + stime), ms; null where unavailable. */
function procCpuMs(pid: number): number | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : null;
}

/** The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal [guest guest_nice]. */
export function parseProcStat(text: string): { busyMs: number; totalMs: number; stealMs: number } | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 8 || v.some((x) => !Number.isFinite(x))) return null;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v as [number, number, number, number, number, number, number, number];
  // guest time is already counted in user (and guest_nice in nice).
  const busy = user + nice + system + irq + softirq;
  return { busyMs: busy * TICK_MS, totalMs: (busy + idle + iowait + steal) * TICK_MS, stealMs: steal * TICK_MS };
}

export function cpuSnapshot(): CpuSnapshot {
  const at = performance.now();
  const usage = process.cpuUsage();
  const parent = procCpuMs(process.ppid) ?? 0;
  const ownMs = (usage.user + usage.system) / 1000 + parent;
  const loadAvg1 = os.loadavg()[0] ?? 0;
  const stat = readText('/proc/stat');
  const parsed = stat !== null ? parseProcStat(stat) : null;
  if (parsed) return { at, ...parsed, ownMs, loadAvg1 };
  let busy = 0;
  let idle = 0;
  for (const c of os.cpus()) {
    busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
    idle += c.times.idle;
  }
  return { at, busyMs: busy, totalMs: busy + idle, stealMs: null, ownMs, loadAvg1 };
}

/** Other processes' CPU use between two snapshots, in cores, and the share of CPU time stolen. */
export function otherLoad(a: CpuSnapshot, b: CpuSnapshot): { seconds: number; otherCores: number; steal: number | null } {
  const wallMs = b.at - a.at;
  if (!(wallMs > 0)) return { seconds: 0, otherCores: 0, steal: null };
  const other = Math.max(0, b.busyMs - a.busyMs - (b.ownMs - a.ownMs));
  const total = b.totalMs - a.totalMs;
  const steal = a.stealMs !== null && b.stealMs !== null && total > 0 ? Math.max(0, b.stealMs - a.stealMs) / total : null;
  return { seconds: wallMs / 1000, otherCores: other / wallMs, steal };
}

/**
 * Tracks the load over a stretch of the run (from one health snapshot to the
 * next) and the worst single case within it.
 */
export class LoadTracker {
  private start = cpuSnapshot();
  private caseStart: CpuSnapshot | null = null;
  private worst = 0;
  private worstCase: string | null = null;
  private loadMax = this.start.loadAvg1;

  caseStarted(): void {
    this.caseStart = cpuSnapshot();
    this.loadMax = Math.max(this.loadMax, this.caseStart.loadAvg1);
  }

  caseFinished(caseId: string): void {
    if (!this.caseStart) return;
    const end = cpuSnapshot();
    this.loadMax = Math.max(this.loadMax, end.loadAvg1);
    const l = otherLoad(this.caseStart, end);
    if (l.otherCores > this.worst) {
      this.worst = l.otherCores;
      this.worstCase = caseId;
    }
    this.caseStart = null;
  }

  /** The load since the last call (or the start), for a health snapshot; then starts a new stretch. */
  take(): CpuLoad {
    const end = cpuSnapshot();
    const l = otherLoad(this.start, end);
    const out: CpuLoad = {
      seconds: l.seconds,
      otherCores: l.otherCores,
      maxCaseOtherCores: Math.max(this.worst, 0),
      maxCase: this.worstCase,
      steal: l.steal,
      maxLoadAvg1: Math.max(this.loadMax, end.loadAvg1),
    };
    this.start = end;
    this.worst = 0;
    this.worstCase = null;
    this.loadMax = end.loadAvg1;
    return out;
  }
}
