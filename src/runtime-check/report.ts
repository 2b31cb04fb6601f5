/** The result of a runtime check, as the library returns it and `--json` prints it. */
import type { GpuReading } from './nvidia-smi.js';
import type { VariableComparison } from './variables.js';

export type CheckName = 'reachable' | 'whoami' | 'gpus' | 'checkout' | 'version-file' | 'variables' | 'host-key';

export interface CheckResult {
  name: CheckName;
  /** With several repositories: the repository a checkout, version-file or variables check is about. */
  repository?: string;
  ok: boolean;
  /** Wall time of this check, in milliseconds. */
  ms: number;
  reason: string;
}

export interface ServerReport {
  name: string;
  host: string;
  port: number;
  ok: boolean;
  checks: CheckResult[];
  /** What the checkout is on, when the checkout check got that far. */
  git?: { branch: string; commit: string };
  /** With several repositories: what each checkout is on, by repository name. */
  repositories?: Record<string, { branch: string; commit: string }>;
  /** With printHostKeys: the key the server presented. */
  hostKey?: { line: string; fingerprint: string; matchesPinned: boolean | null };
  /** With compareVariables, once the version file was read. */
  variables?: VariableComparison[];
  /** With a gpus expectation, once nvidia-smi answered: each GPU, the driver and its CUDA version. */
  gpus?: GpuReading;
}

export interface CheckReport {
  ok: boolean;
  mode: 'check' | 'host-keys';
  servers: ServerReport[];
  durationMs: number;
}

export type CheckEvent =
  | { type: 'key-loaded'; source: 'secrets-manager' | 'identity-file' | 'inline' }
  | { type: 'server-started'; server: string }
  | { type: 'server-finished'; server: ServerReport }
  | { type: 'variables-started'; count: number }
  | { type: 'warning'; message: string };

/**
 * A check that did not run because an earlier one failed (no connection, no version file) is
 * reported with a reason that starts with this; it is neither a pass nor a failure of its own.
 */
export const SKIPPED_PREFIX = 'skipped: ';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export function checkStatus(check: Pick<CheckResult, 'ok' | 'reason'>): CheckStatus {
  if (check.ok) return 'pass';
  return check.reason.startsWith(SKIPPED_PREFIX) ? 'skip' : 'fail';
}

/** The reason of a check, without the skip marker (the status says it). */
export function checkDetail(check: Pick<CheckResult, 'ok' | 'reason'>): string {
  return checkStatus(check) === 'skip' ? check.reason.slice(SKIPPED_PREFIX.length) : check.reason;
}

export function serverOk(checks: readonly CheckResult[]): boolean {
  return checks.length > 0 && checks.every((check) => check.ok);
}

/** How a check is named in text: with its repository when it has one (`checkout etl`). */
export function checkLabel(check: Pick<CheckResult, 'name' | 'repository'>): string {
  return check.repository ? `${check.name} ${check.repository}` : check.name;
}
