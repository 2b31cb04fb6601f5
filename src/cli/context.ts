/**
 * What every command needs to know about how it was run: the raw arguments (to tell a flag the
 * user gave from a default), whether output is JSON, how chatty to be, colour per stream, and how
 * to spell a command in a "Run: ..." hint so that it works the way the user invoked the tool.
 */
import { shellQuote } from '../util/shell-quote.js';
import { plainStyle, styleFor, type Style } from '../util/style.js';

export interface CliContext {
  /** The arguments after the program name. */
  argv: string[];
  /** `--json` or `--format json`: stdout carries one JSON document, whatever happens. */
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  out: Style;
  err: Style;
}

let current: CliContext = { argv: [], json: false, quiet: false, verbose: false, out: plainStyle, err: plainStyle };

export function cliContext(): CliContext {
  return current;
}

/** Reads the global switches straight from argv: they matter before yargs has parsed anything. */
export function contextFromArgv(argv: string[], env: NodeJS.ProcessEnv = process.env): CliContext {
  const before = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const format = before.flatMap((arg, i) => (arg === '--format' ? [before[i + 1]] : arg.startsWith('--format=') ? [arg.slice(9)] : []));
  current = {
    argv,
    json: before.includes('--json') || format.includes('json'),
    quiet: before.some((arg) => arg === '--quiet' || arg === '-q'),
    verbose: before.some((arg) => arg === '--verbose' || arg === '-v'),
    out: styleFor(process.stdout, env),
    err: styleFor(process.stderr, env),
  };
  return current;
}

/**
 * How to run `command` again, the way this process was started: `npm run <script> --` inside this
 * project, `npx mwaa-gpu-cicd <command>` through npx, else `mwaa-gpu-cicd <command>`.
 */
export function invocation(command: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_lifecycle_event && env.npm_package_name === 'mwaa-gpu-cicd' && env.npm_lifecycle_event === command) {
    return `npm run ${command} --`;
  }
  if (env.npm_command === 'exec') return `npx mwaa-gpu-cicd ${command}`;
  return `mwaa-gpu-cicd ${command}`;
}

/** `invocation` plus arguments; `npm run x --` with no arguments drops its dangling `--`. */
export function commandLine(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const head = invocation(command, env);
  if (args.length === 0) return head.replace(/ --$/, '');
  return `${head} ${args.map(shellQuote).join(' ')}`;
}
