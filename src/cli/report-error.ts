import { ConfigError, ExitCode, UserError } from '../errors.js';
import { cliContext } from './context.js';

/** What `--json` prints on stdout when a command fails: the same facts as the message on stderr. */
export function errorDocument(error: unknown): { ok: false; error: Record<string, unknown> } {
  if (error instanceof UserError) {
    const body: Record<string, unknown> = { message: error.message, exitCode: error.exitCode };
    if (error instanceof ConfigError) {
      body.file = error.file;
      body.issues = error.issues;
    }
    return { ok: false, error: { ...body, ...(error.details ?? {}) } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, error: { message: `Unexpected error: ${message}`, exitCode: ExitCode.failure } };
}

/** The one top-level catch: known errors become their message and exit code, others a stack. */
export function reportAndExit(error: unknown): never {
  const context = cliContext();
  const exitCode = error instanceof UserError ? error.exitCode : ExitCode.failure;
  if (context.json) process.stdout.write(`${JSON.stringify(errorDocument(error), null, 2)}\n`);
  if (error instanceof UserError) {
    const [first = '', ...rest] = error.message.split('\n');
    process.stderr.write(`${[context.err.red(first), ...rest].join('\n')}\n`);
    if (context.verbose && error.cause !== undefined) process.stderr.write(`cause: ${describeCause(error.cause)}\n`);
  } else {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${context.err.red('Unexpected error:')} ${detail}\n`);
  }
  process.exit(exitCode);
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.stack ?? `${cause.name}: ${cause.message}`;
  return String(cause);
}
