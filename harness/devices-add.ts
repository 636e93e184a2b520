/**
 * `npm run devices -- add NAME --host [user@]host[:port]`: first contact with a
 * board in one command. The host key is fetched WITHOUT authenticating, shown
 * and confirmed; only then does roofbench log in, against that pinned key (a key
 * that changed in between is refused, nothing is written); it probes the board
 * (architecture, OS, Node, free disk, CPU, cores, memory, whether the work dir
 * is writable), suggests a profile from the CPU, and writes the entry into
 * devices.yaml keeping its comments and layout, validated like a hand-written one.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import type { Client } from 'ssh2';
import { DEFAULT_DEVICE, NAME_PATTERN, parseDevices, withNewDevice, type Device, type Profile } from './devices.js';
import { archOf } from './node-ship.js';
import { UsageError } from './plan.js';
import { remoteDir } from './transport/shell.js';
import { connect, fetchHostKey, MIN_NODE_MAJOR, runStep, SshError } from './transport/ssh.js';

export interface AddOptions {
  /** The devices file (created when missing). */
  file: string;
  name: string;
  /** `[user@]host[:port]` (`[::1]:2222` for IPv6). */
  host: string;
  profile?: string;
  key?: string;
  agent?: boolean;
  passwordEnv?: string;
  workDir?: string;
  /** Pin the key without asking. */
  yes?: boolean;
  /** The file `bench` reads without --devices (the next-step command names --devices for any other). */
  defaultFile?: string;
  connectTimeoutMs?: number;
}

export interface AddIo {
  out(line: string): void;
  /** Asked before the key is pinned (not called with --yes). */
  confirm(question: string): Promise<boolean>;
}

/** `[user@]host[:port]`; throws a UsageError saying what is expected. */
export function parseHostSpec(spec: string): { user: string | null; host: string; port: number | null } {
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.%\w]+\]|[^:@\s[\]]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) throw new UsageError(`--host expects [user@]host[:port] (e.g. pi@192.0.2.10 or pi@rpi3.local:2222), got "${spec}"`);
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) throw new UsageError(`--host: port ${port} is not in 1-65535`);
  return { user: m[1] ?? null, host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** What the probe found on the board. */
export interface BoardProbe {
  machine: string;
  dpkgArch: string;
  os: string;
  node: string | null;
  /** CPU and board model text: /proc/cpuinfo model name, Hardware, CPU part (named), device-tree model, GPUs. */
  cpu: string;
  cores: number | null;
  memKiB: number | null;
  workDirWritable: boolean;
  freeKiB: number | null;
}

/** ARM CPU part numbers (/proc/cpuinfo "CPU part", implementer 0x41 Arm, 0x4e NVIDIA) to names. */
const CPU_PARTS: Record<string, string> = {
  '0x41:0xc07': 'Cortex-A7',
  '0x41:0xc08': 'Cortex-A8',
  '0x41:0xc09': 'Cortex-A9',
  '0x41:0xc0f': 'Cortex-A15',
  '0x41:0xd03': 'Cortex-A53',
  '0x41:0xd04': 'Cortex-A35',
  '0x41:0xd05': 'Cortex-A55',
  '0x41:0xd07': 'Cortex-A57',
  '0x41:0xd08': 'Cortex-A72',
  '0x41:0xd09': 'Cortex-A73',
  '0x41:0xd0b': 'Cortex-A76',
  '0x4e:0x004': 'NVIDIA Carmel',
};

const PROBE_SCRIPT = (w: string) =>
  [
    `W=${w}`,
    'echo "@@machine"; uname -m',
    'echo "@@dpkg"; dpkg --print-architecture 2>/dev/null',
    'echo "@@os"; if [ -r /etc/os-release ]; then . /etc/os-release; echo "${PRETTY_NAME:-$NAME}"; else uname -sr; fi',
    'echo "@@node"; node -v 2>/dev/null',
    'echo "@@cpuinfo"; grep -iE "^(model name|hardware|cpu implementer|cpu part|model)[[:space:]]*:" /proc/cpuinfo 2>/dev/null | sort -u',
    'echo "@@dt"; tr -d "\\000" < /proc/device-tree/model 2>/dev/null; echo',
    'echo "@@gpu"; nvidia-smi -L 2>/dev/null | head -n 8',
    'echo "@@cores"; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo',
    'echo "@@mem"; grep MemTotal /proc/meminfo 2>/dev/null',
    'echo "@@workdir"; if mkdir -p "$W" 2>/dev/null && [ -w "$W" ]; then echo writable; else echo not-writable; fi',
    'echo "@@df"; d="$W"; while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; df -Pk "$d" 2>/dev/null | tail -n 1',
    'exit 0',
  ].join('\n');

/** The sections of the probe's output. */
export function parseBoardProbe(stdout: string): BoardProbe {
  const sec = new Map<string, string[]>();
  let cur = '';
  for (const line of stdout.split('\n')) {
    const m = /^@@(\w+)$/.exec(line);
    if (m) cur = m[1]!;
    else if (cur) sec.set(cur, [...(sec.get(cur) ?? []), line]);
  }
  const text = (k: string) =>
    (sec.get(k) ?? [])
      .map((s) => s.trim())
      .filter(Boolean)
      .join('\n');
  const cpuinfo = sec.get('cpuinfo') ?? [];
  const field = (name: string) =>
    cpuinfo
      .filter((l) => new RegExp(`^${name}\\s*:`, 'i').test(l))
      .map((l) => l.slice(l.indexOf(':') + 1).trim())
      .filter(Boolean);
  const impl = field('cpu implementer')[0]?.toLowerCase();
  const parts = field('cpu part').map((p) => CPU_PARTS[`${impl}:${p.toLowerCase()}`] ?? `CPU part ${p}`);
  // x86's "model" is a number; ARM boards' is the board ("Raspberry Pi 3 Model B Rev 1.2").
  const boardModel = field('model').filter((m) => !/^\d+$/.test(m));
  const cpu = [...field('model name'), ...field('hardware'), ...parts, ...boardModel, text('dt'), text('gpu')]
    .filter((s, i, a) => s && a.indexOf(s) === i)
    .join('; ');
  const node = /^v\d+\.\d+\.\d+/.exec(text('node'))?.[0] ?? null;
  const cores = Number(text('cores').split('\n')[0]);
  const mem = /MemTotal:\s*(\d+)/.exec(text('mem'));
  const df = text('df').split(/\s+/);
  const free = Number(df[3]);
  return {
    machine: text('machine'),
    dpkgArch: text('dpkg'),
    os: text('os') || 'unknown',
    node,
    cpu: cpu || 'unknown',
    cores: Number.isFinite(cores) && cores > 0 ? cores : null,
    memKiB: mem ? Number(mem[1]) : null,
    workDirWritable: text('workdir') === 'writable',
    freeKiB: df.length >= 4 && Number.isFinite(free) ? free : null,
  };
}

/** The first profile one of whose `detect` words appears in the probed CPU/board text (case-insensitive). */
export function suggestProfile(profiles: Iterable<Profile>, cpu: string): { profile: Profile; word: string } | null {
  const hay = cpu.toLowerCase();
  for (const p of profiles) {
    const word = p.detect.find((w) => hay.includes(w.toLowerCase()));
    if (word) return { profile: p, word };
  }
  return null;
}

/** Space the shipped Node and the payload need in the work dir (KiB): the pack, unpacked, with room to spare. */
const SHIP_NEEDS_KIB = 150 * 1024;
const PAYLOAD_NEEDS_KIB = 20 * 1024;

/**
 * What the probe means for the entry and the first run: `ship` (why node: ship is written: the
 * board's Node is missing or older than 18 and roofbench has one for its architecture), and
 * what the user must do first (`todo`: Node on an architecture roofbench cannot ship to, a work
 * dir that cannot be written, too little disk).
 */
export function boardAdvice(name: string, workDir: string, probe: BoardProbe): { ship: string | null; todo: string[] } {
  const todo: string[] = [];
  let ship: string | null = null;
  const major = Number(/^v(\d+)/.exec(probe.node ?? '')?.[1]);
  if (!(major >= MIN_NODE_MAJOR)) {
    try {
      const arch = archOf(name, probe.dpkgArch, probe.machine);
      ship = `${probe.node ? `${probe.node} is older than ${MIN_NODE_MAJOR}` : 'missing'}: writing node: ship, so the first run uploads Debian's Node 18 for ${arch} into the work dir (no root needed)`;
    } catch (e) {
      todo.push((e as SshError).message.replace(/^device \S+ is /, 'the board is '));
    }
  }
  if (!probe.workDirWritable) {
    todo.push(`make ${workDir} writable on the board, or add again with --work-dir DIR (a directory the login can write)`);
  }
  const needs = PAYLOAD_NEEDS_KIB + (ship ? SHIP_NEEDS_KIB : 0);
  if (probe.freeKiB !== null && probe.freeKiB < needs) {
    todo.push(
      `free some disk space: ${(probe.freeKiB / 1024).toFixed(0)} MiB free in ${workDir}, a run needs about ${(needs / 1024).toFixed(0)} MiB${ship ? ' (with the shipped Node)' : ''}`,
    );
  }
  return { ship, todo };
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Adds the device; returns the exit code (0 written, 1 not written). Bad input throws UsageError / ConfigError. */
export async function addDevice(o: AddOptions, io: AddIo): Promise<number> {
  const { file, name } = o;
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `device name "${name}": use lower-case letters, digits, . _ - (starting with a letter or digit), e.g. rpi3; it names folders and remote commands`,
    );
  }
  if (name === DEFAULT_DEVICE) throw new UsageError(`"${DEFAULT_DEVICE}" is this machine; give the board its own name, e.g. rpi3`);
  const spec = parseHostSpec(o.host);
  const auth = [o.key !== undefined, o.agent === true, o.passwordEnv !== undefined].filter(Boolean).length;
  if (auth > 1) throw new UsageError('choose one way to log in: --key FILE, --agent or --password-env VAR');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const before = text.trim() ? parseDevices(text, file) : null;
  const taken = before?.devices.get(name);
  if (taken && taken.line !== null) {
    throw new UsageError(
      `device "${name}" is already in ${file} (line ${taken.line}): remove it first (npm run devices -- remove ${name}) or choose another name`,
    );
  }
  if (o.profile !== undefined && !before?.profiles.has(o.profile)) {
    throw new UsageError(`--profile ${o.profile}: no such profile in ${file}; profiles: ${[...(before?.profiles.keys() ?? [])].join(', ') || 'none'}`);
  }

  // How to log in: what was given, else the agent when one runs, else the usual key.
  const entry: Record<string, string | number | boolean> = {};
  if (o.profile) entry.profile = o.profile;
  entry.host = spec.host;
  if (spec.port !== null && spec.port !== 22) entry.port = spec.port;
  entry.user = spec.user ?? userInfo().username;
  if (o.key !== undefined) {
    entry.identityFile = o.key.startsWith('~') || path.isAbsolute(o.key) ? o.key : path.resolve(o.key);
  } else if (o.agent) entry.agent = true;
  else if (o.passwordEnv !== undefined) entry.passwordEnv = o.passwordEnv;
  else if (process.env.SSH_AUTH_SOCK) {
    entry.agent = true;
    io.out('login: the SSH agent (SSH_AUTH_SOCK is set; --key FILE or --password-env VAR to choose otherwise)');
  } else {
    const key = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => path.join(homedir(), '.ssh', k)).find((k) => existsSync(k));
    if (!key)
      throw new UsageError(
        'no way to log in: give --key FILE (a private key), --agent (SSH_AUTH_SOCK) or --password-env VAR (the NAME of a variable holding the password)',
      );
    entry.identityFile = `~/${path.relative(homedir(), key)}`;
    io.out(`login: key ${entry.identityFile} (--key, --agent or --password-env to choose otherwise)`);
  }
  if (o.workDir !== undefined) entry.workDir = o.workDir;

  // The entry as it would be written, validated now: bad input fails before anything touches the network.
  const device: Device = parseDevices(withNewDevice(text, file, name, entry), file).get(name);

  const { fingerprint, type } = await fetchHostKey(device, { connectTimeoutMs: o.connectTimeoutMs ?? 10_000 });
  io.out(`${name} (${device.host}:${device.port}) presents host key ${type} ${fingerprint}`);
  io.out("  compare it with the board's own: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub (on the board)");
  if (!o.yes && !(await io.confirm(`pin ${fingerprint} for ${name} and log in?`))) {
    io.out(`not pinned; nothing was sent to the board and ${file} is unchanged`);
    return 1;
  }
  // Log in only now, against the pinned key: a key that changed since it was shown is refused before any secret is sent.
  const pinned: Device = { ...device, hostKey: fingerprint, knownHosts: null };
  let client: Client;
  try {
    ({ client } = await connect(pinned, { connectTimeoutMs: o.connectTimeoutMs ?? 10_000 }));
  } catch (e) {
    io.out(`login: FAILED: ${(e as Error).message}`);
    io.out(`${file} is unchanged`);
    return 1;
  }
  let probe: BoardProbe;
  try {
    const r = await runStep(client, PROBE_SCRIPT(remoteDir(device.workDir).sh), { deadlineMs: 60_000, what: `probing ${name}` });
    probe = parseBoardProbe(r.stdout);
  } catch (e) {
    io.out(`probe: FAILED: ${(e as Error).message}`);
    io.out(`${file} is unchanged`);
    return 1;
  } finally {
    client.end();
  }
  io.out(`login: ok (${device.user}@${device.host}:${device.port}, host key verified)`);
  const show = (k: string, v: string) => io.out(`  ${k.padEnd(12)} ${v}`);
  show('arch', `${probe.machine}${probe.dpkgArch ? ` (Debian ${probe.dpkgArch})` : ''}`);
  show('OS', probe.os);
  show('CPU', `${probe.cpu}${probe.cores ? `, ${probe.cores} cores` : ''}`);
  show('memory', probe.memKiB === null ? 'unknown' : `${(probe.memKiB / 1024).toFixed(0)} MiB`);
  show('node', probe.node ?? 'none on the PATH');
  show(
    'work dir',
    `${device.workDir}: ${probe.workDirWritable ? 'writable' : 'NOT writable'}${probe.freeKiB === null ? '' : `, ${(probe.freeKiB / 1024).toFixed(0)} MiB free`}`,
  );

  // Profile: given, or suggested from the CPU.
  if (!o.profile && before) {
    const s = suggestProfile(before.profiles.values(), probe.cpu);
    if (s) {
      entry.profile = s.profile.name;
      show('profile', `${s.profile.name} (suggested: the board reports ${s.word}; --profile to choose another)`);
    } else {
      show(
        'profile',
        `none: no profile in ${file} matches "${probe.cpu}" (the report then draws the measured roofline only; add a profile with detect: words, see docs/devices.md)`,
      );
    }
  }
  const advice = boardAdvice(name, device.workDir, probe);
  if (advice.ship) {
    entry.node = 'ship';
    show('node', advice.ship);
  }
  const todo = advice.todo;

  entry.hostKey = fingerprint;
  // Written from the file as it is now (it may have changed while we were connected), validated like a hand-written entry.
  const now = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeAtomic(file, withNewDevice(now, file, name, entry));
  io.out(
    `written: devices.${name} in ${file} (host key pinned${entry.profile ? `, profile ${String(entry.profile)}` : ''}${advice.ship ? ', node: ship' : ''})`,
  );
  if (todo.length > 0) {
    io.out('before the first run:');
    for (const t of todo) io.out(`  - ${t}`);
  }
  io.out(
    `next: npm run bench -- --device ${name} --quick${o.defaultFile !== undefined && path.resolve(o.defaultFile) === path.resolve(file) ? '' : ` --devices ${file}`}`,
  );
  return 0;
}
