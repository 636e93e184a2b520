/** Nothing from devices.yaml or the command line reaches a remote shell unquoted. */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteDir, shJoin, shq } from '../harness/transport/shell.js';
import { runnerCommand } from '../harness/transport/ssh.js';
import type { Device } from '../harness/devices.js';

const sh = (script: string, env: NodeJS.ProcessEnv = {}) => execFileSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

const HOSTILE = [`it's`, `a b`, `$(touch /tmp/roofbench-pwned)`, '`id`', `"; rm -rf / #`, `\\n`, `*`, `~`, `-n`, `''`, `\t\n`];

describe('shell quoting', () => {
  it('shq round-trips any string through sh as one word', () => {
    for (const s of HOSTILE) expect(sh(`printf '%s' ${shq(s)}`)).toBe(s);
  });

  it('shJoin keeps every argv element a separate word', () => {
    expect(sh(`printf '[%s]' ${shJoin(HOSTILE)}`)).toBe(HOSTILE.map((s) => `[${s}]`).join(''));
  });

  it('refuses a NUL byte', () => {
    expect(() => shq('a\0b')).toThrow(/NUL/);
  });

  it('remoteDir expands only a leading ~/ (through $HOME) and quotes the rest', () => {
    const d = remoteDir(`~/it's $(dir)`);
    expect(d.sftp).toBe(`it's $(dir)`);
    expect(sh(`printf '%s' ${d.sh}`, { HOME: '/home/pi' })).toBe(`/home/pi/it's $(dir)`);
    expect(remoteDir('/opt/rb/').sftp).toBe('/opt/rb');
    expect(() => remoteDir('~root/x')).toThrow(/~user paths are not supported/);
  });

  it('the runner command runs with a hostile work dir, node command and owner as plain data', () => {
    const workDir = join(mkdtempSync(join(tmpdir(), 'roofbench-sh-')), `it's $(touch pwned) "x"`);
    mkdirSync(workDir);
    const device = { name: 'pi', workDir, node: ['printf', '[%s]', '--title=$(id)'] } as unknown as Device;
    const payload = {
      hash: '0123456789abcdef',
      files: [{ path: 'runner.mjs', bytes: 1, sha256: `$(touch pwned3)'"` }],
      manifest: { path: 'manifest.json', bytes: 1, sha256: 'x' },
    };
    const out = sh(runnerCommand(device, payload, 'me@host run "; touch pwned2; #'));
    // The "node" (printf) received its arguments verbatim: no substitution happened.
    expect(out.startsWith('[--title=$(id)][-e][')).toBe(true);
    expect(out).toContain(
      `[${workDir}/payloads/0123456789abcdef][{"hash":"0123456789abcdef","files":{"runner.mjs":"$(touch pwned3)'\\"","manifest.json":"x"}}]`,
    );
    expect(existsSync('pwned3')).toBe(false);
    expect(existsSync(join(workDir, '..', 'pwned'))).toBe(false);
    expect(existsSync('pwned2')).toBe(false);
    // The lock was taken and released.
    expect(existsSync(join(workDir, 'lock'))).toBe(false);
  });
});
