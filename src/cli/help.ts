import type { ExitCode } from '../errors.js';

/**
 * What each exit code means, one row per code of ExitCode (src/errors.ts), as --help and the
 * README say it. The type holds each row to ExitCode's own number (no runtime import: this module
 * is evaluated before the others in the bundled plain generate).
 */
export const EXIT_CODE_MEANINGS: { readonly [K in keyof typeof ExitCode]: readonly [(typeof ExitCode)[K], string] } = {
  ok: [0, 'success'],
  failure: [
    1,
    'failure (a check or run failed, a deploy was refused or failed, AWS or the Airflow web server refused or did not answer, a file could not be written)',
  ],
  usage: [2, 'usage or configuration error'],
  changesPending: [3, 'deploy --plan --detailed-exitcode with changes pending'],
  interrupted: [130, 'stopped by Ctrl-C (SIGINT), after releasing the deploy lock'],
  brokenPipe: [141, 'the reader of the output went away (SIGPIPE)'],
  terminated: [143, 'stopped by SIGTERM, after releasing the deploy lock'],
};

/** Help text shared by every command's --help. */
export const EXIT_CODES_EPILOG = [
  'Exit codes:',
  ...Object.values(EXIT_CODE_MEANINGS)
    .sort(([a], [b]) => a - b)
    .map(([code, meaning]) => `  ${code} ${meaning}`),
  'With --json, stdout holds one JSON document, {"ok", "command", ...} (docs/json-output.schema.json), even on failure:',
  '{"ok": false, "command", "error": {"message", "exitCode", ...}};',
  'a failed AWS or web-server call adds service, operation, endpoint, code, remoteMessage, kind, httpStatus, requestId, attempts.',
  'Errors show no stack trace; --verbose adds the chain of causes.',
  'Colour on a terminal; NO_COLOR=1 turns it off, FORCE_COLOR=1 on.',
].join('\n');
