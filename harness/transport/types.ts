import type { Plan, RunnerEvent } from '../../core/contracts.js';
import type { Payload } from '../payload.js';

export interface RunHandlers {
  onEvent(e: RunnerEvent): void;
  /** A line the runner wrote to stderr (kept in results.json). */
  onStderr(line: string): void;
  /** Stop the run (Ctrl-C, SIGTERM ...): the runner is stopped, the device lock released, results so far kept. */
  abort?: AbortSignal;
  /** The run is waiting for the device lock (--wait): how long so far; called before each new try. */
  onLockWait?(waitedMs: number): void;
}

export interface RunOutcome {
  /** The runner's exit code, or null when it was killed or the connection dropped. */
  exitCode: number | null;
  signal: string | null;
  /** Why the run ended early, in words a user can act on (null when the runner finished). */
  failure: string | null;
  /** The case that stopped producing events (the runner was killed after the inactivity timeout). */
  hungCase?: string;
  /** The run was stopped on request (RunHandlers.abort). */
  interrupted?: boolean;
}

export interface TransportOptions {
  /** No event from the runner for this long: the case is hung and the runner is killed. */
  inactivityTimeoutMs?: number;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  run(payload: Payload, plan: Plan, handlers: RunHandlers): Promise<RunOutcome>;
}
