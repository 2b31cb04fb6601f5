/**
 * A plain `generate` line (quick-parse.ts), run start to end. The build bundles this module alone
 * as dist/generate.cjs and stores V8's code cache for it (util/code-cache.ts), so that the most
 * frequent command neither loads yargs nor compiles its code on every start. The bundle holds its
 * own copies of the CLI's modules (errors, context), so it reports its own errors.
 */
import command, { GENERATE_OPTIONS } from './commands/generate.js';
import { contextFromArgv } from './context.js';
import { quickParse } from './quick-parse.js';
import { reportAndExit } from './report-error.js';
import { useImporter } from '../util/package-import.js';

/**
 * Runs `generate` when the line is plain and returns true; false leaves the line to yargs.
 * `importModule` is the host's import(), for the ES-only packages loaded on demand.
 */
export async function runPlainGenerate(argv: string[], importModule?: (specifier: string) => Promise<unknown>): Promise<boolean> {
  if (importModule) useImporter(importModule);
  contextFromArgv(argv);
  const args = quickParse(argv, 'generate', GENERATE_OPTIONS);
  if (!args) return false;
  try {
    await command.handler(args as Parameters<typeof command.handler>[0]);
  } catch (error) {
    reportAndExit(error);
  }
  return true;
}
