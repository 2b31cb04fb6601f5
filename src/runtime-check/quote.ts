/**
 * POSIX shell quoting for the remote commands the check sends. The remote side runs the command
 * through the login shell, so every argument is wrapped in single quotes: inside them the shell
 * interprets nothing, and a single quote itself is written as '\'' (close, escaped quote, reopen).
 */

/**
 * Quotes one argument for a POSIX shell, always (even plain words, so the rule has no exceptions).
 * Rejects NUL, which no shell argument can carry.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('a shell argument cannot contain a NUL character');
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Joins an argument vector into one command line, each argument quoted. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('a command needs at least one argument');
  return argv.map(shellQuote).join(' ');
}
