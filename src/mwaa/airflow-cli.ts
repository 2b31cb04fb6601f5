/**
 * Airflow's own CLI definition for every MWAA version (airflow-cli-table.json beside this module,
 * written by scripts/airflow-cli-table.py from the published wheels) and a parser over it that decides as
 * Airflow's argparse does whether an argv parses: the command path, each option and its value, the
 * literal choices, the required options and positionals. It follows CPython's argparse
 * (`_parse_known_args`): tokens are classed as options ('O') or arguments ('A'), positionals are
 * matched greedily by their nargs patterns in the runs of arguments between options, long options
 * may be abbreviated to a unique prefix, and `-oVALUE` and `--opt=value` carry their value.
 * Values are not converted: Airflow's `type=` functions (dates, ints) are checked only by the
 * cross-check with the real parser (test/integration/airflow-cli-parser.test.ts).
 */
import tableJson from './airflow-cli-table.json' with { type: 'json' };
import { checkCliCommand, type CommandCheck } from './cli-commands.js';
import { airflowLine, type AirflowVersion } from './versions.js';

export type Nargs = 'none' | 'one' | 'optional' | 'many' | 'oneOrMore' | number;

export interface CliOption {
  flags: string[];
  value: Nargs;
  choices?: string[];
  /** Choices computed in Airflow (an enum's values): not in the table, not checked here. */
  choicesFrom?: string;
  required?: boolean;
  repeats?: boolean;
  type?: string;
}

export interface CliPositional {
  name: string;
  nargs: Exclude<Nargs, 'none'>;
  choices?: string[];
  choicesFrom?: string;
  type?: string;
}

export interface CliCommand {
  options: CliOption[];
  positionals: CliPositional[];
}

export interface WheelSource {
  package: string;
  version: string;
  wheel: string;
  sha256: string;
  files: string[];
}

export interface CliTable {
  generatedBy: string;
  groups: string[];
  versions: Record<string, { sources: WheelSource[]; commands: Record<string, CliCommand> }>;
}

/** The table, as scripts/airflow-cli-table.py wrote it. */
export const AIRFLOW_CLI_TABLE: CliTable = tableJson as CliTable;

export type CliParse = { ok: true; command: string; values: Map<string, string[]> } | { ok: false; reason: string };

class ParseError extends Error {}

const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/;

function nargsPattern(nargs: Nargs, isOption: boolean): string {
  const pattern =
    typeof nargs === 'number'
      ? `(-*${Array<string>(nargs).fill('A').join('-*')}-*)`
      : { none: '(-*-*)', one: '(-*A-*)', optional: '(-*A?-*)', many: '(-*[A-]*)', oneOrMore: '(-*A[A-]*)' }[nargs];
  // argparse drops the '--' markers from an option's pattern: an option's values stop at '--'.
  return isOption ? pattern.replaceAll('-*', '').replaceAll('-', '') : pattern;
}

function label(option: CliOption): string {
  return option.flags.join('/');
}

interface OptionToken {
  option: CliOption | undefined;
  flag: string;
  explicit: string | undefined;
}

/** argparse's `_parse_optional`: undefined for an argument, else the option it names (unknown: no option). */
function classify(token: string, options: CliOption[]): OptionToken | undefined {
  if (token === '' || !token.startsWith('-')) return undefined;
  const byFlag = new Map(options.flatMap((o) => o.flags.map((f) => [f, o] as const)));
  const exact = byFlag.get(token);
  if (exact) return { option: exact, flag: token, explicit: undefined };
  if (token.length === 1) return undefined;
  const eq = token.indexOf('=');
  if (eq > 0) {
    const named = byFlag.get(token.slice(0, eq));
    if (named) return { option: named, flag: token.slice(0, eq), explicit: token.slice(eq + 1) };
  }
  const matches: OptionToken[] = [];
  if (token.startsWith('--')) {
    const prefix = eq > 0 ? token.slice(0, eq) : token;
    const explicit = eq > 0 ? token.slice(eq + 1) : undefined;
    for (const [flag, option] of byFlag) if (flag.startsWith(prefix)) matches.push({ option, flag, explicit });
  } else {
    const short = token.slice(0, 2);
    for (const [flag, option] of byFlag) {
      if (flag === short) matches.push({ option, flag, explicit: token.slice(2) });
      else if (flag.startsWith(token)) matches.push({ option, flag, explicit: undefined });
    }
  }
  if (matches.length > 1) {
    throw new ParseError(`ambiguous option: ${token} could match ${matches.map((m) => m.flag).join(', ')}`);
  }
  if (matches.length === 1) return matches[0];
  if (NEGATIVE_NUMBER.test(token) && ![...byFlag.keys()].some((f) => NEGATIVE_NUMBER.test(f))) return undefined;
  if (token.includes(' ')) return undefined;
  return { option: undefined, flag: token, explicit: undefined };
}

function checkChoices(what: string, choices: string[] | undefined, values: string[]): void {
  if (!choices) return;
  for (const value of values) {
    if (!choices.includes(value)) {
      throw new ParseError(`argument ${what}: invalid choice: '${value}' (choose from ${choices.map((c) => `'${c}'`).join(', ')})`);
    }
  }
}

/** The command an argv names: one word, or a group and its subcommand. */
function commandOf(commands: Record<string, CliCommand>, argv: readonly string[]): string {
  const [first, second] = argv;
  if (first === undefined) throw new ParseError('the following arguments are required: GROUP_OR_COMMAND');
  if (commands[first]) return first;
  const group = Object.keys(commands).filter((c) => c.startsWith(`${first} `));
  if (group.length === 0) throw new ParseError(`argument GROUP_OR_COMMAND: invalid choice: '${first}'`);
  if (second === undefined || second.startsWith('-')) throw new ParseError(`${first}: the following arguments are required: COMMAND`);
  if (!commands[`${first} ${second}`]) throw new ParseError(`argument COMMAND: invalid choice: '${second}'`);
  return `${first} ${second}`;
}

/** Whether `argv` (without `airflow`) parses with this command table, as Airflow's argparse decides. */
export function parseCli(commands: Record<string, CliCommand>, argv: readonly string[]): CliParse {
  try {
    const command = commandOf(commands, argv);
    const spec = commands[command]!;
    const args = argv.slice(command.split(' ').length);
    return { ok: true, command, values: parseArgs(spec, args) };
  } catch (error) {
    if (error instanceof ParseError) return { ok: false, reason: error.message };
    throw error;
  }
}

function parseArgs(spec: CliCommand, args: readonly string[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  const seen = new Set<CliOption | CliPositional>();
  const extras: string[] = [];
  // The pattern argparse matches nargs against: 'O' option, 'A' argument, '-' for '--'.
  const optionAt = new Map<number, OptionToken>();
  let pattern = '';
  let rest = false;
  args.forEach((arg, i) => {
    if (rest) {
      pattern += 'A';
    } else if (arg === '--') {
      pattern += '-';
      rest = true;
    } else {
      const token = classify(arg, spec.options);
      if (token) optionAt.set(i, token);
      pattern += token ? 'O' : 'A';
    }
  });

  let positionals = [...spec.positionals];
  const consumePositionals = (start: number): number => {
    const selected = pattern.slice(start);
    for (let n = positionals.length; n > 0; n -= 1) {
      const match = new RegExp(
        `^${positionals
          .slice(0, n)
          .map((p) => nargsPattern(p.nargs, false))
          .join('')}`,
      ).exec(selected);
      if (!match) continue;
      let index = start;
      positionals.slice(0, n).forEach((positional, k) => {
        const count = match[k + 1]!.length;
        const taken = args.slice(index, index + count).filter((a) => a !== '--');
        index += count;
        seen.add(positional);
        if (taken.length > 0 || positional.nargs === 'one' || positional.nargs === 'oneOrMore') {
          checkChoices(positional.name, positional.choices, taken);
        }
        values.set(positional.name, taken);
      });
      positionals = positionals.slice(n);
      return index;
    }
    return start;
  };

  const consumeOptional = (start: number): number => {
    let token = optionAt.get(start)!;
    for (;;) {
      const { option, flag, explicit } = token;
      if (!option) {
        extras.push(args[start]!);
        return start + 1;
      }
      seen.add(option);
      if (explicit !== undefined) {
        const takes = new RegExp(`^${nargsPattern(option.value, true)}`).exec('A')?.[1]?.length ?? 0;
        if (takes === 1) {
          checkChoices(label(option), option.choices, [explicit]);
          values.set(flag, [explicit]);
          return start + 1;
        }
        // `-vy`: a flag without a value followed by more single-letter flags.
        if (takes === 0 && flag[1] !== '-' && explicit !== '') {
          values.set(flag, []);
          const next = spec.options.find((o) => o.flags.includes(`-${explicit[0]}`));
          if (!next) throw new ParseError(`argument ${label(option)}: ignored explicit argument '${explicit}'`);
          token = { option: next, flag: `-${explicit[0]}`, explicit: explicit.length > 1 ? explicit.slice(1) : undefined };
          continue;
        }
        throw new ParseError(`argument ${label(option)}: ignored explicit argument '${explicit}'`);
      }
      const match = new RegExp(`^${nargsPattern(option.value, true)}`).exec(pattern.slice(start + 1));
      if (!match) {
        const expected = { one: 'expected one argument', optional: '', many: '', oneOrMore: 'expected at least one argument' };
        const why = typeof option.value === 'number' ? `expected ${option.value} arguments` : expected[option.value as 'one'];
        throw new ParseError(`argument ${label(option)}: ${why}`);
      }
      const taken = args.slice(start + 1, start + 1 + match[1]!.length);
      checkChoices(label(option), option.choices, taken);
      values.set(flag, taken);
      return start + 1 + taken.length;
    }
  };

  const optionIndices = [...optionAt.keys()];
  const maxOption = optionIndices.length > 0 ? Math.max(...optionIndices) : -1;
  let start = 0;
  while (start <= maxOption) {
    const nextOption = Math.min(...optionIndices.filter((i) => i >= start));
    if (start !== nextOption) {
      const end = consumePositionals(start);
      if (end > start) {
        start = end;
        continue;
      }
      start = end;
    }
    if (!optionAt.has(start)) {
      extras.push(...args.slice(start, nextOption));
      start = nextOption;
    }
    start = consumeOptional(start);
  }
  const stop = consumePositionals(start);
  extras.push(...args.slice(stop));

  const missing = [
    ...spec.options.filter((o) => o.required && !seen.has(o)).map(label),
    ...positionals.filter((p) => p.nargs !== 'optional' && p.nargs !== 'many').map((p) => p.name),
  ];
  if (missing.length > 0) throw new ParseError(`the following arguments are required: ${missing.join(', ')}`);
  if (extras.length > 0) throw new ParseError(`unrecognized arguments: ${extras.join(' ')}`);
  return values;
}

/**
 * Whether the MWAA CLI client may send `argv` (without `airflow`) to an environment on `version`:
 * a command MWAA's endpoint runs on the line (cli-commands.ts), which this version's own CLI
 * parses (the table above). Anything else would come back as HTTP 500 or a usage error in the
 * output, which MWAA gives no exit code for.
 */
export function checkSendable(version: AirflowVersion, argv: readonly string[]): CommandCheck {
  const listed = checkCliCommand(airflowLine(version), argv);
  if (!listed.ok) return listed;
  const commands = AIRFLOW_CLI_TABLE.versions[version]?.commands;
  if (!commands) return { ok: false, reason: `the table of Airflow's CLI has no version ${version}` };
  const parsed = parseCli(commands, argv);
  if (!parsed.ok) return { ok: false, reason: `Airflow ${version}'s CLI would refuse it: ${parsed.reason}` };
  return { ok: true, command: parsed.command };
}
