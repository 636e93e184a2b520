/**
 * `npm run bench --quick` (without `--`) gives --quick to npm, not to the
 * script: npm keeps it as the config variable npm_config_quick=true and warns
 * about an unknown config, and the script runs without it (a 3-minute full run
 * instead of a quick one). A value after such a flag (`--device rpi3`) even
 * arrives as a stray positional argument. This finds the script's own options
 * among npm's config variables, so the command can stop and show the right one.
 */

/** npm's own options that share a name with ours: npm reads them, and .npmrc may set them. */
const NPM_OWN = new Set(['json', 'help', 'yes']);

export interface SwallowedOptions {
  /** The options npm took, as the user meant them: ['--quick', '--device rpi3', '--no-ceilings']. */
  flags: string[];
  /** The command to run instead, e.g. `npm run bench -- --quick`. */
  command: string;
}

/**
 * Options of `options` (parseArgs config: name -> type) that npm kept as
 * npm_config_* variables of `env`, when the command runs as the npm script
 * `env.npm_lifecycle_event`; null when there are none (or not run by npm).
 * `positionals` are the arguments the script did get: a value npm split off its
 * flag is one of them, paired back with its flag when that is unambiguous.
 */
export function npmSwallowedOptions(
  options: Readonly<Record<string, { type: 'string' | 'boolean' }>>,
  env: NodeJS.ProcessEnv,
  positionals: readonly string[] = [],
): SwallowedOptions | null {
  const script = env.npm_lifecycle_event;
  if (!script) return null;
  const found: { name: string; type: 'string' | 'boolean'; raw: string; negated: boolean }[] = [];
  for (const [name, spec] of Object.entries(options)) {
    if (NPM_OWN.has(name)) continue;
    // npm turns --no-x into x = '' (false): our --no-ceilings arrives as npm_config_ceilings.
    const negated = name.startsWith('no-') && spec.type === 'boolean';
    const key = `npm_config_${(negated ? name.slice(3) : name).replace(/-/g, '_')}`;
    const raw = env[key];
    if (raw === undefined) continue;
    if (negated && raw !== '') continue;
    if (!negated && spec.type === 'boolean' && raw !== 'true') continue;
    if (found.some((f) => f.name === name)) continue;
    found.push({ name, type: spec.type, raw, negated });
  }
  if (found.length === 0) return null;
  // A string option that npm saw without a value (it took `--device` as a boolean): its value is a stray positional.
  const valueless = found.filter((f) => f.type === 'string' && f.raw === 'true');
  const strays = [...positionals];
  const flags = found.map((f) => {
    if (f.negated || f.type === 'boolean') return `--${f.name}`;
    if (f.raw !== 'true') return `--${f.name} ${quote(f.raw)}`;
    const value = valueless.length === 1 && strays.length === 1 ? strays.shift() : undefined;
    return `--${f.name} ${value !== undefined ? quote(value) : 'VALUE'}`;
  });
  const rest = strays.map(quote);
  return { flags, command: `npm run ${script} -- ${[...rest, ...flags].join(' ')}`.trimEnd() };
}

/** Quote an argument for a POSIX shell when it needs it. */
function quote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The message for the user: what npm did, and the command to run. */
export function swallowedMessage(s: SwallowedOptions): string {
  return (
    `npm took ${s.flags.join(', ')} as its own config (npm passes options to the script only after --), ` +
    `so this run would ignore ${s.flags.length === 1 ? 'it' : 'them'}. Run:\n  ${s.command}`
  );
}
