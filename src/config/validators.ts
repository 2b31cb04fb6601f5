/**
 * Value checks for what config values will become: a hostname for ssh, a path in a remote shell
 * command, a git ref, an ARN, an Airflow key. Allowlists rather than denylists, because every one
 * of these values ends up on a remote command line or inside generated Python.
 */
import { isIP } from 'node:net';

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

export function isHostname(value: string): boolean {
  if (isIP(value) !== 0) return true;
  if (value.length > 253) return false;
  const labels = value.replace(/\.$/, '').split('.');
  // A dotted-quad that isIP rejected (e.g. 999.1.1.1) is a typo, not a hostname.
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return labels.every((label) => HOSTNAME_LABEL.test(label));
}

/**
 * A URL whose host is this machine: `localhost`, 127.0.0.0/8 or ::1 (as the URL parser
 * normalises them, so `http://0x7f.1` counts and `http://127.0.0.1.nip.io` does not).
 */
export function isLoopbackUrl(value: string | undefined): boolean {
  if (value === undefined || !URL.canParse(value)) return false;
  const host = new URL(value).hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && host === '::1';
}

/**
 * An absolute POSIX path of characters that never need shell quoting, without "." or ".."
 * components or "//", at most 1024 characters. One definition for the config and the DAG: the
 * generator passes this source to the DAG's run-parameter check (Python `re.fullmatch`) and to its
 * Param's JSON Schema pattern; it means the same in JavaScript and Python (a unit test runs both).
 */
export const SAFE_ABSOLUTE_PATH_PATTERN = String.raw`^(?=.{1,1024}$)(?:/|(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._-]+)+/?)$`;
const SAFE_ABSOLUTE_PATH = new RegExp(SAFE_ABSOLUTE_PATH_PATTERN);

export function isSafeAbsolutePath(value: string): boolean {
  return SAFE_ABSOLUTE_PATH.test(value);
}

/** Relative path inside a checkout (e.g. `www/version.yaml`), same character allowlist. */
export function isSafeRelativePath(value: string): boolean {
  if (!/^[A-Za-z0-9._-][A-Za-z0-9._/-]*$/.test(value)) return false;
  return !value.split('/').some((segment) => segment === '..' || segment === '');
}

/**
 * `git check-ref-format --branch` rules for a branch name (see `git help check-ref-format`),
 * narrowed to the characters that are safe on a command line; test/system/config/git-rules.test.ts
 * holds it to git's own verdict on generated names.
 */
export function gitBranchProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (!/^[A-Za-z0-9._/-]+$/.test(value)) return 'may contain only letters, digits, ".", "_", "/" and "-"';
  // git refuses it as a branch name; `rev-parse --abbrev-ref HEAD` prints it for a detached checkout.
  if (value === 'HEAD') {
    return 'must not be "HEAD": git does not accept it as a branch name (git check-ref-format --branch); name the branch to check out';
  }
  if (value.startsWith('-')) return 'must not start with "-"';
  if (value.startsWith('/') || value.endsWith('/')) return 'must not start or end with "/"';
  if (value.includes('//')) return 'must not contain "//"';
  if (value.includes('..')) return 'must not contain ".."';
  if (value.endsWith('.')) return 'must not end with "."';
  if (value === '@') return 'must not be "@"';
  for (const component of value.split('/')) {
    if (component.startsWith('.')) return 'no path component may start with "."';
    if (component.endsWith('.lock')) return 'no path component may end with ".lock"';
  }
  return undefined;
}

/**
 * Git remote: https://, ssh://, git://, file://, scp-like `user@host:path`, or an absolute local
 * path. Credentials never go into the URL: it is copied into the DAG, the uploaded config, logged
 * git commands, errors and the server's .git/config. An ssh user name (git@host) is not a secret.
 */
export function gitRemoteProblem(value: string): string | undefined {
  const expected = 'expected a git remote: https://, ssh://, git://, file://, user@host:path or an absolute path';
  if (/[\s'"`$;&|<>\\]/.test(value)) return expected;
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(value);
  if (url) {
    const [, scheme = '', authority = ''] = url;
    const at = authority.lastIndexOf('@');
    const userInfo = at >= 0 ? authority.slice(0, at) : undefined;
    if (userInfo !== undefined && /^https?$/i.test(scheme)) {
      return (
        'must not contain a user name or password (credentials would be copied into the DAG, logs and the ' +
        "server's .git/config): use an ssh URL with a deploy key, or a git credential helper on the GPU server"
      );
    }
    if (userInfo?.includes(':')) {
      return 'must not contain a password: use an ssh deploy key on the GPU server';
    }
    if (!/^(https|ssh|git|file):\/\/[A-Za-z0-9._~@:/+-]+$/.test(value)) return expected;
    const hostPort = authority.slice(at + 1);
    const colon = hostPort.indexOf(':');
    const host = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
    const port = colon >= 0 ? hostPort.slice(colon + 1) : undefined;
    return (
      optionLikeProblem('the user', userInfo, 'the ssh user of the remote, such as git') ??
      optionLikeProblem('the host', host, "the server's host name or address") ??
      optionLikeProblem('the port', port, 'a port number') ??
      (port !== undefined && port !== '' && !/^\d{1,5}$/.test(port) ? `the port ${JSON.stringify(port)} is not a port number` : undefined)
    );
  }
  const scpLike = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):[A-Za-z0-9._~/+-]+$/.exec(value);
  if (scpLike) {
    return (
      optionLikeProblem('the user', scpLike[1], 'the ssh user of the remote, such as git@host:path') ??
      optionLikeProblem('the host', scpLike[2], "the server's host name or address")
    );
  }
  return isSafeAbsolutePath(value) ? undefined : expected;
}

/**
 * git hands an ssh remote's user, host and port to ssh as arguments: one that starts with "-" is
 * an ssh option (`-oProxyCommand=...` runs a command). git blocks some of them ("strange
 * hostname"), not all (`git@-host`); the config refuses every one, in every URL form.
 */
function optionLikeProblem(what: string, part: string | undefined, instead: string): string | undefined {
  if (part === undefined || !part.startsWith('-')) return undefined;
  return `${what} ${JSON.stringify(part)} starts with "-", which ssh would read as an option (git refuses such URLs as "strange"); write ${instead}`;
}

export const SECRETS_MANAGER_ARN =
  /^arn:aws(-cn|-us-gov)?:secretsmanager:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

export const AWS_REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** The longest Airflow Variable key (the metadata DB column is String(250)). */
export const MAX_AIRFLOW_VARIABLE_KEY = 250;

/**
 * Limits of the version file reader, the same in the DAG (passed into its Python reader) and the
 * runtime check: aliases a file may use, how deep it may nest, how long a number may be. A few
 * of each are plenty for a handful of scalars; more only serves a "billion laughs" file.
 */
export const VERSION_FILE_LIMITS = { maxAliases: 10, maxDepth: 32, maxNumberChars: 100 } as const;

/** Airflow's own KEY_REGEX for DAG ids and task ids. */
export const AIRFLOW_KEY = /^[A-Za-z0-9_.-]{1,250}$/;

/** S3 bucket naming rules; MWAA additionally requires the `airflow-` prefix. */
export function bucketProblem(value: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)) {
    return 'expected 3-63 lowercase letters, digits, "." or "-", starting and ending with a letter or digit';
  }
  if (value.includes('..') || isIP(value) !== 0) return 'expected a valid S3 bucket name';
  if (!value.startsWith('airflow-')) return 'MWAA requires the bucket name to start with "airflow-"';
  return undefined;
}

export const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$/;

/**
 * Airflow's schedule presets (`cron_presets`, plus `@once`/`@continuous` and the croniter aliases
 * `@midnight`/`@annually` that Airflow hands to croniter).
 */
export const SCHEDULE_PRESETS = [
  '@once',
  '@continuous',
  '@hourly',
  '@daily',
  '@midnight',
  '@weekly',
  '@monthly',
  '@quarterly',
  '@yearly',
  '@annually',
] as const;

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  // croniter reads 7 as Sunday too.
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

/**
 * A 5-field cron expression as Airflow's croniter reads it (numbers in each field's range, month
 * and weekday names, `*`, lists, ranges, steps; `?` in either day field; `L` and `nW` in the day
 * of month; `n#k` and `Ln` in the day of week), or a preset. Stricter than croniter where croniter
 * accepts what cron does not mean (seconds and year fields, `H`, a 0 day of month in a range).
 * test/fixtures/cron-corpus.json holds the cases, checked here and against Airflow itself.
 */
export function scheduleProblem(value: string): string | undefined {
  if (value.startsWith('@')) {
    return (SCHEDULE_PRESETS as readonly string[]).includes(value)
      ? undefined
      : `unknown preset "${value}"; Airflow knows ${SCHEDULE_PRESETS.join(', ')}`;
  }
  const fields = value.trim().split(/[ \t]+/);
  if (fields.length !== 5 || /[^ \t\x21-\x7e]/.test(value)) {
    return `expected 5 cron fields (minute hour day-of-month month day-of-week) or a preset such as @daily, got ${JSON.stringify(value)}`;
  }
  for (const [index, text] of fields.entries()) {
    const field = CRON_FIELDS[index] as CronField;
    const problem = cronFieldProblem(text.toLowerCase(), index, field);
    if (problem) return `${field.name} field ${JSON.stringify(text)}: ${problem}`;
  }
  return undefined;
}

function cronFieldProblem(text: string, index: number, field: CronField): string | undefined {
  if (text === '?') return index === 2 || index === 4 ? undefined : '"?" is allowed only in the day fields';
  const items = text.split(',');
  let nth = false;
  let plain = false;
  for (const item of items) {
    if (item === '') return 'empty list item';
    if (index === 2 && item === 'l') continue;
    if (index === 2 && /^(\d+w|w\d+)$/.test(item)) {
      const day = Number(item.replace('w', ''));
      if (items.length > 1) return '"W" takes a single day, not a list';
      if (day < 1 || day > 31) return `day ${day} is out of range 1-31`;
      continue;
    }
    if (index === 4) {
      const hash = /^(.+)#(\d+)$/.exec(item);
      const last = /^l(\d+)$/.exec(item);
      if (hash || last) {
        const day = hash ? (hash[1] ?? '') : (last?.[1] ?? '');
        if (!/^(\d+|[a-z]+)$/.test(day)) return `"${item}": "#" and "L" take a single weekday`;
        const problem = cronRangeProblem(day, field, index);
        if (problem) return problem;
        if (hash && !(Number(hash[2]) >= 1 && Number(hash[2]) <= 5)) return `"#${hash[2]}": the week must be 1-5`;
        nth = true;
        continue;
      }
    }
    const problem = cronRangeProblem(item, field, index);
    if (problem) return problem;
    plain = true;
  }
  if (nth && plain && text !== '*') return 'cannot mix "#"/"L" weekdays with other weekdays';
  return undefined;
}

/** One list item: `*`, `n`, `a-b`, each with an optional `/step`. */
function cronRangeProblem(item: string, field: CronField, index: number): string | undefined {
  const match = /^([^/]+)(?:\/(\d+))?$/.exec(item);
  if (!match) return `"${item}" is not a value, range or step`;
  const [, range = '', step] = match;
  if (step !== undefined && Number(step) === 0) return 'a step must be at least 1';
  if (range === '*') return undefined;
  const bounds = range.split('-');
  if (bounds.length > 2) return `"${range}" is not a range`;
  for (const bound of bounds) {
    const isLastDay = index === 2 && bound === 'l' && bounds.length === 2 && bound === bounds[1];
    if (isLastDay) continue;
    const named = field.names?.indexOf(bound) ?? -1;
    const number = /^\d+$/.test(bound) ? Number(bound) : field.min + named;
    if (!/^\d+$/.test(bound) && named < 0) {
      return `"${bound}" is not a number${field.names ? ` or a ${field.name} name` : ''}`;
    }
    if (number < field.min || number > field.max) return `${bound} is out of range ${field.min}-${field.max}`;
  }
  return undefined;
}

/**
 * A GPU model pattern: a regular expression that JavaScript (the check) and Python's re (the DAG)
 * read alike, so the allowlist leaves out every construct they spell differently ((?...), {}, /).
 */
export function gpuModelProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > 200) return 'expected a regular expression of 1-200 characters, such as "A100|H100"';
  const bad = value.match(/[^A-Za-z0-9 ._|()[\]*+?^$\\-]/);
  if (bad) return `expected letters, digits, space and . _ - | ( ) [ ] * + ? ^ $ \\ only, found ${JSON.stringify(bad[0])}`;
  if (value.includes('(?')) return 'expected no (?...) groups: the check and the DAG read them differently';
  try {
    new RegExp(value);
  } catch (error) {
    return `not a valid regular expression: ${(error as Error).message}`;
  }
  return undefined;
}
