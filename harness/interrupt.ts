/**
 * Ctrl-C, SIGTERM, SIGHUP (and `timeout`, which sends SIGTERM) during a bench:
 * the first signal stops the runners in order (the runs are marked
 * `interrupted`, their reports and history written, the device locks
 * released); a second one exits at once, after marking every open run
 * `interrupted` in its results.json. Exit code 130 either way.
 */
export const INTERRUPTED_EXIT = 130;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/**
 * A signal this soon after the first is the same one, delivered again: a Ctrl-C
 * reaches every process of the terminal's group, and launchers (tsx, npm) relay
 * it to their child as well when it is slow to acknowledge (tsx waits 30 ms).
 * A person pressing Ctrl-C again, after reading the message, takes longer.
 */
const SAME_SIGNAL_MS = 500;

export class Interrupt {
  private readonly controller = new AbortController();
  private readonly closers = new Set<() => void>();
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  private firstAt = 0;

  constructor(private readonly say: (msg: string) => void) {}

  /** Fires (its reason is the signal's name) on the first signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get interrupted(): boolean {
    return this.controller.signal.aborted;
  }

  /** The signal that interrupted the run, e.g. "SIGINT". */
  get by(): string | null {
    return this.interrupted ? String(this.controller.signal.reason) : null;
  }

  /** Something to close synchronously before an immediate exit (a second signal). */
  onExit(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  install(): this {
    for (const sig of SIGNALS) {
      const h = () => this.receive(sig);
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
    return this;
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.removeListener(sig, h);
    this.handlers.clear();
  }

  /** A signal, or the same handling for another reason to stop (SIGPIPE: stdout went away). */
  receive(sig: NodeJS.Signals): void {
    if (sig === 'SIGHUP' || sig === 'SIGPIPE') quietBrokenStdio();
    if (!this.interrupted) {
      this.firstAt = Date.now();
      const again = sig === 'SIGINT' ? ' (Ctrl-C again to exit at once)' : sig === 'SIGPIPE' ? '' : ` (${sig} again to exit at once)`;
      this.say(
        `roofbench: ${sig === 'SIGPIPE' ? 'the output was closed (SIGPIPE)' : sig}: stopping the run; what finished is kept and its report written${again}`,
      );
      this.controller.abort(sig);
      return;
    }
    if (Date.now() - this.firstAt < SAME_SIGNAL_MS) return;
    this.say(`roofbench: ${sig} again: exiting now; open runs are marked interrupted, their reports are not written`);
    for (const close of this.closers) {
      try {
        close();
      } catch {
        /* exiting anyway */
      }
    }
    process.exit(INTERRUPTED_EXIT);
  }
}

/** After SIGHUP the terminal is gone: writing to it must not crash the orderly stop. */
function quietBrokenStdio(): void {
  for (const s of [process.stdout, process.stderr]) {
    if (s.listenerCount('error') === 0) s.on('error', () => {});
  }
}
