import { ExitCode, UserError } from '../errors.js';

/** The one top-level catch: known errors become their message and exit code, others a stack. */
export function reportAndExit(error: unknown): never {
  if (error instanceof UserError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(error.exitCode);
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`Unexpected error: ${detail}\n`);
  process.exit(ExitCode.failure);
}
