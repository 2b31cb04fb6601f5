/**
 * Starting the MWAA control plane (local-stack/src/control-plane, bundled to dist/control-plane.js) and
 * reading what it reports about itself in `<root>/control-plane.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../../src/errors.js';
import { fetchTrusting } from '../../src/mwaa/ca-bundle.js';
import { spawnDetached } from './processes.js';
import type { StackProcess } from './state.js';

export interface ControlPlaneInfo {
  formatVersion: 1;
  pid: number;
  /** The control plane's own identity (see liveness.ts). */
  startTime?: number;
  bootId?: string;
  port: number;
  url: string;
  ready: boolean;
  startedAt: string;
  processes: StackProcess[];
}

export function readControlPlaneInfo(path: string): ControlPlaneInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ControlPlaneInfo;
  } catch {
    return undefined;
  }
}

export function startControlPlane(options: {
  script: string;
  statePath: string;
  log: string;
  syncIntervalSeconds: number;
  /** The control plane's environment, which its Airflow processes inherit. */
  env?: NodeJS.ProcessEnv;
}): number {
  if (!existsSync(options.script)) {
    throw new UserError(`${options.script} is missing: the control plane is not built. Run: npm run build`);
  }
  return spawnDetached({
    command: process.execPath,
    args: [options.script, '--state', options.statePath, '--sync-interval', String(options.syncIntervalSeconds)],
    log: options.log,
    env: options.env,
  });
}

/** A fetch for the control plane: trusting the stack's CA (its PEM file) when it serves HTTPS. */
export function controlPlaneFetch(caCert: string | undefined): typeof fetch {
  return caCert === undefined ? fetch : fetchTrusting(readFileSync(caCert, 'utf8'));
}

export async function controlPlaneHealthy(url: string, caCert?: string): Promise<boolean> {
  const response = await controlPlaneFetch(caCert)(`${url}/_local/health`, { signal: AbortSignal.timeout(3_000) });
  await response.body?.cancel();
  return response.status === 200;
}

/** MWAA GetEnvironment answers 200 for the stack's environment. */
export async function mwaaAnswers(url: string, environmentName: string, caCert?: string): Promise<boolean> {
  const response = await controlPlaneFetch(caCert)(`${url}/environments/${encodeURIComponent(environmentName)}`, {
    signal: AbortSignal.timeout(3_000),
  });
  await response.body?.cancel();
  return response.status === 200;
}
