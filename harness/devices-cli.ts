/**
 * npm run devices -- list | check NAME[,NAME] | trust NAME [--replace] [--yes]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { loadDevices, withDeviceFields, type Device } from './devices.js';
import { connect, checkNodeVersion, inspectRemote } from './transport/ssh.js';
import { buildPayload, ROOT } from './payload.js';
import { UsageError } from './plan.js';

const HELP = `usage:
  npm run devices -- list                       the registered devices and profiles
  npm run devices -- check NAME[,NAME...]       connect, verify the host key, report Node, Wasm SIMD, free disk, lock
  npm run devices -- trust NAME [--replace] [--yes]
                                                show the device's host key fingerprint and pin it in devices.yaml
options:
  --devices FILE   the registry (default: devices.yaml in the repository)
`;

async function check(device: Device): Promise<boolean> {
  const out = (k: string, v: string) => process.stdout.write(`  ${k.padEnd(12)} ${v}\n`);
  process.stdout.write(`${device.name}:\n`);
  if (device.transport === 'local') {
    out('transport', 'local (this machine)');
    out('node', process.version);
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
    const info = await inspectRemote(client, device);
    out('node', `${info.node} (${info.arch}), via: ${device.node.join(' ')}`);
    checkNodeVersion(device, info.node);
    out('wasm simd', info.simd ? 'yes' : 'NO: SIMD variants will be skipped');
    out('free disk', info.freeKiB === null ? 'unknown' : `${(info.freeKiB / 1024).toFixed(0)} MiB in ${device.workDir}`);
    out('lock', info.lock.held ? `held: ${info.lock.owner}` : 'free');
    const payload = await buildPayload();
    out('payload', info.payloadCached(payload.hash) ? `${payload.hash} cached on the device` : `${payload.hash} not on the device yet (uploaded on the next run)`);
    if (device.emulated) out('emulated', 'yes: timings are not the hardware\'s; accuracy checks still run');
    return true;
  } catch (e) {
    out('error', (e as Error).message);
    return false;
  } finally {
    client.end();
  }
}

async function trust(file: string, device: Device, replace: boolean, yes: boolean): Promise<void> {
  if (device.transport !== 'ssh') throw new UsageError(`device ${device.name} is local: there is no host key to trust`);
  const { client, fingerprint } = await connect(device, { connectTimeoutMs: 10_000 }, true);
  client.end();
  process.stdout.write(`device ${device.name} (${device.host}:${device.port}) presents host key ${fingerprint}\n`);
  if (device.hostKey === fingerprint) {
    process.stdout.write('already pinned in devices.yaml; nothing to do\n');
    return;
  }
  if (device.hostKey && !replace) {
    throw new UsageError(
      `devices.yaml already pins ${device.hostKey} for ${device.name}, which differs. If the device was reinstalled and you have checked the new key on it, run again with --replace`,
    );
  }
  if (!yes) {
    if (!process.stdin.isTTY) {
      throw new UsageError(
        `compare ${fingerprint} with the device's own key (on the device: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run again with --yes to pin it`,
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`pin ${fingerprint} for ${device.name} in ${file}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stdout.write('not pinned\n');
      return;
    }
  }
  writeFileSync(file, withDeviceFields(readFileSync(file, 'utf8'), file, device.name, { hostKey: fingerprint }));
  process.stdout.write(`pinned: devices.${device.name}.hostKey = ${fingerprint} in ${file}\n`);
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [cmd, arg] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const file = values.devices ?? join(ROOT, 'devices.yaml');
  const registry = loadDevices(file);
  switch (cmd) {
    case 'list':
      for (const d of registry.devices.values()) {
        const where = d.transport === 'local' ? 'this machine' : `${d.user}@${d.host}:${d.port}`;
        process.stdout.write(`${d.name.padEnd(14)} ${d.transport.padEnd(6)} ${where}${d.profileName ? `  profile ${d.profileName}` : ''}${d.emulated ? '  (emulated)' : ''}\n`);
      }
      return 0;
    case 'check': {
      if (!arg) throw new UsageError('check needs a device name (or several, comma-separated)');
      let ok = true;
      for (const name of arg.split(',')) ok = (await check(registry.get(name.trim()))) && ok;
      return ok ? 0 : 1;
    }
    case 'trust':
      if (!arg) throw new UsageError('trust needs a device name');
      await trust(file, registry.get(arg), values.replace, values.yes);
      return 0;
    default:
      throw new UsageError(`unknown devices command "${cmd}"; commands: list, check, trust`);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`roofbench devices: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError || (e as Error).name === 'ConfigError' ? 2 : 1;
  },
);
