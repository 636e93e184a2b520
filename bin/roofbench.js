#!/usr/bin/env node
/**
 * The `roofbench` command (package.json "bin"): `npx roofbench bench --quick`.
 * Loads the TypeScript sources through tsx, in this process, and hands the
 * arguments to the command's own entry point (the same as the npm scripts).
 */
import { register } from 'tsx/esm/api';

const ENTRIES = {
  bench: ['../harness/cli.ts', false],
  report: ['../harness/cli.ts', false],
  list: ['../harness/cli.ts', false],
  devices: ['../harness/devices-cli.ts', true],
  compare: ['../harness/history/cli.ts', false],
  dashboard: ['../harness/history/cli.ts', false],
  history: ['../harness/history/cli.ts', true],
  // analyze runs its main only when started as its own file: the bin calls it.
  analyze: ['../harness/analyze/cli.ts', true, 'main'],
};

const HELP = `usage: roofbench <command> [options]      (or: npm run <command> -- [options])

  bench       run the suites on a device and write an HTML report (roofbench bench --help)
  report      re-render a run's report, or export it as CSV / Markdown
  list        the devices, suites, cases and variants
  devices     list, check and trust devices (roofbench devices --help)
  compare     compare two stored runs (roofbench compare --help)
  dashboard   write the static history dashboard (roofbench dashboard --help)
  history     the history store: import, annotate, list, series ... (roofbench history --help)
  analyze     whole networks and conv chains on a device's roofline, without running them (roofbench analyze --help)

  --version   the roofbench version and commit
`;

const [command, ...rest] = process.argv.slice(2);
const entry = command === undefined ? undefined : ENTRIES[command];
if (command === '--version' || command === '-v') {
  register();
  await import('../harness/cli.ts');
} else if (!entry) {
  const unknown = command !== undefined && command !== '--help' && command !== '-h' && command !== 'help';
  (unknown ? process.stderr : process.stdout).write(`${unknown ? `roofbench: unknown command "${command}"\n` : ''}${HELP}`);
  process.exitCode = unknown ? 2 : 0;
} else {
  const [file, dropCommand, call] = entry;
  // The entry points read process.argv; devices and history take their subcommand first.
  process.argv = [process.argv[0], process.argv[1], ...(dropCommand ? rest : [command, ...rest])];
  register();
  const mod = await import(file);
  if (call) process.exitCode = await mod[call](rest);
}
