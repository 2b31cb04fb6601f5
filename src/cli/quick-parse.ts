/**
 * A command line that is plain (known flags with their values, nothing else) parsed with Node's
 * own `util.parseArgs`, so the most frequent command starts without loading yargs. The options come
 * from the same table the command gives yargs; anything this parser does not take plainly (help,
 * an unknown or misspelt flag, a flag without its value, a repeated one, `--no-x`, conflicting
 * globals) returns undefined, and yargs parses the line, with its messages, as for every command.
 */
import { parseArgs } from 'node:util';
import { GLOBAL_OPTIONS } from './command-table.js';

export interface PlainOption {
  type: 'string' | 'boolean';
  default?: string | boolean;
  describe: string;
}

export function quickParse(
  argv: readonly string[],
  command: string,
  options: Readonly<Record<string, PlainOption>>,
): Record<string, unknown> | undefined {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type }])),
        ...Object.fromEntries(Object.entries(GLOBAL_OPTIONS).map(([name, o]) => [name, { type: o.type, short: o.alias }])),
      },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch {
    return undefined;
  }
  const names = parsed.tokens?.flatMap((t) => (t.kind === 'option' ? [t.name] : [])) ?? [];
  const plain =
    parsed.positionals.length === 1 &&
    parsed.positionals[0] === command &&
    new Set(names).size === names.length &&
    !(parsed.values.quiet && parsed.values.verbose) &&
    !parsed.tokens?.some((t) => t.kind === 'option-terminator');
  if (!plain) return undefined;
  const args: Record<string, unknown> = { _: [command], $0: 'mwaa-gpu-cicd' };
  for (const [name, option] of Object.entries(options)) args[name] = parsed.values[name] ?? option.default;
  args.quiet = parsed.values.quiet === true;
  args.verbose = parsed.values.verbose === true;
  return args;
}
