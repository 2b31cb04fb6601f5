/**
 * The one JSON envelope every command prints with --json: `{ ok, command, ...body }` on stdout,
 * one document, whatever happens (a failure prints `{ ok: false, command, error }` through
 * report-error.ts). docs/json-output.schema.json describes it; a test holds every command to it.
 */
import { cliContext } from './context.js';

export interface JsonEnvelope {
  ok: boolean;
  /** The command as typed: `deploy`, `local up`, ... */
  command: string;
  [field: string]: unknown;
}

/** The command the user ran (the first one or two words of argv that are not options). */
export function commandName(argv: readonly string[] = cliContext().argv): string {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg === '--') break;
    if (arg.startsWith('-')) break;
    words.push(arg);
    if (words.length === 2 || words[0] !== 'local') break;
  }
  return words.join(' ');
}

export function envelope(ok: boolean, body: Record<string, unknown>, command = commandName()): JsonEnvelope {
  const { ok: _ignored, command: _alsoIgnored, ...rest } = body;
  return { ok, command, ...rest };
}

/** Prints the envelope on stdout (two-space indent, newline at the end). */
export function writeJson(ok: boolean, body: Record<string, unknown>, command = commandName()): void {
  process.stdout.write(`${JSON.stringify(envelope(ok, body, command), null, 2)}\n`);
}
