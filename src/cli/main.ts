#!/usr/bin/env node
/**
 * The CLI entry point. Each command lives in its own module, loaded only when that command runs,
 * so `generate` never pays for the AWS SDK or ssh2; a plain `generate` line does not even load
 * yargs (quick-parse.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, UserError } from '../errors.js';
import { closestName, didYouMean } from '../util/did-you-mean.js';
import { cliContext, contextFromArgv, invocation } from './context.js';
import { EXIT_CODES_EPILOG } from './help.js';
import { COMMANDS, FOREIGN_COMMANDS, GLOBAL_OPTIONS, type CommandName } from './command-table.js';
import { enterProjectRoot } from './project-root.js';
import { reportAndExit } from './report-error.js';
import { join } from 'node:path';
import { builtDir } from '../util/package-root.js';
import pkg from '../../package.json' with { type: 'json' };

/**
 * How to load each command of the table (command-table.ts), only when that command runs. Each
 * module's handler is typed with its own arguments; yargs checks them at parse time.
 */
// biome-ignore lint/suspicious/noExplicitAny: the table holds modules with different argument types.
const LOADERS: Record<CommandName, () => Promise<{ default: CommandModule<any, any> }>> = {
  init: () => import('./commands/init.js'),
  generate: () => import('./commands/generate.js'),
  parse: () => import('./commands/parse.js'),
  deploy: () => import('./commands/deploy.js'),
  check: () => import('./commands/check.js'),
  local: () => import('./commands/local.js'),
  status: () => import('./commands/status.js'),
  history: () => import('./commands/history.js'),
  rollback: () => import('./commands/rollback.js'),
  logs: () => import('./commands/logs.js'),
};

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

const COMPLETION_COMMAND = 'completion';
/** What yargs' completion script passes: `--get-yargs-completions <program> <words...>`. */
const COMPLETION_REQUEST = '--get-yargs-completions';

// The AWS SDK warns on every client about Node 20's support window; this tool declares its engine
// in package.json, so the warning would only repeat on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The bundle of plain-generate.ts, run with its code cache (scripts/build.mjs writes both into dist/). */
const PLAIN_GENERATE_BUNDLE = 'generate.cjs';

/**
 * runPlainGenerate from the code-cached bundle when running from dist/, else (from src/) from the
 * module itself.
 */
async function plainGenerate(): Promise<(argv: string[]) => Promise<boolean>> {
  const dist = builtDir();
  if (dist) {
    const { loadWithCodeCache } = await import('../util/code-cache.js');
    const run = loadWithCodeCache(join(dist, PLAIN_GENERATE_BUNDLE)).exports
      .runPlainGenerate as typeof import('./plain-generate.js').runPlainGenerate;
    return (argv) => run(argv, (specifier) => import(specifier));
  }
  return (await import('./plain-generate.js')).runPlainGenerate;
}

/** The command word: the first argument that is not a flag (for completion, after the program name). */
function requestedCommand(argv: string[]): string | undefined {
  const words = argv[0] === COMPLETION_REQUEST ? argv.slice(2) : argv;
  return words.find((arg) => !arg.startsWith('-'));
}

/** yargs' own usage messages, made to name the flag and the way to more help. */
function usageError(message: string, cli: Argv, command: string | undefined): UserError {
  const help = `See: ${invocation(command ?? '').trimEnd()} --help`;
  const options = (cli as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
  const known = Object.keys(options.key).filter((k) => k.length > 1);
  const unknownLines = (names: string[]) =>
    names.map((name) => {
      const flag = name.length === 1 ? `-${name}` : `--${name}`;
      return `Unknown option ${flag}.${didYouMean(name, known, (n) => `--${n}`)}`;
    });
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) {
    // yargs lists an unknown --env-name twice, as given and camel-cased (envName): once is enough.
    const names = unknown[1]!.split(', ');
    const kebab = new Set(names.filter((n) => n.includes('-')).map((n) => n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
    return new UserError(`${unknownLines(names.filter((name) => !kebab.has(name))).join('\n')}\n${help}`, ExitCode.usage);
  }
  const missing = /^Missing required arguments?: (.+)$/.exec(message);
  // yargs checks required options before unknown ones: `deploy --env-name prod` would only hear
  // that --env is missing, when the typo is the news.
  const typed = cliContext().argv.flatMap((arg) => (/^--[a-zA-Z]/.test(arg) ? [arg.slice(2).split('=')[0]!] : []));
  const typos = typed.filter((name) => !known.includes(name) && !(name.startsWith('no-') && known.includes(name.slice(3))));
  if (missing && typos.length > 0) return new UserError(`${unknownLines(typos).join('\n')}\n${help}`, ExitCode.usage);
  if (missing) {
    return new UserError(
      `${missing[1]!
        .split(', ')
        .map((n) => `--${n}`)
        .join(' and ')} is required.\n${help}`,
      ExitCode.usage,
    );
  }
  const choice = /Argument: (\w+), Given: "([^"]*)", Choices: (.+)$/m.exec(message);
  if (choice) {
    const choices = choice[3]!.split(', ').map((c) => c.replace(/^"|"$/g, ''));
    return new UserError(
      `${choice[1]} must be one of ${choices.join(', ')}; got "${choice[2]}".${didYouMean(choice[2]!, choices)}\n${help}`,
      ExitCode.usage,
    );
  }
  if (/^Not enough non-option arguments/.test(message) && command === 'local') {
    return new UserError(`local needs an action: up, status, down or logs.\n${help}`, ExitCode.usage);
  }
  return new UserError(`${message}\n${help}`, ExitCode.usage);
}

async function main(given: string[]): Promise<void> {
  const argv = given[0] === COMPLETION_REQUEST ? given : enterProjectRoot(given, process.cwd());
  contextFromArgv(argv);
  const requested = requestedCommand(argv);
  const completing = argv[0] === COMPLETION_REQUEST;
  if (requested && !completing && !isCommand(requested) && requested !== COMPLETION_COMMAND) {
    const foreign = Object.hasOwn(FOREIGN_COMMANDS, requested) ? FOREIGN_COMMANDS[requested] : undefined;
    if (foreign) {
      const program = invocation('').trimEnd();
      const answer = foreign.use
        ? `What does it: ${program} ${foreign.use} (${foreign.note}).`
        : `${foreign.note[0]!.toUpperCase()}${foreign.note.slice(1)}.`;
      throw new UserError(`There is no "${requested}" command here. ${answer}\nSee: ${program} --help`, ExitCode.usage);
    }
    const near = closestName(requested, Object.keys(COMMANDS));
    throw new UserError(
      `Unknown command "${requested}".${near ? ` Did you mean "${near}"?` : ''} Commands: ${Object.keys(COMMANDS).join(', ')}, ${COMPLETION_COMMAND}.\n` +
        `See: ${invocation('').trimEnd()} --help`,
      ExitCode.usage,
    );
  }
  // The word after --env: the config's environment names (yargs would offer the options again).
  if (completing && argv.at(-2) === '--env') {
    const { environmentNames } = await import('./completion.js');
    const current = argv.at(-1) ?? '';
    const names = (await environmentNames(argv.slice(2))).filter((name) => name.startsWith(current));
    process.stdout.write(names.length > 0 ? `${names.join('\n')}\n` : '');
    return;
  }
  if (requested === COMPLETION_COMMAND && !completing) {
    const { chosenShell, completionScript } = await import('./completion.js');
    const words = argv.filter((arg) => !arg.startsWith('-'));
    if (words.length > 2) throw new UserError(`completion takes one shell; got ${words.slice(1).join(' ')}.`, ExitCode.usage);
    process.stdout.write(await completionScript(chosenShell(words[1])));
    return;
  }
  if (requested === 'generate' && !completing) {
    const runPlainGenerate = await plainGenerate();
    if (await runPlainGenerate(argv)) return;
  }
  const { default: yargs } = await import('yargs');
  const cli: Argv = yargs(argv)
    .scriptName('mwaa-gpu-cicd')
    .version(pkg.version)
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .options(GLOBAL_OPTIONS)
    .conflicts('quiet', 'verbose')
    .example('$0 init', 'Write config/config.yaml for a new project')
    .example('$0 generate --env dev', 'Render dist-artifacts/dev/')
    .example('$0 deploy --env prod --plan --diff', 'Show what a deploy would change, as a diff')
    .example('$0 check --env prod', 'SSH to every GPU server and check its checkout and version file')
    .epilog(EXIT_CODES_EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Errors from handlers reach the catch below; yargs' own usage errors get exit code 2.
    .fail((message, error) => {
      if (error instanceof UserError) throw error;
      // A coerce function's error (a flag value that is not a number, say) arrives wrapped.
      if (error?.name === 'YError')
        throw new UserError(`${error.message}\nSee: ${invocation(requested ?? '').trimEnd()} --help`, ExitCode.usage);
      if (error) throw error;
      throw usageError(message, cli, requested);
    });

  // yargs renders the whole help text before every command runs, to have it at hand for a later
  // showHelp(); nothing here shows help after a command started, and the rendering (string widths
  // of every line) costs more than parsing the config does.
  const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;

  if (isCommand(requested)) {
    const module = (await LOADERS[requested]()).default;
    // Completing a line asks the command with --get-yargs-completions, which its strict options refuse.
    const builder = module.builder;
    cli.command(
      completing && typeof builder === 'function' ? { ...module, builder: (y: Argv) => (builder(y) as Argv).strictOptions(false) } : module,
    );
  } else {
    for (const [name, describe] of Object.entries(COMMANDS)) cli.command(name, describe);
  }
  cli.completion(`${COMPLETION_COMMAND} [shell]`, 'Print the shell completion script for bash, zsh or fish (README, "Shell completion")');
  await cli.parseAsync();
  if (requested && EXITS_WHEN_DONE.has(requested)) await exitWhenFlushed();
}

/**
 * Commands that talk to servers end as soon as their result is written: a socket a frozen server
 * never closes (or an SDK keep-alive) must not keep the process alive after the report.
 */
const EXITS_WHEN_DONE = new Set(['check', 'deploy', 'status', 'history', 'rollback', 'logs']);

async function exitWhenFlushed(): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((done) => stream.write('', () => done()))));
  process.exit(process.exitCode ?? ExitCode.ok);
}

// A reader that went away (`generate | head -2`) ends the program quietly with the status a
// SIGPIPE'd Unix tool has (128 + 13); Node ignores SIGPIPE and would report EPIPE as a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.brokenPipe);
    throw error;
  });
}

main(process.argv.slice(2)).catch(reportAndExit);
