import type { DeployOptions, DeploySettings } from '../../../src/deployer/deploy.js';
import type { DeployTarget, PlanSettings } from '../../../src/deployer/plan.js';
import { sha256 } from './fakes.js';

export const SETTINGS: PlanSettings = {
  environmentName: 'env-x',
  bucket: 'airflow-test',
  dagsPrefix: 'dags',
  airflowVersion: '2.10.3',
};

/** A deploy's settings on top of the plan's. */
export const DEPLOY_SETTINGS: DeploySettings = {
  ...SETTINGS,
  envName: 'local',
  deploymentsPrefix: 'deployments',
  dagId: 'gpu_server_cicd_workflow',
  airflowLine: '2',
  configHash: 'c'.repeat(64),
};

/** No trigger, polls of a second, an hour to wait: for deploys against the fakes. */
export const OPTIONS: DeployOptions = {
  trigger: false,
  timeoutMs: 3_600_000,
  poll: { environmentMs: 1000, dagMs: 1000, runMs: 1000 },
  dagSettleMs: 5000,
  lockTtlMs: 600_000,
};

export function target(kind: DeployTarget['kind'], key: string, text: string): DeployTarget {
  const bytes = Buffer.from(text);
  return { kind, path: key, key, sha256: sha256(bytes), size: bytes.length, source: { type: 'bytes', bytes } };
}

export function targets(overrides: Partial<Record<DeployTarget['kind'], string>> = {}): DeployTarget[] {
  return [
    target('dag', 'dags/gpu_server_cicd_dag.py', overrides.dag ?? 'dag v1'),
    target('plugins', 'plugins.zip', overrides.plugins ?? 'plugins v1'),
    target('requirements', 'requirements.txt', overrides.requirements ?? 'reqs v1'),
    target('config', 'config/local/config.yaml', overrides.config ?? 'config v1'),
  ];
}
