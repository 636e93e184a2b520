import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TheoreticalCeilings } from '../core/contracts.js';
import {
  ConfigError,
  DEFAULT_DEVICE,
  didYouMean,
  loadDevices,
  parseDevices,
  parseSize,
  theoreticalCeilings,
  withDeviceFields,
  type DeviceRegistry,
} from '../harness/devices.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/devices/', import.meta.url));
const fixture = (name: string): string => path.join(FIXTURES, name);

/** The ConfigError thrown by `fn` (fails the test if nothing, or something else, is thrown). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const LOGIN_HINT =
  'no way to log in: set agent: true (the SSH agent at SSH_AUTH_SOCK), identityFile: (a private key, e.g. ~/.ssh/id_ed25519) ' +
  'or passwordEnv: (the NAME of an environment variable holding the password)';
const DEVICE_KEYS =
  'description, transport, profile, host, port, user, identityFile, agent, passwordEnv, hostKey, knownHosts, node, workDir, emulated, arch, launcher';

describe('the shipped devices.yaml', () => {
  const registry: DeviceRegistry = loadDevices(path.join(ROOT, 'devices.yaml'));

  it('has the local device, the default, running on this machine without a profile', () => {
    const local = registry.get(DEFAULT_DEVICE);
    expect(DEFAULT_DEVICE).toBe('local');
    expect(local).toMatchObject({
      name: 'local',
      transport: 'local',
      profileName: null,
      profile: null,
      host: null,
      user: null,
      node: ['node'],
      emulated: false,
    });
    expect(local.line).toBeGreaterThan(1);
  });

  it('has the rpi3, xavier and v100 profiles with their theoretical ceilings', () => {
    expect([...registry.profiles.keys()]).toEqual(expect.arrayContaining(['rpi3', 'xavier', 'v100']));
    const rpi3 = registry.profiles.get('rpi3');
    expect(rpi3).toMatchObject({ peakGflops: { f32: 38.4 }, dramGbps: 3.6, caches: { l1d: 32 * 1024, l2: 512 * 1024 } });
    expect(rpi3?.peakGflops.f32).toBeCloseTo(4 * 1.2 * 8, 10);
    expect(registry.profiles.get('xavier')).toMatchObject({ peakGflops: { f32: 1400, int8: 30000 }, dramGbps: 137 });
    expect(registry.profiles.get('v100')).toMatchObject({
      peakGflops: { f32: 15700, f16: 120000 },
      dramGbps: 900,
      caches: { l2: 6 * 2 ** 20, onChip: 36 * 2 ** 20 },
    });
    for (const p of registry.profiles.values()) {
      expect(p.description.length, p.name).toBeGreaterThan(0);
      expect(p.source.length, p.name).toBeGreaterThan(0);
    }
  });

  it('gives theoretical ceilings in the stored-run shape', () => {
    const rpi3 = registry.profiles.get('rpi3');
    if (!rpi3) throw new Error('no rpi3 profile');
    const t = theoreticalCeilings(rpi3);
    expect(TheoreticalCeilings.parse(t)).toEqual(t);
    expect(t).toEqual({
      source: expect.stringContaining('4 cores x 1.2 GHz x 8 flop/cycle'),
      peakGflops: { f32: 38.4 },
      dramGbps: 3.6,
      caches: { l1d: 32768, l2: 524288 },
      noPeak: { int8: expect.stringMatching(/brief gives none/), f16: expect.stringMatching(/brief gives none/) },
    });
    expect(t.source).toMatch(/^profile rpi3 \(/);
  });

  it('names the valid devices for an unknown one, and explains a profile that has no device', () => {
    expect(() => registry.get('lcoal')).toThrow(/^unknown device "lcoal" \(did you mean "local"\?\); devices in .*devices\.yaml: local\b/);
    expect(() => registry.get('rpi3')).toThrow(
      /^"rpi3" is a profile in .*devices\.yaml, not a device: add a device under devices: with profile: rpi3 .* Devices: local/,
    );
  });
});

describe('malformed devices files', () => {
  // Each fixture with the full message it must produce (one line per problem, in file order).
  const cases: Array<[string, string[]]> = [
    [
      'bad-syntax.yaml',
      [
        '4:3: invalid YAML: Flow map in block collection must be sufficiently indented and end with a } ' +
          '(check the indentation and that each key is followed by ": ")',
      ],
    ],
    ['unknown-top-level-key.yaml', ['1:1: profils: unknown top-level key "profils" (did you mean "profiles"?); valid: profiles, devices']],
    ['device-key-typo.yaml', [`3:5: devices.rpi3.hots: unknown device key "hots" (did you mean "host"?); valid: ${DEVICE_KEYS}`]],
    ['bad-port.yaml', ['4:11: devices.rpi3.port: expected an integer 1-65535, got "twenty-two" (the SSH port; leave it out for 22)']],
    ['unknown-profile.yaml', ['9:14: devices.board.profile: unknown profile "rpi4" (did you mean "rpi3"?); defined profiles: rpi3']],
    ['ssh-without-user.yaml', ['2:3: devices.rpi3.user: missing: an ssh device needs user: (the login name on the device, e.g. pi)']],
    ['ssh-without-login.yaml', [`2:3: devices.rpi3: ${LOGIN_HINT}`]],
    [
      'literal-password.yaml',
      [
        `2:3: devices.rpi3: ${LOGIN_HINT}`,
        '5:5: devices.rpi3.password: secrets never go in devices.yaml (it is shared and committed): remove it and use an SSH agent ' +
          '(agent: true), a key file (identityFile: ~/.ssh/id_ed25519) or passwordEnv: NAME of an environment variable that holds the password',
      ],
    ],
    [
      'bad-device-name-space.yaml',
      [
        '2:3: devices["my board"]: invalid device name "my board": use lower-case letters, digits, ".", "_" and "-", ' +
          'starting with a letter or digit, e.g. "my-board" (names end up in paths and remote commands)',
      ],
    ],
    [
      'bad-device-name-slash.yaml',
      [
        '2:3: devices["lab/rpi3"]: invalid device name "lab/rpi3": use lower-case letters, digits, ".", "_" and "-", ' +
          'starting with a letter or digit, e.g. "lab-rpi3" (names end up in paths and remote commands)',
      ],
    ],
    ['bad-size.yaml', ['8:11: profiles.rpi3.caches.l2: expected a size such as 32KiB, 512 KiB, 2MiB, 36MB or a whole number of bytes, got "lots"']],
    ['negative-peak.yaml', ['4:24: profiles.rpi3.peakGflops.f32: expected a positive number, got -38.4 (GFLOP/s; GOP/s for integer dtypes)']],
    [
      'ssh-settings-without-host.yaml',
      [
        '3:5: devices.rpi3.user: user is only used by ssh devices, and this device has no host: (it runs on this machine): add host: or remove user',
        '4:5: devices.rpi3.agent: agent is only used by ssh devices, and this device has no host: (it runs on this machine): add host: or remove agent',
      ],
    ],
    [
      'many-problems.yaml',
      [
        '3:3: profiles.rpi3.source: missing: expected a string saying where the figures come from (datasheet, paper, measurement)',
        '5:19: profiles.rpi3.peakGflops.fp32: unknown dtype "fp32" (did you mean "f32"?); valid: f64, f32, f16, bf16, int8',
        '6:15: profiles.rpi3.dramGbps: expected a positive number, got 0 (DRAM bandwidth in GB/s)',
        `8:3: devices.rpi3: ${LOGIN_HINT}`,
        '11:11: devices.rpi3.port: expected an integer 1-65535, got 70000 (the SSH port; leave it out for 22)',
        '13:12: devices.rpi3.agent: expected true or false, got "yes" (true: authenticate with the SSH agent at SSH_AUTH_SOCK)',
      ],
    ],
  ];

  it.each(cases)('%s gives file:line:col, field and expectation', (name, lines) => {
    const file = fixture(name);
    const err = configError(() => loadDevices(file));
    expect(err.message).toBe(lines.map((l) => `${file}:${l}`).join('\n'));
    expect(err.problems).toHaveLength(lines.length);
    expect(err.file).toBe(file);
  });

  it('has at least eight malformed fixtures covering the required cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  it('puts the first problem in the ConfigError fields', () => {
    const err = configError(() => loadDevices(fixture('bad-port.yaml')));
    expect(err.name).toBe('ConfigError');
    expect(err).toMatchObject({ line: 4, column: 11, field: 'devices.rpi3.port' });
    expect(err.problems[0]).toMatchObject({ line: 4, column: 11, field: 'devices.rpi3.port' });
  });
});

describe('parseDevices', () => {
  const parse = (text: string) => parseDevices(text, 'inline.yaml');
  const errorOf = (text: string) => configError(() => parse(text)).message;

  it('resolves every field and its default', () => {
    const file = fixture('valid-ssh.yaml');
    const r = loadDevices(file);
    expect([...r.devices.keys()]).toEqual(['local', 'rpi3', 'qemu']);
    expect(r.get('local')).toMatchObject({ transport: 'local', line: null, workDir: '~/.cache/roofbench' });
    expect(r.get('rpi3')).toEqual({
      name: 'rpi3',
      description: 'the board on the lab bench',
      transport: 'ssh',
      profileName: 'rpi3',
      profile: r.profiles.get('rpi3'),
      host: '192.0.2.10',
      port: 22,
      user: 'pi',
      identityFile: path.join(homedir(), '.ssh/id_ed25519'),
      agent: false,
      passwordEnv: null,
      hostKey: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
      knownHosts: path.join(FIXTURES, 'keys/known_hosts'),
      node: ['/opt/node18/bin/node', '--max-old-space-size=256'],
      nodeShip: false,
      arch: null,
      launcher: [],
      workDir: '~/.cache/roofbench',
      emulated: false,
      file,
      line: 10,
    });
    expect(r.get('qemu')).toMatchObject({
      transport: 'ssh',
      port: 2222,
      agent: true,
      passwordEnv: 'QEMU_PASSWORD',
      node: ['node', '--stack-size=2000'],
      workDir: '/tmp/roofbench cache',
      emulated: true,
      line: 19,
    });
    expect(r.profiles.get('rpi3')).toMatchObject({
      peakGflops: { f32: 38.4, int8: 100 },
      caches: { l1d: 32768, l2: 524288, l3: 2097152, onChip: 36_000_000, l1i: 16384 },
      line: 3,
    });
  });

  it('says where it looked for a missing file and that the repository ships one', () => {
    const err = configError(() => loadDevices('no/such/devices.yaml'));
    expect(err.message).toBe(
      `no/such/devices.yaml: not found (looked for ${path.resolve('no/such/devices.yaml')}). The repository ships devices.yaml ` +
        'at its root: run from the repository root, restore it with `git checkout -- devices.yaml`, or give the path of your own file',
    );
    expect(err.line).toBeNull();
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('reports an empty file and an empty devices mapping', () => {
    expect(errorOf('')).toBe('inline.yaml:1:1: expected a mapping with devices: and optionally profiles:, got an empty value (see docs/devices.md)');
    expect(errorOf('# nothing\ndevices:\n')).toBe(
      'inline.yaml:2:1: devices: expected a mapping of device names to devices, got an empty value (e.g. local: { transport: local })',
    );
  });

  it('never quotes a whole file that is not a mapping (a file named by mistake may hold a secret)', () => {
    const msg = errorOf('ghp_NotARealTokenButSecretLooking0123\n');
    expect(msg).toBe('inline.yaml:1:1: expected a mapping with devices: and optionally profiles:, got text of 37 characters (not shown) (see docs/devices.md)');
    expect(msg).not.toContain('ghp_');
    // a field's wrong value is still quoted, so the user sees what to fix
    expect(errorOf('devices:\n  local: { transport: telnet }\n')).toContain('"telnet"');
  });

  it('refuses a private key pasted where its path belongs, anywhere in the file, without showing it', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmU';
    const text = `devices:\n  rpi:\n    transport: ssh\n    host: 127.0.0.1\n    user: pi\n    identityFile: "${key}"\n    description: "b3BlbnNzaC1rZXktdjEAAAA"\n`;
    const msg = errorOf(text);
    expect(msg).toMatch(/^inline\.yaml:6:19: devices\.rpi\.identityFile: this is a private key itself \(not shown\)/);
    expect(msg).toMatch(/inline\.yaml:7:18: devices\.rpi\.description: this is a private key itself/);
    expect(msg).not.toContain('BEGIN');
    expect(msg).not.toContain('b3BlbnNz');
    // a wrong key path is not quoted either
    const wrong = errorOf('devices:\n  rpi:\n    transport: ssh\n    host: h\n    user: pi\n    identityFile: 42\n');
    expect(wrong).toMatch(/identityFile: expected a path to a private key file .*got something else \(not shown: it may be a secret\)/);
  });

  it('reports duplicate keys with their line', () => {
    expect(errorOf('devices:\n  local: {}\n  local: {}\n')).toMatch(/^inline\.yaml:3:3: invalid YAML: Map keys must be unique/);
  });

  it('rejects transport settings that contradict each other', () => {
    expect(errorOf('devices:\n  board:\n    transport: local\n    host: 192.0.2.1\n')).toBe(
      'inline.yaml:3:16: devices.board.transport: transport is local but host is set: remove host: to run on this machine, ' +
        'or remove transport: (a host means ssh)',
    );
    expect(errorOf('devices:\n  local:\n    host: 192.0.2.1\n    user: pi\n    agent: true\n')).toBe(
      'inline.yaml:3:5: devices.local.host: the name "local" is reserved for this machine (transport local): ' +
        'give the remote device its own name, e.g. rpi3',
    );
    expect(errorOf('devices:\n  board:\n    transport: ssh\n    user: pi\n    agent: true\n')).toBe(
      'inline.yaml:2:3: devices.board.host: missing: an ssh device needs host: (the name or address of the machine)',
    );
    expect(errorOf('devices:\n  board: { transport: telnet }\n')).toBe(
      'inline.yaml:2:23: devices.board.transport: expected local or ssh, got "telnet" ' + '(leave it out: a device with host: is ssh, one without is local)',
    );
  });

  it('rejects bad values of the ssh fields without echoing what may be a secret', () => {
    const msg = errorOf(
      ['devices:', '  board:', '    host: -oProxyCommand=x', '    user: pi', '    passwordEnv: "hunter2 !"', '    hostKey: SHA256:short', '    node: []'].join(
        '\n',
      ),
    );
    expect(msg.split('\n')).toEqual([
      'inline.yaml:3:11: devices.board.host: expected a host name or IP address, got "-oProxyCommand=x" ' +
        '(letters, digits and . _ - : % [ ], not starting with -)',
      'inline.yaml:5:18: devices.board.passwordEnv: expected the NAME of an environment variable holding the password ' +
        '(e.g. RPI3_PASSWORD), got something else (not shown: it may be a secret)',
      'inline.yaml:6:14: devices.board.hostKey: expected a host key fingerprint SHA256:<43 base64 characters>, got "SHA256:short" ' +
        '(as printed by: ssh-keyscan HOST | ssh-keygen -lf -)',
      'inline.yaml:7:11: devices.board.node: expected a command (e.g. "node" or "/opt/node18/bin/node --max-old-space-size=256")' +
        ', a list of strings, or ship (roofbench brings its own Node), got a list (the list is empty)',
    ]);
    expect(msg).not.toContain('hunter2');
  });

  it('requires at least one peak dtype and catches dtype typos', () => {
    const profile = (peak: string) => `profiles:\n  p:\n    description: d\n    peakGflops: ${peak}\n    dramGbps: 1\n    source: s\ndevices:\n  local: {}\n`;
    expect(errorOf(profile('{}'))).toBe(
      'inline.yaml:4:17: profiles.p.peakGflops: expected at least one dtype, e.g. { f32: 38.4 } (dtypes: f64, f32, f16, bf16, int8)',
    );
    expect(parse(profile('{ bf16: 2, f64: 1 }')).profiles.get('p')?.peakGflops).toEqual({ f64: 1, bf16: 2 });
  });

  it('says which peaks a datasheet does not give (noPeak), never both a peak and a reason for none', () => {
    // The shipped profiles: every int8 / f16 peak is either a datasheet figure or a stated absence.
    const registry = loadDevices(path.join(ROOT, 'devices.yaml'));
    for (const p of registry.profiles.values()) {
      for (const d of ['int8', 'f16'] as const) expect(p.peakGflops[d] !== undefined || (p.noPeak[d]?.length ?? 0) > 0, `${p.name} ${d}`).toBe(true);
    }
    expect(registry.profiles.get('v100')?.noPeak.int8).toMatch(/no int8 figure/);
    const profile = (extra: string) =>
      `profiles:\n  p:\n    description: d\n    peakGflops: { f32: 1, int8: 2 }\n${extra}    dramGbps: 1\n    source: s\ndevices:\n  local: {}\n`;
    expect(errorOf(profile('    noPeak: { int8: "none given" }\n'))).toMatch(
      /profiles\.p\.noPeak\.int8: int8 has a peak under peakGflops and a reason for none under noPeak: keep one/,
    );
    expect(errorOf(profile('    noPeak: { in8: "x" }\n'))).toMatch(/noPeak/);
    expect(parse(profile('    noPeak: { f16: "the brief gives none" }\n')).profiles.get('p')?.noPeak).toEqual({ f16: 'the brief gives none' });
  });

  it('accepts a user-set profile on local', () => {
    const r = parse('profiles:\n  p: { description: d, peakGflops: { f32: 1 }, dramGbps: 1, source: s }\ndevices:\n  local: { profile: p }\n');
    expect(r.get('local').profile?.name).toBe('p');
    expect(theoreticalCeilings(r.profiles.get('p') ?? (null as never))).toEqual({
      source: 'profile p (inline.yaml): s',
      peakGflops: { f32: 1 },
      dramGbps: 1,
    });
  });
});

describe('parseSize', () => {
  it.each([
    ['32KiB', 32768],
    ['512 KiB', 524288],
    ['36MB', 36_000_000],
    ['2 MiB', 2_097_152],
    ['1.5KiB', 1536],
    ['64kB', 64_000],
    ['100B', 100],
    ['4096', 4096],
    [4096, 4096],
  ] as const)('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  const EXPECTED = 'expected a size such as 32KiB, 512 KiB, 2MiB, 36MB or a whole number of bytes, got';
  it.each([
    ['lots', `${EXPECTED} "lots"`],
    ['32 KiBs', `${EXPECTED} "32 KiBs"`],
    ['-1KiB', `${EXPECTED} "-1KiB"`],
    ['32Kb', `${EXPECTED} "32Kb" (lower-case b means bits; sizes are in bytes: B)`],
    ['2K', `${EXPECTED} "2K" (ambiguous: write 2KiB for x1024 or 2KB for x1000)`],
    ['0KiB', `${EXPECTED} "0KiB" (a size must be positive)`],
    [1.5, `${EXPECTED} 1.5 (a plain number is a count of bytes: a positive whole number)`],
    [0, `${EXPECTED} 0 (a plain number is a count of bytes: a positive whole number)`],
  ] as const)('rejects %s', (text, message) => {
    expect(() => parseSize(text)).toThrow(message);
  });
});

describe('didYouMean', () => {
  it('suggests close names and common aliases, and nothing for far ones', () => {
    const keys = ['host', 'port', 'user', 'identityFile', 'workDir'];
    expect(didYouMean('hots', keys)).toBe('host');
    expect(didYouMean('Port', keys)).toBe('port');
    expect(didYouMean('identityfle', keys)).toBe('identityFile');
    expect(didYouMean('hostname', keys)).toBe('host');
    expect(didYouMean('username', keys)).toBe('user');
    expect(didYouMean('colour', keys)).toBeUndefined();
  });
});

describe('withDeviceFields', () => {
  it('sets and removes fields of a device, keeping comments, and validates the result', () => {
    const shipped = readFileSync(path.join(ROOT, 'devices.yaml'), 'utf8');
    const text = `${shipped}\n  rpi3:\n    profile: rpi3   # the lab board\n    host: 192.0.2.10\n    user: pi\n    agent: true\n`;
    const key = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    const out = withDeviceFields(text, 'devices.yaml', 'rpi3', { hostKey: key, port: 2222, agent: undefined, identityFile: '~/.ssh/id' });
    expect(out).toContain('# the lab board');
    expect(out).toContain('# 4 cores x 1.2 GHz x 8 flop/cycle');
    const rpi3 = parseDevices(out, 'devices.yaml').get('rpi3');
    expect(rpi3).toMatchObject({ hostKey: key, port: 2222, agent: false, identityFile: path.join(homedir(), '.ssh/id') });
    expect(() => withDeviceFields(text, 'devices.yaml', 'rpi3', { port: 0 })).toThrow(
      /^devices\.yaml:\d+:\d+: devices\.rpi3\.port: expected an integer 1-65535, got 0/,
    );
    expect(() => withDeviceFields(text, 'devices.yaml', 'rpi4', { port: 22 })).toThrow(/^unknown device "rpi4" \(did you mean "rpi3"\?\)/);
  });
});
