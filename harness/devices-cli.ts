/**
 * npm run devices -- list | add NAME --host ... | remove NAME | check NAME[,NAME] [--ship-node] | trust NAME [--replace] [--yes]
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { loadDevices, withDeviceFields, withoutDevice, type Device } from './devices.js';
import { connect, DEFAULT_STEP_TIMEOUT_MS, fetchHostKey, fingerprintOf, knownHostKeys, resolveRemoteNode } from './transport/ssh.js';
import { addDevice } from './devices-add.js';
import { buildPayload, ROOT } from './payload.js';
import { localWorkDir } from './transport/local.js';
import { UsageError } from './plan.js';
import { parseArgs, suggestion } from './suggest.js';

const COMMANDS = ['list', 'add', 'remove', 'check', 'trust'];

const HELP = `usage:
  npm run devices -- list                       the registered devices and profiles
  npm run devices -- add NAME --host [user@]host[:port] [--profile P] [--key FILE | --agent | --password-env VAR]
                                                fetch the board's host key (without logging in), show it and
                                                ask (or --yes), log in, probe the board, suggest a profile,
                                                and write the entry into devices.yaml (comments kept)
  npm run devices -- remove NAME                remove a device from devices.yaml (comments elsewhere kept)
  npm run devices -- check NAME[,NAME...]       connect, verify the host key, report Node, Wasm SIMD, free disk, lock
                                                (--ship-node: ship Debian's Node 18 when the board's is missing or old)
  npm run devices -- trust NAME [--replace] [--yes]
                                                fetch the device's host key (without logging in), show its
                                                fingerprint, pin it in devices.yaml, then check the login
options:
  --devices FILE       the registry (default: devices.yaml in the repository)
  --step-timeout S     check: deadline of the remote check (default ${DEFAULT_STEP_TIMEOUT_MS / 1000})
  --work-dir DIR       add: the board's work dir (default ~/.cache/roofbench)
`;

async function check(device: Device, stepTimeoutMs: number, shipNode: boolean): Promise<boolean> {
  const out = (k: string, v: string) => process.stdout.write(`  ${k.padEnd(12)} ${v}\n`);
  process.stdout.write(`${device.name}:\n`);
  if (device.transport === 'local') {
    out('transport', 'local (this machine)');
    out('node', process.version);
    const lock = join(localWorkDir(device), 'lock');
    let owner: string | null = null;
    try {
      owner = readFileSync(join(lock, 'owner'), 'utf8')
        .trim()
        .replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
    } catch {
      /* no lock, or no owner yet */
    }
    out('lock', existsSync(lock) ? `held: ${owner || 'by a run that is starting (no owner written yet)'} (${lock})` : `free (${lock})`);
    return true;
  }
  out('address', `${device.user}@${device.host}:${device.port}`);
  let client;
  try {
    const c = await connect(device, { connectTimeoutMs: 10_000 });
    client = c.client;
    out('host key', `${c.fingerprint} (verified against ${device.hostKey ? 'the pinned fingerprint' : device.knownHosts})`);
  } catch (e) {
    out('error', (e as Error).message);
    return false;
  }
  try {
    const node = await resolveRemoteNode(client, device, { stepTimeoutMs, shipNode, log: (m) => out('', m) });
    const info = node.info;
    const sh = node.record.shipped;
    out(
      'node',
      `${info.node} (${info.arch}), ${sh ? `shipped by roofbench: ${sh.package}, in ${device.workDir}/node/${sh.id}${sh.uploadedBytes ? ` (uploaded now, ${(sh.uploadedBytes / 1e6).toFixed(1)} MB)` : ' (already there, verified)'}` : `the device's own: ${device.node.join(' ')}`}`,
    );
    out('wasm simd', info.simd ? 'yes' : 'NO: SIMD variants will be skipped');
    out('free disk', info.freeKiB === null ? 'unknown' : `${(info.freeKiB / 1024).toFixed(0)} MiB in ${device.workDir}`);
    out(
      'lock',
      !info.lock.held
        ? 'free'
        : info.lock.stale
          ? `stale (${info.lock.stale}): the next run recovers it${info.lock.owner ? `; it was ${info.lock.owner}` : ''}`
          : info.lock.owner
            ? `held: ${info.lock.owner}`
            : 'held by a run that is starting (no owner written yet)',
    );
    const payload = await buildPayload();
    out(
      'payload',
      info.payloadCached(payload.hash) ? `${payload.hash} cached on the device` : `${payload.hash} not on the device yet (uploaded on the next run)`,
    );
    if (device.emulated) out('emulated', "yes: timings are not the hardware's; accuracy checks still run");
    return true;
  } catch (e) {
    out('error', (e as Error).message);
    return false;
  } finally {
    client.end();
  }
}

/**
 * Pin the device's host key. The key is fetched WITHOUT authenticating (no
 * password, key or agent is offered to a host before its key is pinned), shown,
 * pinned, and only then is the login checked, against the pinned key.
 */
async function trust(file: string, device: Device, replace: boolean, yes: boolean): Promise<number> {
  if (device.transport !== 'ssh') throw new UsageError(`device ${device.name} is local: there is no host key to trust`);
  const { key, fingerprint, type } = await fetchHostKey(device, { connectTimeoutMs: 10_000 });
  process.stdout.write(`device ${device.name} (${device.host}:${device.port}) presents host key ${type} ${fingerprint}\n`);
  // What the file already trusts for this device, and whether the key contradicts it.
  const known = device.knownHosts && existsSync(device.knownHosts) ? knownHostKeys(device.knownHosts, device.host ?? '', device.port) : [];
  if (device.hostKey === fingerprint || (!device.hostKey && known.some((k) => k.equals(key)))) {
    process.stdout.write(`already trusted (${device.hostKey ? `hostKey in ${file}` : `listed in ${device.knownHosts}`}); nothing to do\n`);
    return 0;
  }
  const contradicts = device.hostKey
    ? `${file} pins hostKey ${device.hostKey} for ${device.name}`
    : known.length > 0
      ? `${device.knownHosts} lists ${known.map(fingerprintOf).join(', ')} for ${device.host}${device.port === 22 ? '' : `:${device.port}`}`
      : null;
  if (contradicts && !replace) {
    throw new UsageError(
      `${contradicts}, which differs from the key the device presents now. This may be a different machine or an attack. ` +
        `If the device was reinstalled and you have checked the new key on it (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), run again with --replace`,
    );
  }
  if (!yes) {
    if (!process.stdin.isTTY) {
      throw new UsageError(
        `compare ${fingerprint} with the device's own key (on the device: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run again with --yes to pin it${contradicts ? ' (and --replace)' : ''}`,
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`pin ${fingerprint} for ${device.name} in ${file}${contradicts ? ` (replacing: ${contradicts})` : ''}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stdout.write('not pinned\n');
      return 0;
    }
  }
  writeFileSync(file, withDeviceFields(readFileSync(file, 'utf8'), file, device.name, { hostKey: fingerprint }));
  process.stdout.write(`pinned: devices.${device.name}.hostKey = ${fingerprint} in ${file}\n`);
  if (contradicts) {
    process.stdout.write(
      `replaced: ${contradicts}${device.hostKey ? '' : ` (that file is not changed: the pinned hostKey now takes precedence for ${device.name})`}\n`,
    );
  }
  // Only now, with the key pinned, log in: the secret can reach only the pinned host.
  try {
    const pinned = loadDevices(file).get(device.name);
    const { client } = await connect(pinned, { connectTimeoutMs: 10_000 });
    client.end();
    process.stdout.write(`login: ok (${device.user}@${device.host}:${device.port}, host key verified)\n`);
    return 0;
  } catch (e) {
    process.stdout.write(`login: FAILED: ${(e as Error).message}\n(the key is pinned; fix the login, then run: npm run devices -- check ${device.name})\n`);
    return 1;
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    strict: true,
    options: {
      devices: { type: 'string' },
      replace: { type: 'boolean', default: false },
      yes: { type: 'boolean', short: 'y', default: false },
      'step-timeout': { type: 'string' },
      'ship-node': { type: 'boolean', default: false },
      host: { type: 'string' },
      profile: { type: 'string' },
      key: { type: 'string' },
      agent: { type: 'boolean', default: false },
      'password-env': { type: 'string' },
      'work-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [cmd, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const defaultFile = join(ROOT, 'devices.yaml');
  const file = values.devices ?? defaultFile;
  if (cmd === 'add') {
    if (!arg) throw new UsageError('add needs a device name: npm run devices -- add NAME --host [user@]host[:port]');
    if (!values.host) throw new UsageError(`add needs --host [user@]host[:port], e.g. npm run devices -- add ${arg} --host pi@192.0.2.10`);
    return addDevice(
      {
        file,
        defaultFile,
        name: arg,
        host: values.host,
        ...(values.profile !== undefined ? { profile: values.profile } : {}),
        ...(values.key !== undefined ? { key: values.key } : {}),
        agent: values.agent,
        ...(values['password-env'] !== undefined ? { passwordEnv: values['password-env'] } : {}),
        ...(values['work-dir'] !== undefined ? { workDir: values['work-dir'] } : {}),
        yes: values.yes,
      },
      {
        out: (line) => process.stdout.write(`${line}\n`),
        confirm: async (question) => {
          if (!process.stdin.isTTY) {
            throw new UsageError("compare the fingerprint above with the board's own, then run again with --yes to pin it (no terminal to ask on)");
          }
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          const answer = await rl.question(`${question} [y/N] `);
          rl.close();
          return /^y(es)?$/i.test(answer.trim());
        },
      },
    );
  }
  const loaded = loadDevices(file);
  // An unknown device name is a usage error (exit 2), with the valid names.
  const registry = {
    ...loaded,
    get: (name: string) => {
      try {
        return loaded.get(name);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    },
  };
  switch (cmd) {
    case 'list': {
      process.stdout.write(`devices in ${file}:\n`);
      for (const d of registry.devices.values()) {
        const where = d.transport === 'local' ? 'this machine' : `${d.user}@${d.host}:${d.port}`;
        const notes = [
          d.profileName ? `profile ${d.profileName}` : null,
          d.nodeShip ? 'node: ship' : null,
          d.transport === 'ssh' && !d.hostKey && !d.knownHosts ? `host key NOT pinned (npm run devices -- trust ${d.name})` : null,
          d.emulated ? 'emulated' : null,
        ].filter(Boolean);
        process.stdout.write(`  ${d.name.padEnd(14)} ${d.transport.padEnd(6)} ${where}${notes.length ? `  ${notes.join(', ')}` : ''}\n`);
      }
      process.stdout.write(`profiles: ${[...registry.profiles.keys()].join(', ') || 'none'}\n`);
      return 0;
    }
    case 'remove': {
      if (!arg) throw new UsageError('remove needs a device name');
      const d = registry.get(arg);
      const text = withoutDevice(readFileSync(file, 'utf8'), file, arg);
      writeFileSync(`${file}.tmp-${process.pid}`, text);
      renameSync(`${file}.tmp-${process.pid}`, file);
      process.stdout.write(
        `removed: devices.${arg} from ${file}${d.transport === 'ssh' ? ` (its work dir ${d.workDir} on ${d.host} is left as it was: remove it there to get the space back)` : ''}\n`,
      );
      return 0;
    }
    case 'check': {
      if (!arg) throw new UsageError('check needs a device name (or several, comma-separated)');
      const st = values['step-timeout'];
      const stepS = st === undefined ? DEFAULT_STEP_TIMEOUT_MS / 1000 : Number(st);
      if (!Number.isFinite(stepS) || stepS < 1 || stepS > 2147483)
        throw new UsageError(`--step-timeout expects a number of seconds from 1 to 2147483, got "${st}"`);
      let ok = true;
      for (const name of arg.split(',')) ok = (await check(registry.get(name.trim()), stepS * 1000, values['ship-node'])) && ok;
      return ok ? 0 : 1;
    }
    case 'trust':
      if (!arg) throw new UsageError('trust needs a device name');
      return trust(file, registry.get(arg), values.replace, values.yes);
    default:
      throw new UsageError(`unknown devices command "${cmd}"${suggestion(cmd, COMMANDS)}; commands: ${COMMANDS.join(', ')}`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // As the bench CLI: a malformed command line (parseArgs' ERR_PARSE_ARGS_*) is a usage error, exit 2.
    const err = e as Error & { code?: string };
    const parse = err.code?.startsWith('ERR_PARSE_ARGS') === true;
    process.stderr.write(`roofbench devices: ${e instanceof Error ? e.message : String(e)}${parse ? '\nrun with --help for the options' : ''}\n`);
    process.exitCode = e instanceof UsageError || parse || err.name === 'ConfigError' ? 2 : 1;
  },
);
