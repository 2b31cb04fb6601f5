/**
 * POSIX shell quoting, as Python's `shlex.quote` does it: safe words stay bare, anything else goes
 * inside single quotes (where a shell interprets nothing) with each `'` written as `'"'"'`.
 * It serves both places an argument vector becomes one string: remote commands over SSH (run by
 * the login shell) and MWAA CLI request bodies (split with `shlex.split` on the web server).
 */

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('a shell argument cannot contain a NUL character');
  if (arg.length === 0) return "''";
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** One command line from an argument vector, every argument quoted. */
export function shellJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('Empty command: at least one argument is needed.');
  return argv.map(shellQuote).join(' ');
}
