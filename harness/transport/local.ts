/** The `local` device: the payload runs in a child Node process on this machine. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Plan } from '../contracts.js';
import type { Payload } from '../payload.js';
import { eventLineHandler, lineSplitter } from './lines.js';
import type { RunHandlers, RunOutcome, Transport, TransportOptions } from './types.js';

export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  constructor(
    private readonly nodeCommand: string[] = [process.execPath],
    private readonly opts: TransportOptions = {},
  ) {}

  run(payload: Payload, plan: Plan, h: RunHandlers): Promise<RunOutcome> {
    const [cmd, ...args] = this.nodeCommand;
    if (!cmd) throw new Error('empty node command for the local device');
    return new Promise((resolvePromise) => {
      const child = spawn(cmd, [...args, join(payload.dir, 'runner.mjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
      let lastCase = '';
      let hung: string | null = null;
      const handle = eventLineHandler({
        onEvent: (e) => {
          if (e.type === 'case-start') lastCase = e.caseId;
          h.onEvent(e);
        },
        onStderr: h.onStderr,
      });
      const out = lineSplitter(handle);
      const err = lineSplitter((l) => h.onStderr(l));
      let spawnError: Error | null = null;
      const inactivity = this.opts.inactivityTimeoutMs ?? 600_000;
      let timer: NodeJS.Timeout | null = null;
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          hung = lastCase;
          child.kill('SIGKILL');
        }, inactivity);
      };
      arm();
      child.stdout.on('data', (c: Buffer) => {
        arm();
        out.push(c);
      });
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', (e) => {
        spawnError = e;
      });
      child.stdin.on('error', () => {
        /* the runner died before reading the plan; the exit handler reports it */
      });
      child.stdin.end(JSON.stringify(plan));
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        out.end();
        err.end();
        let failure: string | null = null;
        if (hung !== null) {
          failure = `no event from the runner for ${(inactivity / 1000).toFixed(0)} s${hung ? ` in ${hung}` : ''}: the case hung and the runner was killed (raise --case-timeout if it is just slow)`;
          resolvePromise({ exitCode: code, signal, failure, hungCase: hung || undefined });
          return;
        }
        if (spawnError) failure = `could not start ${cmd}: ${(spawnError as Error).message}`;
        else if (signal) failure = `the runner was killed by ${signal}`;
        else if (code !== 0) failure = `the runner exited with code ${code} (see its stderr in results.json)`;
        resolvePromise({ exitCode: code, signal, failure });
      });
    });
  }
}
