/** Help text shared by every command's --help. */
export const EXIT_CODES_EPILOG = [
  'Exit codes: 0 success; 1 failure (a check or run failed, a deploy was refused or failed);',
  '2 usage or configuration error; 3 deploy --plan --detailed-exitcode with changes pending.',
  'With --json, stdout holds one JSON document even on failure: {"ok": false, "error": {"message", "exitCode", ...}}.',
  'Colour on a terminal; NO_COLOR=1 turns it off, FORCE_COLOR=1 on.',
].join('\n');
