/**
 * What runs the runner on a device, for both transports (`local` and ssh): one
 * POSIX shell wrapper and the host side of its session.
 *
 * The wrapper (`sh -c`, on the device):
 *   1. takes the device lock: a directory made with mkdir (atomic), holding the
 *      owner, the wrapper's pid, the device's boot id and host name. A lock whose
 *      holder is gone (pid dead, device rebooted since, or the pid now another
 *      program) is recovered; one taken on another host (a shared NFS directory)
 *      is left to that host; the lock is released on exit only if it is still this run's;
 *   2. starts the payload bootstrap, which checks every payload file against the
 *      SHA-256 the host sent and only then loads runner.mjs (never code whose
 *      hash it did not verify);
 *   3. copies the host's stdin to the runner through a FIFO; when that input
 *      ends (the host stopped the run, or went away: the connection closed), a
 *      watchdog stops the runner even if it is stuck in a kernel.
 *
 * Exit codes: the runner's, or 70 no work dir, 73 no lock directory, 74 the lock
 * owner could not be written (full disk), 75 the lock is held (one JSON line
 * {"type":"lock-held"} on stdout), 76 the payload did not verify.
 */
import { shq, shJoin } from './shell.js';
import { eventLineHandler, lineSplitter } from './lines.js';
import type { RunHandlers, RunOutcome } from './types.js';
import type { Plan, RunnerEvent } from '../../core/contracts.js';

export const LOCK_HELD_EXIT = 75;
export const PAYLOAD_MISMATCH_EXIT = 76;
export const OWNER_WRITE_EXIT = 74;
export const LOCK_DIR_EXIT = 73;
/** The shipped Node in the work dir did not match its hashes (harness/node-ship.ts): nothing was run. */
export const SHIPPED_NODE_EXIT = 77;
/** What the runner exits with when its input ends before the run does (the host stopped it or is gone). */
export const STOPPED_EXIT = 130;

/** A fixed string in every wrapper's command line: a lock's pid that no longer shows it is not a roofbench run. */
export const LOCK_MARKER = 'roofbench-device-lock-v2';

/**
 * The payload bootstrap (CommonJS, Node >= 18), run as `node -e BOOT DIR EXPECTED`:
 * hashes every file of DIR, refuses a missing, changed or unexpected one (exit 76),
 * then imports DIR/runner.mjs in the same process.
 */
export const BOOTSTRAP = [
  "const fs=require('fs'),path=require('path'),crypto=require('crypto'),url=require('url');",
  'const dir=process.argv[1],exp=JSON.parse(process.argv[2]);',
  'const out=(o)=>process.stdout.write(JSON.stringify(o)+"\\n");',
  'const bad=[];',
  'for(const [p,h] of Object.entries(exp.files)){let d;try{d=fs.readFileSync(path.join(dir,p))}catch(e){bad.push(p+" (missing)");continue}',
  "if(crypto.createHash('sha256').update(d).digest('hex')!==h)bad.push(p)}",
  'const walk=(rel)=>{let es=[];try{es=fs.readdirSync(path.join(dir,rel),{withFileTypes:true})}catch(e){return}',
  'for(const e of es){const p=rel?rel+"/"+e.name:e.name;if(e.isDirectory())walk(p);else if(!(p in exp.files))bad.push(p+" (unexpected)")}};',
  "walk('');",
  'const n=Object.keys(exp.files).length;',
  "if(bad.length){out({type:'payload',hash:exp.hash,verified:false,files:n-bad.filter(b=>!b.endsWith('(unexpected)')).length,mismatched:bad});process.exit(76)}",
  "out({type:'payload',hash:exp.hash,verified:true,files:n});",
  "import(url.pathToFileURL(path.join(dir,'runner.mjs')).href).catch((e)=>{process.stderr.write(String(e&&e.stack||e)+'\\n');process.exit(1)});",
].join('');

export interface WrapperOptions {
  /** The work directory as a shell expression (already quoted: see remoteDir / shq). */
  workDir: string;
  /** The payload directory as a shell expression. */
  payloadDir: string;
  /** argv that runs Node on the device. */
  node: readonly string[];
  /** Instead of `node`: the shell text that runs Node (the shipped Node, whose path starts with "$HOME"). */
  nodeSh?: string;
  /** Shell run in the work dir, with the lock held, before Node starts (the shipped Node's hash check; it exits on failure). */
  preflight?: string | null;
  /** Who holds the lock, in words (user@host, run id, device, start time). */
  owner: string;
  /** The payload hash and every file's SHA-256. */
  expected: { hash: string; files: Record<string, string> };
}

/**
 * The lock's shell definitions (W must be set): L, the lock directory; boot,
 * this boot's id; stale, which prints why the lock in L is stale (nothing when
 * its holder may still be running). Shared by the wrapper and `devices check`.
 */
export const LOCK_SCRIPT = `L="$W/lock"
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
# Why the lock in $L is stale, or nothing when its holder may still run.
stale() {
  # Taken on another machine sharing this directory (NFS): its pid and boot id mean nothing here.
  lh=$(cat "$L/host" 2>/dev/null)
  [ -n "$lh" ] && [ "$lh" != "$(uname -n 2>/dev/null)" ] && return 0
  pid=$(cat "$L/pid" 2>/dev/null); lb=$(cat "$L/boot" 2>/dev/null)
  if [ -z "$pid" ]; then
    # Being set up (mkdir, then the owner): give its holder a minute.
    [ -n "$(find "$L" -maxdepth 0 -mmin -1 2>/dev/null)" ] && return 0
    echo "it has no owner pid"; return 0
  fi
  if [ -n "$boot" ] && [ -n "$lb" ] && [ "$lb" != "$boot" ]; then echo "it was taken before the device rebooted"; return 0; fi
  # kill -0 also fails for another user's live process (a shared workDir): /proc says whether it exists.
  if ! kill -0 "$pid" 2>/dev/null && [ ! -d "/proc/$pid" ]; then echo "its process $pid is gone"; return 0; fi
  if [ -r "/proc/$pid/cmdline" ] && ! grep -q ${LOCK_MARKER} "/proc/$pid/cmdline" 2>/dev/null; then
    echo "process $pid is now another program"; return 0
  fi
  return 0
}`;

/** The wrapper script (run it with `sh -c SCRIPT`). Everything from outside is quoted with shq. */
export function wrapperScript(o: WrapperOptions): string {
  return `# ${LOCK_MARKER}
W=${o.workDir}
P=${o.payloadDir}
mkdir -p "$W" 2>/dev/null
cd "$W" 2>/dev/null || { echo "roofbench: cannot create or enter the work directory $W (it holds the device lock): make it writable, or choose another workDir" >&2; exit 70; }
${LOCK_SCRIPT}
me=$$
rp=; wd=
own() {
  { printf '%s pid=%s\\n' ${shq(o.owner)} "$me" > "$L/owner" &&
    printf '%s\\n' "$boot" > "$L/boot" &&
    printf '%s\\n' "$(uname -n 2>/dev/null)" > "$L/host" &&
    printf '%s\\n' "$me" > "$L/pid"; } 2>/dev/null || return 1
  [ "$(cat "$L/pid" 2>/dev/null)" = "$me" ] && [ -s "$L/owner" ]
}
claim() {
  own && return 0
  rm -rf "$L"
  echo "roofbench: cannot write the lock owner in $L (is the device's disk full?); the run did not start" >&2
  exit ${OWNER_WRITE_EXIT}
}
take() {
  if mkdir "$L" 2>/dev/null; then claim; return 0; fi
  if [ ! -d "$L" ]; then echo "roofbench: cannot create the lock directory $L" >&2; exit ${LOCK_DIR_EXIT}; fi
  why=$(stale)
  [ -n "$why" ] || return 1
  # One recovery at a time: whoever makes $L.recover checks again and replaces the lock.
  if ! mkdir "$L.recover" 2>/dev/null; then
    [ -n "$(find "$L.recover" -maxdepth 0 -mmin -1 2>/dev/null)" ] && return 1
    rm -rf "$L.recover"; mkdir "$L.recover" 2>/dev/null || return 1
  fi
  why=$(stale)
  if [ -n "$why" ]; then
    echo "roofbench: recovering a stale lock ($why): $(cat "$L/owner" 2>/dev/null)" >&2
    rm -rf "$L"
  fi
  if mkdir "$L" 2>/dev/null; then rmdir "$L.recover" 2>/dev/null; claim; return 0; fi
  rmdir "$L.recover" 2>/dev/null
  return 1
}
# Release the lock only while it is still ours (a lock recovered by another run is theirs).
release() {
  [ "$(cat "$L/pid" 2>/dev/null)" = "$me" ] && rm -rf "$L"
}
if ! take; then
  o=$(cat "$L/owner" 2>/dev/null | tr -d '"\\\\' | tr -d '\\000-\\037')
  [ -n "$o" ] || o="a run that is starting (no owner written yet)"
  printf '{"type":"lock-held","owner":"%s"}\\n' "$o"
  exit ${LOCK_HELD_EXIT}
fi
stop() {
  [ -n "$rp" ] && kill -TERM "$rp" 2>/dev/null
  [ -n "$wd" ] && kill "$wd" 2>/dev/null
  c=$(cat "$L/cat" 2>/dev/null); [ -n "$c" ] && kill "$c" 2>/dev/null
  release
}
trap 'stop' EXIT
# With the host gone, its end of our stdout/stderr is closed: a write (even the shell's own
# "Terminated" notice) must fail quietly, not kill the wrapper before it releases the lock.
trap '' PIPE
trap 'exit 129' HUP
trap 'exit 143' TERM
trap 'exit 130' INT
if ! mkfifo "$L/in" 2>/dev/null; then
  echo "roofbench: cannot make the runner's input, a FIFO, at $L/in (is the disk full, or is $W on a file system without FIFOs, such as vfat? then set workDir elsewhere)" >&2
  exit ${OWNER_WRITE_EXIT}
fi
${o.preflight ?? ''}
exec 3<&0
${o.nodeSh ?? shJoin(o.node)} -e ${shq(BOOTSTRAP)} "$P" ${shq(JSON.stringify(o.expected))} < "$L/in" 3<&- &
rp=$!
# Copy the host's input to the runner. When it ends (the host stopped the run, or the connection is
# gone) and the runner still runs, stop it, even if it is stuck in a kernel. Nothing polls meanwhile.
( cat <&3 > "$L/in" 2>/dev/null &
  c=$!
  echo "$c" > "$L/cat"
  wait "$c"
  kill -0 "$rp" 2>/dev/null || exit 0
  sleep 2; kill -TERM "$rp" 2>/dev/null || exit 0
  sleep 3; kill -KILL "$rp" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
wd=$!
exec 3<&-
wait "$rp"
rc=$?
rp=
exit $rc
`;
}

/** The host side of one wrapper session: the input it writes and how it stops things. */
export interface SessionIo {
  /** Write to the wrapper's stdin (the runner's input). */
  write(text: string): void;
  /** End the wrapper's stdin: the runner stops (the watchdog makes sure of it). */
  endInput(): void;
  /** Kill the runner process (a hung case): SIGKILL to its pid on the device. */
  killRunner(pid: number): void;
  /** Last resort when the session does not end: drop it (local: kill the process group; ssh: close the channel). */
  forceClose(): void;
  /** Called once when the session is over (remove listeners). */
  dispose?(): void;
}

export interface SessionSink {
  stdout(chunk: Buffer | string): void;
  stderr(chunk: Buffer | string): void;
  /** The wrapper ended: exit code, or the signal that killed it. */
  close(code: number | null, signal: string | null): void;
  /** The wrapper could not be started at all. */
  fail(message: string): void;
  /** The connection to the device went away during the run (what was received is kept). */
  lost(message: string): void;
}

export type SessionResult = { kind: 'done'; outcome: RunOutcome } | { kind: 'lock-held'; owner: string | null } | { kind: 'payload-mismatch'; files: string[] };

export interface SessionOptions {
  /** The device, for messages. */
  device: string;
  /** No output from the runner for this long: the case is hung, the runner is killed. */
  inactivityMs: number;
  /** Stop the run (Ctrl-C): the runner is stopped, the lock released, what was measured kept. */
  abort?: AbortSignal;
  /** How long a stopped session may take to end before it is dropped (default 15 s). */
  stopGraceMs?: number;
}

/**
 * Run one wrapper session: send the plan, stream the runner's events to `h`,
 * watch for a hung case, stop on abort. `start` starts the wrapper and wires
 * its output to the sink.
 */
export function runSession(start: (sink: SessionSink) => SessionIo | null, plan: Plan, h: RunHandlers, o: SessionOptions): Promise<SessionResult> {
  return new Promise((resolvePromise) => {
    let done = false;
    let runnerPid: number | null = null;
    let lockHeld: string | null | undefined;
    let mismatch: string[] | null = null;
    let timer: NodeJS.Timeout | null = null;
    let stopTimer: NodeJS.Timeout | null = null;
    let hung: string | null = null;
    let lastCase = '';
    const wrapperErrors: string[] = [];
    let io: SessionIo | null = null;

    const finish = (r: SessionResult) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (stopTimer) clearTimeout(stopTimer);
      o.abort?.removeEventListener('abort', onAbort);
      io?.dispose?.();
      resolvePromise(r);
    };
    const interruptedOutcome = (): RunOutcome => ({
      exitCode: null,
      signal: null,
      failure: `interrupted${typeof o.abort?.reason === 'string' ? ` by ${o.abort.reason}` : ''}`,
      interrupted: true,
    });
    const onAbort = () => {
      if (done) return;
      if (timer) clearTimeout(timer);
      // Ending the input stops the runner; the wrapper then releases the lock and exits.
      io?.endInput();
      stopTimer = setTimeout(() => {
        io?.forceClose();
        finish({ kind: 'done', outcome: interruptedOutcome() });
      }, o.stopGraceMs ?? 15_000);
      stopTimer.unref();
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      // Output can still arrive after the session ended (a lost connection flushes what it buffered): a watchdog armed
      // then would never be cleared and would keep the process alive for the whole case timeout.
      if (done || o.abort?.aborted) return;
      timer = setTimeout(() => {
        hung = lastCase;
        if (runnerPid !== null) io?.killRunner(runnerPid);
        else io?.forceClose();
        // The wrapper reports the runner's end; if it does not, the session is dropped.
        setTimeout(() => {
          io?.forceClose();
          finish({ kind: 'done', outcome: hungOutcome(null, 'KILL') });
        }, 5_000).unref();
      }, o.inactivityMs);
    };
    const hungOutcome = (code: number | null, signal: string | null): RunOutcome => ({
      exitCode: code,
      signal,
      failure: `no event from the runner for ${(o.inactivityMs / 1000).toFixed(0)} s${hung ? ` in ${hung}` : ''}: the case hung and the runner was killed (raise --case-timeout if it is just slow)`,
      hungCase: hung || undefined,
    });
    const handle = eventLineHandler({
      onEvent: (e: RunnerEvent) => {
        if (e.type === 'hello') runnerPid = e.pid;
        if (e.type === 'case-start') lastCase = e.caseId;
        // Only the bootstrap (before the runner's hello) reports on the payload: file names from the
        // device are shown with their control characters neutralised.
        if (e.type === 'payload') {
          if (runnerPid !== null) return h.onStderr(`[ignored: a payload event after the runner started] ${JSON.stringify(e)}`);
          e = { ...e, ...(e.mismatched ? { mismatched: e.mismatched.map(printable) } : {}) };
          if (!e.verified) mismatch = e.mismatched ?? [];
        }
        h.onEvent(e);
      },
      onStderr: h.onStderr,
    });
    const out = lineSplitter((line) => {
      arm();
      // The wrapper says the lock is held before it starts anything; the runner cannot say it.
      if (runnerPid === null && line.startsWith('{"type":"lock-held"')) {
        try {
          const o = (JSON.parse(line) as { owner?: unknown }).owner;
          lockHeld = typeof o === 'string' ? printable(o) : null;
        } catch {
          lockHeld = null;
        }
        return;
      }
      handle(line);
    });
    const err = lineSplitter((l) => {
      if (l.startsWith('roofbench: ')) wrapperErrors.push(l.slice('roofbench: '.length));
      h.onStderr(l);
    });
    const sink: SessionSink = {
      stdout: (c) => out.push(c),
      stderr: (c) => err.push(c),
      fail: (message) => finish({ kind: 'done', outcome: o.abort?.aborted ? interruptedOutcome() : { exitCode: null, signal: null, failure: message } }),
      lost: (message) =>
        finish({
          kind: 'done',
          outcome: o.abort?.aborted
            ? interruptedOutcome()
            : { exitCode: null, signal: null, failure: `${message}${lastCase ? ` (in ${lastCase})` : ''}; results received so far are kept` },
        }),
      close: (code, signal) => {
        out.end();
        err.end();
        if (lockHeld !== undefined && code === LOCK_HELD_EXIT) return finish({ kind: 'lock-held', owner: lockHeld });
        if (mismatch !== null && code === PAYLOAD_MISMATCH_EXIT) return finish({ kind: 'payload-mismatch', files: mismatch });
        if (hung !== null) return finish({ kind: 'done', outcome: hungOutcome(code, signal) });
        if (o.abort?.aborted) return finish({ kind: 'done', outcome: { ...interruptedOutcome(), exitCode: code, signal } });
        let failure: string | null = null;
        const said = wrapperErrors.length ? `: ${wrapperErrors.join('; ')}` : '';
        if (signal) failure = `the runner on device ${o.device} was killed by ${signal.startsWith('SIG') ? signal : `SIG${signal}`}`;
        else if (code === OWNER_WRITE_EXIT || code === LOCK_DIR_EXIT || code === 70 || code === SHIPPED_NODE_EXIT)
          failure = `device ${o.device}: the run could not start${said || ` (exit ${code})`}`;
        else if (code === null) failure = `the runner on device ${o.device} ended without an exit status (killed, or the connection dropped)`;
        else if (code === 137 || code === 143 || code === 129) failure = `the runner on device ${o.device} was killed (exit ${code})`;
        else if (code === STOPPED_EXIT) failure = `the runner on device ${o.device} stopped: its input from the host ended`;
        else if (code !== 0) failure = `the runner on device ${o.device} exited with code ${code} (its stderr is in results.json)`;
        finish({ kind: 'done', outcome: { exitCode: code, signal, failure } });
      },
    };
    if (o.abort?.aborted) {
      finish({ kind: 'done', outcome: interruptedOutcome() });
      return;
    }
    io = start(sink);
    if (!io) return;
    if (done) {
      io.dispose?.();
      return;
    }
    o.abort?.addEventListener('abort', onAbort);
    arm();
    // One line: the runner reads the plan from it, then keeps reading; the end of its input means stop.
    io.write(`${JSON.stringify(plan)}\n`);
  });
}

/** Text from a device made safe to print: control characters become '?'. */
const printable = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').slice(0, 300);

/** The lock owner string: who, which run, which device, since when. */
export function lockOwner(user: string, host: string, runId: string, device: string): string {
  return `${user}@${host} run ${runId} device ${device} started ${new Date().toISOString()}`;
}

export interface LockedRunOptions {
  device: string;
  /** Where the lock lives, for the message that says how to remove it by hand. */
  lockPath: string;
  waitForLock?: boolean;
  lockPollMs?: number;
  lockWaitMaxMs?: number;
  abort?: AbortSignal;
  log: (msg: string) => void;
  /** Before each retry after the lock was found held: the time since then (the last call gives the whole wait). */
  onLockWait?: (waitedMs: number) => void;
}

/**
 * Run sessions until one runs the plan: wait for (or give up on) a held lock,
 * repair the payload once when the device's copy did not verify.
 */
export async function runLocked(session: () => Promise<SessionResult>, repair: (files: string[]) => Promise<void>, o: LockedRunOptions): Promise<RunOutcome> {
  const waitUntil = Date.now() + (o.lockWaitMaxMs ?? 6 * 3600_000);
  let repaired = false;
  let heldSince: number | null = null;
  for (;;) {
    if (heldSince !== null) o.onLockWait?.(Date.now() - heldSince);
    const r = await session();
    if (r.kind === 'done') return r.outcome;
    if (r.kind === 'payload-mismatch') {
      if (repaired) {
        return {
          exitCode: PAYLOAD_MISMATCH_EXIT,
          signal: null,
          failure: `the payload on device ${o.device} still does not match its hashes after a fresh upload (${r.files.join(', ')}): something on the device changes it; nothing was run`,
        };
      }
      o.log(`the payload cached on device ${o.device} does not match its hashes (${r.files.join(', ')}): replacing it`);
      await repair(r.files);
      repaired = true;
      continue;
    }
    const holder = r.owner ?? 'another run';
    if (!o.waitForLock) {
      return {
        exitCode: LOCK_HELD_EXIT,
        signal: null,
        failure: `device ${o.device} is busy: locked by ${holder}. Pass --wait to wait for it, or remove ${o.lockPath} on the device if that run is gone`,
      };
    }
    if (Date.now() > waitUntil) {
      return { exitCode: LOCK_HELD_EXIT, signal: null, failure: `gave up waiting for the lock on device ${o.device} (held by ${holder})` };
    }
    heldSince ??= Date.now();
    o.log(`device ${o.device} is locked by ${holder}; waiting`);
    const aborted = await sleep(o.lockPollMs ?? 5_000, o.abort);
    if (aborted) return { exitCode: null, signal: null, failure: `interrupted while waiting for the lock on device ${o.device}`, interrupted: true };
  }
}

/** Wait `ms`; resolves true early when `abort` fires. */
export function sleep(ms: number, abort?: AbortSignal): Promise<boolean> {
  return new Promise((res) => {
    if (abort?.aborted) return res(true);
    const t = setTimeout(() => {
      abort?.removeEventListener('abort', on);
      res(false);
    }, ms);
    const on = () => {
      clearTimeout(t);
      res(true);
    };
    abort?.addEventListener('abort', on, { once: true });
  });
}
