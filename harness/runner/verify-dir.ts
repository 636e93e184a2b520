/**
 * Compares a directory with the files it must hold (relative path -> SHA-256 hex): the paths that are
 * missing, differ, or should not be there; empty when the directory is intact. The host checks its cached
 * payload with it (harness/payload.ts checkPayloadDir); on the device the peers part of the payload is
 * checked with it before anything in it is imported (suites/conv/peers/load.ts). Payload-safe.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function verifyDir(dir: string, expected: Readonly<Record<string, string>>): string[] {
  const bad: string[] = [];
  for (const [path, hash] of Object.entries(expected)) {
    let data: Buffer;
    try {
      data = readFileSync(join(dir, path));
    } catch {
      bad.push(`${path} (missing)`);
      continue;
    }
    if (createHash('sha256').update(data).digest('hex') !== hash) bad.push(path);
  }
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      // A name anyone could have chosen: shown with its control characters neutralised.
      else if (!(p in expected)) bad.push(`${p.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?')} (unexpected)`);
    }
  };
  if (existsSync(dir)) walk('');
  return bad;
}
