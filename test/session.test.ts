import { describe, expect, it } from 'vitest';
import type { Plan } from '../core/contracts.js';
import { firstLineReader } from '../harness/runner/first-line.js';
import { runLocked, runSession, type SessionResult, type SessionSink } from '../harness/transport/session.js';

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('runner session', () => {
  it('output that arrives after a lost connection does not arm a watchdog that outlives the session', async () => {
    let sink: SessionSink | null = null;
    const before = timeouts();
    const result = runSession(
      (s) => {
        sink = s;
        return { write: () => undefined, endInput: () => undefined, killRunner: () => undefined, forceClose: () => undefined };
      },
      {} as Plan,
      { onEvent: () => undefined, onStderr: () => undefined },
      { device: 'loopback', inactivityMs: 600_000 },
    );
    expect(timeouts()).toBe(before + 1); // the watchdog while the session runs
    sink!.lost('connection to device loopback lost');
    const r = await result;
    expect(r.kind === 'done' && r.outcome.failure).toMatch(/lost; results received so far are kept/);
    // what the connection still flushes, then its close
    sink!.stdout('{"type":"case-start","caseId":"conv/x"}\n');
    sink!.close(null, null);
    expect(timeouts()).toBe(before);
  });
});

describe('waiting for the device lock', () => {
  it('reports how long the run waited before its session got the lock (kept apart from the run time)', async () => {
    const tries: SessionResult[] = [
      { kind: 'lock-held', owner: 'someone run x' },
      { kind: 'lock-held', owner: 'someone run x' },
      { kind: 'done', outcome: { exitCode: 0, signal: null, failure: null } },
    ];
    const waits: number[] = [];
    const logs: string[] = [];
    const out = await runLocked(
      async () => tries.shift()!,
      async () => undefined,
      { device: 'board', lockPath: '/x/lock', waitForLock: true, lockPollMs: 20, log: (m) => logs.push(m), onLockWait: (ms) => waits.push(ms) },
    );
    expect(out.exitCode).toBe(0);
    expect(tries).toHaveLength(0);
    // Once before each retry, the time since the lock was first found held: the last is the whole wait.
    expect(waits).toHaveLength(2);
    expect(waits[1]!).toBeGreaterThanOrEqual(waits[0]!);
    expect(waits[0]!).toBeGreaterThanOrEqual(15);
    expect(logs[0]).toMatch(/device board is locked by someone run x; waiting/);
  });

  it('a lock found free at once: no wait reported', async () => {
    const waits: number[] = [];
    await runLocked(
      async () => ({ kind: 'done', outcome: { exitCode: 0, signal: null, failure: null } }),
      async () => undefined,
      { device: 'board', lockPath: '/x/lock', waitForLock: true, lockPollMs: 20, log: () => undefined, onLockWait: (ms) => waits.push(ms) },
    );
    expect(waits).toEqual([]);
  });
});

describe("the runner's plan line", () => {
  it('is the text up to the first newline, however the chunks cut it; without a newline, all of it', () => {
    const plan = `{"a":"${'x'.repeat(1000)}"}`;
    for (const size of [1, 7, 64, 999, 5000]) {
      const text = `${plan}\n{"ignored":true}\n`;
      const r = firstLineReader();
      let line: string | null = null;
      for (let i = 0; i < text.length && line === null; i += size) line = r.push(text.slice(i, i + size));
      expect(line, `chunks of ${size}`).toBe(plan);
    }
    const r = firstLineReader();
    expect(r.push('{"a":')).toBeNull();
    expect(r.push('1}')).toBeNull();
    expect(r.rest()).toBe('{"a":1}');
    expect(firstLineReader().push('\n')).toBe('');
  });
});
