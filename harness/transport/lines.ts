import { RunnerEvent } from '../../core/contracts.js';
import type { RunHandlers } from './types.js';

/**
 * Splits a byte stream into lines and hands each complete line on. The
 * runner's stdout carries one JSON event per line; anything else on it is kept
 * as a diagnostic rather than dropped.
 */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        if (line.length) onLine(line);
      }
    },
    end() {
      if (buf.length) onLine(buf);
      buf = '';
    },
  };
}

export function eventLineHandler(h: RunHandlers): (line: string) => void {
  return (line) => {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      h.onStderr(`[stdout] ${line}`);
      return;
    }
    const parsed = RunnerEvent.safeParse(json);
    if (parsed.success) h.onEvent(parsed.data);
    else h.onStderr(`[stdout, not a runner event: ${parsed.error.issues[0]?.message ?? 'invalid'}] ${line.slice(0, 500)}`);
  };
}
