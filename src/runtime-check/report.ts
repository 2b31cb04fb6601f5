/** The result of a runtime check, as the library returns it and `--json` prints it. */
import type { VariableComparison } from './variables.js';

export type CheckName = 'reachable' | 'whoami' | 'checkout' | 'version-file' | 'variables' | 'host-key';

export interface CheckResult {
  name: CheckName;
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
  /** With printHostKeys: the key the server presented. */
  hostKey?: { line: string; fingerprint: string; matchesPinned: boolean | null };
  /** With compareVariables, once the version file was read. */
  variables?: VariableComparison[];
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

export function serverOk(checks: readonly CheckResult[]): boolean {
  return checks.length > 0 && checks.every((check) => check.ok);
}
