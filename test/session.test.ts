import { describe, expect, it } from 'vitest';
import type { Plan } from '../core/contracts.js';
import { runSession, type SessionSink } from '../harness/transport/session.js';

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
