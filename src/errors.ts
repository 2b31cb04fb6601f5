/**
 * The few error classes the libraries throw. The CLI's single top-level catch maps them to an
 * exit code and a message that says what to do next; nothing else in src/ prints or exits.
 */

/** Exit codes shared by every command (the CLI's --help and the README list them). */
export const ExitCode = {
  ok: 0,
  /** A check or run failed; a deploy was refused or failed; a remote or the filesystem refused. */
  failure: 1,
  /** Bad flags or an invalid configuration file. */
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

/** What a failed remote call was (the `--json` error document carries these fields). */
export interface RemoteFacts {
  /** `S3`, `MWAA`, `CloudWatch`, `Secrets Manager`, `Airflow web server` or `SSH`. */
  service: string;
  /** The API operation (`UpdateEnvironment`) or `METHOD /path`. */
  operation: string;
  /** `host` or `host:port`; absent when no endpoint was chosen yet. */
  endpoint?: string;
  /** AWS's error code (`ThrottlingException`), a network code (`ECONNREFUSED`) or `HTTP <status>`. */
  code: string;
  /** What the remote said (AWS's message), when it said something. */
  remoteMessage?: string;
  /** What kind of failure it is, which decides what the message says to do. */
  kind: RemoteFailureKind;
  httpStatus?: number;
  requestId?: string;
  /** Attempts the SDK made (the first one and its retries). */
  attempts?: number;
}

export type RemoteFailureKind =
  | 'throttled'
  | 'invalid-request'
  | 'access-denied'
  | 'not-found'
  | 'server-error'
  | 'credentials-missing'
  | 'credentials-rejected'
  | 'wrong-region'
  | 'unreachable'
  | 'timeout'
  | 'not-aws'
  | 'bad-endpoint'
  /** The answer was larger than the most the toolkit reads from that call. */
  | 'too-large'
  | 'refused';

/**
 * A remote (AWS, the Airflow web server) refused or failed a call. The first line of the message
 * names the service, the operation, the endpoint, the code and the remote's own message; the
 * lines after it say what it means and what to do.
 */
export class RemoteError extends UserError {
  constructor(
    message: string,
    readonly facts: RemoteFacts,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, ExitCode.failure, { cause: options.cause, details: { ...facts, ...(options.details ?? {}) } });
    this.name = 'RemoteError';
  }
}

/** What each filesystem error code means for the path it names, and what to do about it. */
const FILESYSTEM_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied: fix the permissions, or choose a path you may use',
  EPERM: 'operation not permitted: choose another path, or fix its permissions or attributes',
  EROFS: 'the filesystem is read-only: choose a path on a writable filesystem',
  ENOSPC: 'no space left on the device: free some space, or choose a path on another filesystem',
  EDQUOT: 'the disk quota is exhausted: free some space, or choose a path on another filesystem',
  EEXIST: 'it already exists: remove it, or choose another path',
  ENOTDIR: 'a part of the path is a file, not a directory: choose another path',
  EISDIR: 'it is a directory where a file is needed: choose a file path',
  ELOOP: 'too many symbolic links (a loop?): fix the links, or choose another path',
  ENAMETOOLONG: 'the path is too long: choose a shorter one',
  ENOENT: 'no such file or directory: check the path',
  EMFILE: 'too many open files: raise the limit (ulimit -n) and run again',
  ENFILE: 'too many open files on the system: close some programs and run again',
  EBUSY: 'the file or directory is busy: close what uses it and run again',
  ETXTBSY: 'the file is busy (a running program): choose another path',
  EIO: 'the device reported an I/O error: check the disk',
  EXDEV: 'a rename across filesystems: choose an output directory on the same filesystem as its parent',
};

/** What the failed system call was doing, in a message's words. */
const SYSCALL_VERBS: Record<string, string> = {
  open: 'Cannot open',
  mkdir: 'Cannot create the directory',
  mkdtemp: 'Cannot create a temporary directory in',
  rename: 'Cannot rename',
  unlink: 'Cannot remove',
  rmdir: 'Cannot remove',
  rm: 'Cannot remove',
  scandir: 'Cannot list',
  opendir: 'Cannot list',
  write: 'Cannot write',
  read: 'Cannot read',
  copyfile: 'Cannot copy',
  symlink: 'Cannot create the link',
  stat: 'Cannot access',
  lstat: 'Cannot access',
  access: 'Cannot access',
  chmod: 'Cannot change the mode of',
  utime: 'Cannot change the times of',
};

/** Node's error of a filesystem call: a code we know, and the path or the system call it was about. */
export function isFilesystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  const e = error as NodeJS.ErrnoException | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'string' &&
    e.code in FILESYSTEM_PROBLEMS &&
    (typeof e.path === 'string' || typeof e.syscall === 'string')
  );
}

/**
 * A filesystem error as a UserError naming the path and what to do, e.g. `Cannot write out/dev:
 * cannot create the directory out/.dev.tmp-7: the filesystem is read-only: ... (EROFS).` `target`
 * is what the command was writing or reading (named also when the error names no path: a failed
 * write(2) on a full disk does not).
 */
export function filesystemProblem(error: NodeJS.ErrnoException & { code: string }, target?: { verb: string; path: string }): UserError {
  const path = error.path;
  const dest = (error as { dest?: string }).dest;
  const problem =
    error.code === 'EEXIST' && error.syscall === 'mkdir'
      ? 'a file of that name is in the way: remove it, or choose another path'
      : (FILESYSTEM_PROBLEMS[error.code] ?? error.message);
  const verb = SYSCALL_VERBS[error.syscall ?? ''] ?? 'Cannot use';
  let head: string;
  if (path === undefined) head = target ? `${target.verb} ${target.path}` : `${verb} a file`;
  else {
    const where = dest ? `${path} to ${dest}` : path;
    head = target && target.path !== path ? `${target.verb} ${target.path}: ${verb.toLowerCase()} ${where}` : `${verb} ${where}`;
  }
  return new UserError(`${head}: ${problem} (${error.code}).`, ExitCode.failure, {
    cause: error,
    details: {
      ...(path !== undefined ? { path } : target ? { path: target.path } : {}),
      ...(dest ? { dest } : {}),
      code: error.code,
      ...(error.syscall ? { syscall: error.syscall } : {}),
    },
  });
}
