/** Headless Chromium for the tests that load generated HTML as a browser would. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium's path; installs it with apt-get when missing and we are root (like the sshd and ARM scripts); null when it cannot be had. */
export function chromium(): string | null {
  if (!existsSync(CHROMIUM) && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 300_000 });
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env, timeout: 600_000 });
  }
  return existsSync(CHROMIUM) ? CHROMIUM : null;
}

/** The DOM of `file` after Chromium loaded it. */
export function dumpDom(file: string, size?: string): { status: number | null; dom: string; stderr: string } {
  const r = spawnSync(CHROMIUM, [...FLAGS, ...(size ? [`--window-size=${size}`] : []), '--dump-dom', `file://${file}`], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 512 * 1024 * 1024,
  });
  return { status: r.status, dom: r.stdout, stderr: r.stderr };
}

/** A PNG screenshot of `file` at the given window size. */
export function screenshot(file: string, png: string, size = '1400,1800'): { status: number | null; stderr: string } {
  const r = spawnSync(CHROMIUM, [...FLAGS, '--hide-scrollbars', `--window-size=${size}`, `--screenshot=${png}`, `file://${file}`], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stderr: r.stderr };
}
