/**
 * Quoting for the MWAA CLI request body. MWAA splits the body the way Python's `shlex.split`
 * does (POSIX mode); no shell runs it, but the splitting rules are a shell's, so every argument
 * is quoted like Python's `shlex.quote`: safe words stay bare, anything else goes inside single
 * quotes with each `'` written as `'"'"'`.
 */

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('A CLI argument cannot contain a NUL character.');
  if (arg.length === 0) return "''";
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

/** The request body for one CLI command: argv without the leading `airflow`. */
export function cliBody(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('Empty CLI command.');
  return argv.map(quoteArg).join(' ');
}
