import { ConfigError, ExitCode, filesystemProblem, isFilesystemError, UserError } from '../errors.js';
import { cliContext } from './context.js';
import { commandName } from './json-output.js';

/**
 * The error as the user sees it: a UserError as it is; a filesystem error from anywhere (a
 * read-only output directory, a full disk) as a UserError naming the path and what to do.
 */
function known(error: unknown): unknown {
  if (error instanceof UserError) return error;
  if (isFilesystemError(error)) return filesystemProblem(error);
  return error;
}

/** What `--json` prints on stdout when a command fails: the same facts as the message on stderr. */
export function errorDocument(error: unknown, command = commandName()): { ok: false; command: string; error: Record<string, unknown> } {
  const shown = known(error);
  if (shown instanceof UserError) {
    const body: Record<string, unknown> = { message: shown.message, exitCode: shown.exitCode };
    if (shown instanceof ConfigError) {
      body.file = shown.file;
      body.issues = shown.issues;
    }
    return { ok: false, command, error: { ...body, ...(shown.details ?? {}) } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, command, error: { message: `Unexpected error: ${message}`, exitCode: ExitCode.failure } };
}

/**
 * The one top-level catch: known errors become their message and exit code; anything else is a
 * bug, shown as one line (the stack only with --verbose). --verbose adds the chain of causes.
 */
export function reportAndExit(error: unknown): never {
  const context = cliContext();
  const shown = known(error);
  const exitCode = shown instanceof UserError ? shown.exitCode : ExitCode.failure;
  if (context.json) process.stdout.write(`${JSON.stringify(errorDocument(shown), null, 2)}\n`);
  if (shown instanceof UserError) {
    const [first = '', ...rest] = shown.message.split('\n');
    process.stderr.write(`${[context.err.red(first), ...rest].join('\n')}\n`);
    if (context.verbose) process.stderr.write(causeChain(shown.cause));
  } else {
    const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
    process.stderr.write(`${context.err.red('Unexpected error:')} ${message}\n`);
    if (context.verbose) {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n${causeChain((error as Error)?.cause)}`);
    } else {
      process.stderr.write('This is a bug in mwaa-gpu-cicd: run again with --verbose for the details to report.\n');
    }
  }
  process.exit(exitCode);
}

/** `cause: ...` lines, outermost first, each with its stack; bounded against cycles. */
function causeChain(cause: unknown): string {
  const lines: string[] = [];
  for (let depth = 0; cause !== undefined && cause !== null && depth < 8; depth += 1) {
    lines.push(`cause: ${cause instanceof Error ? (cause.stack ?? `${cause.name}: ${cause.message}`) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
