/**
 * The local stack's state file (`<root>/state.json`): the one place every other part of the
 * project (config loader, control plane, integration tests) learns where the stack's services are.
 * Its shape only grows: fields may be added, never removed (readers of an older stack's file keep working).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../../src/errors.js';
import type { AirflowHomeInfo } from './airflow-home.js';

export type { AirflowLine } from '../../src/mwaa/versions.js';
import type { AirflowLine } from '../../src/mwaa/versions.js';

export interface StackProcess {
  /** moto, sshd, control-plane; or (in `status` output and control-plane.json) an `airflow-*` process. */
  name: string;
  pid: number;
  log: string;
  /**
   * Who the PID named when it was recorded: the start time in /proc/<pid>/stat (field 22) and
   * /proc/sys/kernel/random/boot_id. A PID that now names a process with another start time was
   * reused: not this stack's (see liveness.ts).
   */
  startTime?: number;
  bootId?: string;
}

export interface LocalStackState {
  formatVersion: 1;
  root: string;
  airflowLine: AirflowLine;
  airflowVersion: string;
  /** The Python the stack's Airflow runs on (major.minor). */
  pythonVersion: string;
  /** Present when that is not the Python MWAA pairs with airflowVersion: why. */
  pythonNote?: string;
  /** Holds airflow, python, pytest, ruff, moto_server. */
  venvBin: string;
  /** The tools venv's AWS CLI v1 (`locks/aws-cli-py*.txt`). */
  awsCli?: string;
  /** AIRFLOW_HOME; `dags/` and `plugins/` inside. */
  airflowHome: string;
  environmentName: string;
  region: string;
  bucket: string;
  secretArn: string;
  /** `mwaa` is `https://127.0.0.1:<port>` (the API and the web server), s3 and secretsManager moto's plain HTTP. */
  endpoints: { s3: string; secretsManager: string; mwaa: string };
  /**
   * The stack's CA (tls.ts). Clients trust `caCert`; the
   * control plane serves `serverCert` with `serverKey` (0600). Absent: the control plane speaks HTTP.
   */
  tls?: { caCert: string; serverCert: string; serverKey: string };
  ssh: {
    host: string;
    port: number;
    user: string;
    hostPublicKey: string;
    clientKeyPath: string;
    sshdLog: string;
    sshdConfig: string;
  };
  git: { remoteUrl: string; branch: string };
  workspace: string;
  /**
   * What `up` started: moto, sshd, control-plane. The Airflow processes belong to the control plane,
   * which restarts them on updates: their live PIDs are in `<root>/control-plane.json`.
   */
  processes: StackProcess[];
  /** Seconds between the control plane's S3 → dags/ syncs (MWAA: ~30 s; the local stack: 5). */
  dagSyncIntervalSeconds?: number;
  /** When `up` finished and the lock it installed. */
  startedAt?: string;
  lockFile?: string;
  lockSha256?: string;
  /** Airflow's own settings the control plane and tests need. */
  airflow?: AirflowHomeInfo & {
    /** Environment every Airflow process of the stack gets (no secrets: dummy AWS keys only). */
    env: Record<string, string>;
  };
}

export const STATE_FILE = 'state.json';

/** `$MWAA_LOCAL_HOME` or `<repo>/.local-stack`, absolute. */
export function stackRoot(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = env.MWAA_LOCAL_HOME;
  return resolve(cwd, fromEnv && fromEnv.length > 0 ? fromEnv : '.local-stack');
}

export function statePath(root: string): string {
  return join(root, STATE_FILE);
}

/** Reads state.json, or returns undefined when the stack was never brought up (or was wiped). */
export function readStateIfPresent(root: string): LocalStackState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(root), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: LocalStackState;
  try {
    parsed = JSON.parse(text) as LocalStackState;
  } catch {
    throw new UserError(
      `${statePath(root)} is not JSON (edited or cut short?): remove it (rm ${statePath(root)}), then run: npm run local -- up`,
    );
  }
  if (parsed?.formatVersion !== 1) {
    throw new UserError(
      `${statePath(root)} has formatVersion ${String(parsed?.formatVersion)}; this tool reads 1. ` +
        'Run: npm run local -- down --wipe, then up.',
    );
  }
  return parsed;
}

/** Reads state.json or explains how to bring the stack up. */
export function readState(root: string): LocalStackState {
  const state = readStateIfPresent(root);
  if (!state) {
    throw new UserError(`The local stack is not up (no ${statePath(root)}). Run: npm run local -- up`);
  }
  return state;
}

/** Atomic write: readers never see a half-written file. */
export function writeState(root: string, state: LocalStackState): void {
  writeJsonAtomic(statePath(root), state);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}
