/**
 * The pure parts of `devices add` and of the shipped Node: the host spec, the
 * board probe's parsing, the profile suggestion, the architecture mapping, the
 * devices.yaml edits (splices that leave the rest of the file as it was) and the
 * new devices.yaml fields (node: ship, arch, launcher, detect).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boardAdvice, parseBoardProbe, parseHostSpec, suggestProfile } from '../harness/devices-add.js';
import { ConfigError, parseDevices, withNewDevice, withoutDevice } from '../harness/devices.js';
import { archOf, verifyShippedScript } from '../harness/node-ship.js';
import { ROOT } from '../harness/payload.js';

const SHIPPED = readFileSync(join(ROOT, 'devices.yaml'), 'utf8');
const FP = 'SHA256:a0q21fwD2l2YAZYyVZHw64bJIUO8mgqTNDGGiIXK6PU';
const ENTRY = { host: '192.0.2.10', user: 'pi', agent: true, hostKey: FP };

/** /proc/cpuinfo of a Raspberry Pi 3 Model B on Raspberry Pi OS (32-bit), as the probe's grep keeps it. */
const RPI3_PROBE = `@@machine
armv7l
@@dpkg
armhf
@@os
Raspbian GNU/Linux 12 (bookworm)
@@node
@@cpuinfo
CPU implementer	: 0x41
CPU part	: 0xd03
Hardware	: BCM2835
Model		: Raspberry Pi 3 Model B Rev 1.2
model name	: ARMv7 Processor rev 4 (v7l)
@@dt
Raspberry Pi 3 Model B Rev 1.2
@@gpu
@@cores
4
@@mem
MemTotal:         921104 kB
@@workdir
writable
@@df
/dev/root         14989120 3120456  11213012      22% /
`;

describe('devices add: host spec', () => {
  it('reads user, host and port', () => {
    expect(parseHostSpec('pi@192.0.2.10')).toEqual({ user: 'pi', host: '192.0.2.10', port: null });
    expect(parseHostSpec('rpi3.local:2222')).toEqual({ user: null, host: 'rpi3.local', port: 2222 });
    expect(parseHostSpec('pi@[fe80::1%eth0]:22')).toEqual({ user: 'pi', host: 'fe80::1%eth0', port: 22 });
  });
  it('refuses what is not [user@]host[:port], saying what is expected', () => {
    expect(() => parseHostSpec('pi@')).toThrow(/--host expects \[user@\]host\[:port\]/);
    expect(() => parseHostSpec('a b')).toThrow(/--host expects/);
    expect(() => parseHostSpec('h:70000')).toThrow(/port 70000 is not in 1-65535/);
  });
});

describe('devices add: probe and profile suggestion', () => {
  const profiles = parseDevices(SHIPPED, 'devices.yaml').profiles;

  it('parses a Raspberry Pi 3 and suggests rpi3 from its BCM2837 / Cortex-A53', () => {
    const p = parseBoardProbe(RPI3_PROBE);
    expect(p).toMatchObject({ machine: 'armv7l', dpkgArch: 'armhf', node: null, cores: 4, memKiB: 921104, workDirWritable: true, freeKiB: 11213012 });
    expect(p.cpu).toContain('Cortex-A53');
    expect(p.cpu).toContain('Raspberry Pi 3 Model B Rev 1.2');
    expect(suggestProfile(profiles.values(), p.cpu)?.profile.name).toBe('rpi3');
  });

  it('suggests nothing for an unknown board (an x86 server), and a Jetson gets xavier', () => {
    const x86 = parseBoardProbe('@@cpuinfo\nmodel name\t: AMD EPYC 9R14 96-Core Processor\nmodel\t\t: 17\n@@cores\n2\n');
    expect(x86.cpu).toBe('AMD EPYC 9R14 96-Core Processor'); // x86's numeric "model" is not a board
    expect(suggestProfile(profiles.values(), x86.cpu)).toBeNull();
    const jetson = parseBoardProbe('@@cpuinfo\nCPU implementer\t: 0x4e\nCPU part\t: 0x004\n@@dt\nJetson-AGX\n');
    expect(suggestProfile(profiles.values(), jetson.cpu)?.profile.name).toBe('xavier');
  });
});

describe('devices add: what the probe means', () => {
  const pi = parseBoardProbe(RPI3_PROBE);
  it('a board without Node gets node: ship (no todo); one with Node 18 keeps its own', () => {
    expect(boardAdvice('rpi3', '~/.cache/roofbench', pi)).toEqual({
      ship: "missing: writing node: ship, so the first run uploads Debian's Node 18 for armhf into the work dir (no root needed)",
      todo: [],
    });
    expect(boardAdvice('rpi3', 'w', { ...pi, node: 'v12.22.12' }).ship).toMatch(/^v12\.22\.12 is older than 18: writing node: ship/);
    expect(boardAdvice('rpi3', 'w', { ...pi, node: 'v18.19.0' })).toEqual({ ship: null, todo: [] });
  });
  it('says exactly what is missing: Node it cannot ship, a writable work dir, disk space', () => {
    const zero = boardAdvice('zero', '/srv/rb', { ...pi, machine: 'armv6l', workDirWritable: false, freeKiB: 10 * 1024 });
    expect(zero.ship).toBeNull();
    expect(zero.todo).toEqual([
      "the board is an armv6l (ARMv6 or older: Debian's armhf Node needs ARMv7, e.g. a Raspberry Pi 2 or later): roofbench ships Node 18 for armhf, arm64, amd64 only. " +
        'Install Node >= 18 on it and set node: in devices.yaml (or set arch: when the device runs one of those under emulation)',
      'make /srv/rb writable on the board, or add again with --work-dir DIR (a directory the login can write)',
      'free some disk space: 10 MiB free in /srv/rb, a run needs about 20 MiB',
    ]);
    expect(boardAdvice('rpi3', 'w', { ...pi, freeKiB: 100 * 1024 }).todo).toEqual([
      'free some disk space: 100 MiB free in w, a run needs about 170 MiB (with the shipped Node)',
    ]);
  });
});

describe('shipped Node: architecture', () => {
  it('maps dpkg and uname to Debian architectures', () => {
    expect(archOf('b', 'armhf', 'aarch64')).toBe('armhf'); // 32-bit userland on a 64-bit kernel (Pi OS 32-bit on a Pi 4)
    expect(archOf('b', 'arm64', 'aarch64')).toBe('arm64');
    expect(archOf('b', '', 'armv7l')).toBe('armhf');
    expect(archOf('b', '', 'x86_64')).toBe('amd64');
  });
  it('refuses ARMv6 and architectures it has no Node for, saying what to do', () => {
    expect(() => archOf('zero', 'armhf', 'armv6l')).toThrow(/ARMv6 or older.*Install Node >= 18/);
    expect(() => archOf('b', 'riscv64', 'riscv64')).toThrow(/Debian riscv64 system: roofbench ships Node 18 for armhf, arm64, amd64 only/);
  });
  it('verifies with sha256sum, every path and hash quoted', () => {
    const s = verifyShippedScript("'/w'", { "bin/no'de": 'a'.repeat(64) });
    expect(s).toContain(`sha256sum -c -`);
    expect(s).toContain(`'${'a'.repeat(64)}  bin/no'\\''de'`);
  });
});

describe('devices.yaml edits', () => {
  it('add splices the entry at the end of devices:, the rest of the file byte for byte', () => {
    const out = withNewDevice(SHIPPED, 'devices.yaml', 'desk-pi', { profile: 'rpi3', ...ENTRY, node: 'ship' });
    const added = out.split('\n').filter((l) => !SHIPPED.split('\n').includes(l));
    expect(added).toEqual([
      '  desk-pi:',
      '    profile: rpi3',
      '    host: 192.0.2.10',
      '    user: pi',
      '    agent: true',
      `    hostKey: ${FP}`,
      '    node: ship',
    ]);
    // Taking it out gives back the very same file.
    expect(withoutDevice(out, 'devices.yaml', 'desk-pi')).toBe(SHIPPED);
    const d = parseDevices(out, 'devices.yaml').get('desk-pi');
    expect(d).toMatchObject({ transport: 'ssh', nodeShip: true, node: ['node'], hostKey: FP, profileName: 'rpi3' });
  });

  it("keeps comments inside devices:, also one on the last entry's line, and the indentation of the file", () => {
    const text =
      '# my boards\ndevices:\n    # the desk board\n    desk:\n        host: 10.0.0.2   # on the desk\n        user: me\n        agent: true  # agent\n    # end of devices\nprofiles: {}\n';
    const out = withNewDevice(text, 'f.yaml', 'b2', ENTRY);
    expect(out).toBe(
      '# my boards\ndevices:\n    # the desk board\n    desk:\n        host: 10.0.0.2   # on the desk\n        user: me\n        agent: true  # agent\n' +
        `    b2:\n      host: 192.0.2.10\n      user: pi\n      agent: true\n      hostKey: ${FP}\n` +
        '    # end of devices\nprofiles: {}\n',
    );
    expect(withoutDevice(out, 'f.yaml', 'b2')).toBe(text);
  });

  it('creates devices: in a file without it, and a file from nothing', () => {
    expect(withNewDevice('', 'n.yaml', 'b', ENTRY)).toBe(`devices:\n  b:\n    host: 192.0.2.10\n    user: pi\n    agent: true\n    hostKey: ${FP}\n`);
    expect(withNewDevice('# hi\n', 'n.yaml', 'b', ENTRY)).toMatch(/^# hi\ndevices:\n {2}b:\n/);
  });

  it('refuses a name that is taken, and validates the entry like a hand-written one', () => {
    const once = withNewDevice(SHIPPED, 'devices.yaml', 'b', ENTRY);
    expect(() => withNewDevice(once, 'devices.yaml', 'b', ENTRY)).toThrow(/device "b" is already in devices.yaml \(line \d+\): remove it first/);
    expect(() => withNewDevice(SHIPPED, 'devices.yaml', 'b', { ...ENTRY, port: 70000 })).toThrow(ConfigError);
    expect(() => withNewDevice(SHIPPED, 'devices.yaml', 'b', { ...ENTRY, profile: 'nope' })).toThrow(/profile/);
    expect(() => withoutDevice(SHIPPED, 'devices.yaml', 'local')).toThrow(/nothing to remove/);
    expect(() => withoutDevice(SHIPPED, 'devices.yaml', 'rpi4')).toThrow(/unknown device "rpi4"/);
  });
});

describe('devices.yaml: the shipped-Node fields', () => {
  const file = (dev: string) => `devices:\n  b:\n    host: h\n    user: u\n    agent: true\n${dev}`;
  it('reads node: ship, arch and launcher', () => {
    const d = parseDevices(file('    node: ship\n    arch: armhf\n    emulated: true\n    launcher: [qemu-arm-static, -cpu, cortex-a7]\n'), 'f').get('b');
    expect(d).toMatchObject({ nodeShip: true, arch: 'armhf', launcher: ['qemu-arm-static', '-cpu', 'cortex-a7'] });
    expect(parseDevices(file(''), 'f').get('b')).toMatchObject({ nodeShip: false, arch: null, launcher: [] });
  });
  it('refuses a wrong arch, an empty launcher, and node: ship on this machine', () => {
    expect(() => parseDevices(file('    arch: armel\n'), 'f')).toThrow(/f:6:11: devices\.b\.arch: expected armhf, arm64, amd64/);
    expect(() => parseDevices(file('    launcher: []\n'), 'f')).toThrow(/devices\.b\.launcher: expected a non-empty list/);
    expect(() => parseDevices('devices:\n  local:\n    node: ship\n', 'f')).toThrow(/f:3:11: devices\.local\.node: node: ship is for ssh devices/);
    expect(() => parseDevices('devices:\n  local:\n    arch: arm64\n', 'f')).toThrow(/arch is only used by ssh devices/);
  });
  it('profiles may carry detect words; they must be strings', () => {
    expect(parseDevices(SHIPPED, 'devices.yaml').profiles.get('rpi3')?.detect).toEqual(['BCM2837', 'Raspberry Pi 3', 'Cortex-A53']);
    const bad = SHIPPED.replace('detect: [BCM2837, "Raspberry Pi 3", Cortex-A53]', 'detect: [BCM2837, 3]');
    expect(() => parseDevices(bad, 'devices.yaml')).toThrow(/profiles\.rpi3\.detect\[1\]: expected a non-empty string/);
  });
});
