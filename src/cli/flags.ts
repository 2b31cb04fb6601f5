/**
 * Checks on flags that yargs cannot make: which flags the user actually gave (yargs fills in
 * defaults, so `conflicts()` would see every boolean as given), flags that make no sense together,
 * flags given without a value, and numbers that are not numbers.
 */
import { ExitCode, UserError } from '../errors.js';
import { parseDuration } from '../deployer/clock.js';
import { VALUE_HINTS } from './command-table.js';

/**
 * The long names of the options on the command line, before any `--`: `--name`, `--name=value`,
 * `--no-name`, and single-letter aliases (`-y`) mapped through `aliases`.
 */
export function givenOptions(argv: readonly string[], aliases: Record<string, string> = {}): Set<string> {
  const given = new Set<string>();
  for (const arg of argv) {
    if (arg === '--') break;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0]!;
      given.add(name.startsWith('no-') ? name.slice(3) : name);
    } else if (/^-[A-Za-z]+$/.test(arg)) {
      for (const letter of arg.slice(1)) given.add(aliases[letter] ?? letter);
    }
  }
  return given;
}

/** A usage error when two given flags exclude each other; `why` says what to do instead. */
export function refuseTogether(given: ReadonlySet<string>, pairs: ReadonlyArray<readonly [string, string, string]>): void {
  for (const [a, b, why] of pairs) {
    if (given.has(a) && given.has(b)) throw new UserError(`--${a} and --${b} cannot be used together: ${why}`, ExitCode.usage);
  }
}

/**
 * A usage error for each listed string option given without a value: `--env` at the end or
 * followed by another flag (yargs would quietly use the default), or `--env=` / `--env ""`. The
 * error says what a value looks like (command-table.ts VALUE_HINTS).
 */
export function refuseEmpty(args: object, argv: readonly string[], names: readonly string[]): void {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  for (const name of names) {
    const bare = argv.slice(0, end).some((arg, i) => arg === `--${name}` && (i + 1 >= end || argv[i + 1]!.startsWith('-')));
    const value = (args as Record<string, unknown>)[name];
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    const blank = givenOptions(argv).has(name) && values.some((v) => typeof v !== 'string' || v.trim() === '');
    const hint = VALUE_HINTS[name];
    if (bare || blank) throw new UserError(`--${name} needs a value${hint ? `: ${hint}` : ''}.`, ExitCode.usage);
  }
}

/** Parses a whole number in [min, max] given as text, or throws a usage error naming the flag. */
export function wholeNumber(name: string, min: number, max: number): (value: unknown) => number {
  return (value) => {
    const text = String(Array.isArray(value) ? value.at(-1) : value).trim();
    const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new UserError(`--${name} expects a whole number from ${min} to ${max}; got ${JSON.stringify(text)}.`, ExitCode.usage);
    }
    return n;
  };
}

/** A duration flag (`45m`, `90s`, `1h30m`) in milliseconds; zero or less is a usage error. */
export function positiveDuration(name: string, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UserError(`--${name}: ${(error as Error).message}`, ExitCode.usage);
  }
  if (ms <= 0) throw new UserError(`--${name} must be longer than 0; use e.g. 45m, 90s, 1h30m.`, ExitCode.usage);
  return ms;
}
