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

/** Absolute POSIX path made only of characters that never need shell quoting, with no `..`. */
export function isSafeAbsolutePath(value: string): boolean {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(value)) return false;
  return !value.split('/').some((segment) => segment === '..');
}

/** Relative path inside a checkout (e.g. `www/version.yaml`), same character allowlist. */
export function isSafeRelativePath(value: string): boolean {
  if (!/^[A-Za-z0-9._-][A-Za-z0-9._/-]*$/.test(value)) return false;
  return !value.split('/').some((segment) => segment === '..' || segment === '');
}

/**
 * git check-ref-format rules for a branch name (see `git help check-ref-format`), narrowed to the
 * characters that are safe on a command line.
 */
export function gitBranchProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (!/^[A-Za-z0-9._/-]+$/.test(value)) return 'may contain only letters, digits, ".", "_", "/" and "-"';
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

/** Git remote: https://, ssh://, file://, scp-like `user@host:path`, or an absolute local path. */
export function isGitRemote(value: string): boolean {
  if (/[\s'"`$;&|<>\\]/.test(value)) return false;
  if (/^(https|ssh|git|file):\/\/[A-Za-z0-9._~@:/+-]+$/.test(value)) return true;
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/+-]+$/.test(value)) return true;
  return isSafeAbsolutePath(value);
}

export const SECRETS_MANAGER_ARN =
  /^arn:aws(-cn|-us-gov)?:secretsmanager:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

export const AWS_REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

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

/** Cron (5 fields) or an Airflow preset. */
export function isSchedule(value: string): boolean {
  if (/^@(once|continuous|hourly|daily|weekly|monthly|quarterly|yearly|annually)$/.test(value)) return true;
  const fields = value.trim().split(/\s+/);
  return fields.length === 5 && fields.every((field) => /^[0-9A-Za-z*/,?#LW-]+$/.test(field));
}
