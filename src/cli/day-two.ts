/**
 * What the day-two commands (status, history, rollback, logs) share: the output choice (text,
 * --json, --format markdown for step summaries and pull request comments) and one way to end a
 * remote failure with the explanation aws-errors.ts gives.
 */
import type { Argv } from 'yargs';
import { awsErrorContext } from '../config/aws-error-context.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { ExitCode, UserError } from '../errors.js';
import { explainRemoteError } from '../mwaa/aws-errors.js';
import type { Style } from '../util/style.js';
import { SHARED_OPTIONS } from './command-table.js';
import { cliContext } from './context.js';
import { refuseEmpty } from './flags.js';
import { loadCliConfig } from './load-config.js';
import { useProfile } from './profile.js';
import { writeJson } from './json-output.js';

export const FORMATS = ['text', 'json', 'markdown'] as const;
export type Format = (typeof FORMATS)[number];

export const FORMAT_OPTION = {
  type: 'string',
  choices: FORMATS,
  describe: 'Output: text, json, or markdown (for $GITHUB_STEP_SUMMARY and pull request comments)',
} as const;

export const JSON_OPTION = { ...SHARED_OPTIONS.json, describe: 'Same as --format json' } as const;

/** The options a day-two command closes with: the output format (--format, or --json) and the AWS profile. */
export function reportOptions<T>(yargs: Argv<T>) {
  return yargs.option('format', FORMAT_OPTION).option('json', JSON_OPTION).option('profile', SHARED_OPTIONS.profile);
}

/** A warning on stderr, unless --quiet. */
export function warnUnlessQuiet(message: string): void {
  const context = cliContext();
  if (!context.quiet) process.stderr.write(`${context.err.yellow('warning:')} ${message}\n`);
}

/** The options every day-two command's arguments hold. */
export interface ReportArgs {
  env: string;
  config: string;
  profile: string | undefined;
  json: boolean;
  format: Format | undefined;
}

/**
 * What a day-two command does first: refuse empty values (of these options and `nonEmpty`), choose
 * the output, use the AWS profile and load the environment's config.
 */
export async function startReport(args: ReportArgs, nonEmpty: readonly string[] = []): Promise<{ format: Format; config: ResolvedConfig }> {
  refuseEmpty(args, cliContext().argv, ['env', 'config', ...nonEmpty, 'profile']);
  const format = formatOf(args);
  useProfile(args.profile);
  return { format, config: await loadCliConfig(args.config, args.env) };
}

/** --json is --format json; both given is a usage error. */
export function formatOf(args: { json: boolean; format: Format | undefined }): Format {
  if (args.json && args.format !== undefined && args.format !== 'json') {
    throw new UserError('--json is --format json; give one of them.', ExitCode.usage);
  }
  return args.json ? 'json' : (args.format ?? 'text');
}

/** Runs `work`; an AWS or web server failure comes back explained with this environment's config. */
export async function explained<T>(config: ResolvedConfig, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw explainRemoteError(error, awsErrorContext(config));
  }
}

/** A report's three views: the JSON body, Markdown, and text in the terminal's style. */
export interface ReportViews<T> {
  json(report: T): Record<string, unknown>;
  markdown(report: T): string;
  text(report: T, style: Style): string;
}

/** Prints `report` in the chosen format on stdout (JSON in the one envelope). */
export function printReport<T>(format: Format, report: T, views: ReportViews<T>): void {
  if (format === 'json') writeJson(true, views.json(report));
  else process.stdout.write(format === 'markdown' ? views.markdown(report) : views.text(report, cliContext().out));
}
