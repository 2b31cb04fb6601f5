/**
 * The few error classes the libraries throw. The CLI's single top-level catch maps them to an
 * exit code and a message that says what to do next; nothing else in src/ prints or exits.
 */

/** Exit codes shared by every command. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** `deploy --plan --detailed-exitcode`: changes are pending. */
  changesPending: 3,
  /** Stopped by SIGINT (Ctrl-C) or SIGTERM, after releasing what it held (128 + the signal). */
  interrupted: 130,
  terminated: 143,
  /** The reader of our output went away (128 + SIGPIPE), as for any Unix tool in a pipe. */
  brokenPipe: 141,
} as const;

/** A problem the user can fix; the message says how. */
export class UserError extends Error {
  /** Machine-readable facts about the problem (a refused plan, say), for `--json` output. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.details = options.details;
  }
}

export interface ConfigIssue {
  /** Dotted path, e.g. `environments.prod.servers[0].host`. */
  path: string;
  message: string;
  /** 1-based position in the YAML file, when known. */
  line?: number;
  column?: number;
}

/** Invalid configuration: carries every issue at once so the user can fix them in one go. */
export class ConfigError extends UserError {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(formatConfigIssues(file, issues), ExitCode.usage);
    this.name = 'ConfigError';
  }
}

export function formatConfigIssues(file: string, issues: ConfigIssue[]): string {
  const lines = issues.map((issue) => {
    const where = issue.line ? `${file}:${issue.line}:${issue.column ?? 1}: ` : `${file}: `;
    return `  ${where}${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
  });
  const noun = issues.length === 1 ? 'problem' : 'problems';
  return `Invalid configuration (${issues.length} ${noun}):\n${lines.join('\n')}`;
}
