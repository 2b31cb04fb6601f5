/**
 * Wiring from a ResolvedConfig and the generated artifacts to the deployer's inputs: settings,
 * targets, default options and the real ports. Shared by the deploy workflow
 * (src/workflows/deploy.ts) and the integration tests, so both drive the same code. The artifacts
 * come in as plain data (DeployArtifacts): the deployer does not depend on the generator.
 */
import type { ArtifactKind } from '../artifacts/kinds.js';
import type { AwsClients } from '../mwaa/clients.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { alarmTargets } from './alarms.js';
import { cloudWatchPort, mwaaPort, s3Port } from './aws-ports.js';
import type { Clock } from './clock.js';
import { targetsFromArtifacts, type DeployDeps, type DeployOptions, type DeploySettings } from './deploy.js';
import type { DeployEvent } from './events.js';
import { mwaaAccess, type MwaaAccess } from '../mwaa/access.js';
import { caBundleFor } from '../mwaa/ca-bundle.js';
import type { DeployTarget } from './plan.js';

/** What the deployer reads of one generated environment: the artifacts' bytes and the manifest. */
export interface DeployArtifacts {
  artifacts: readonly { path: string; kind: ArtifactKind; s3Key: string | null; bytes: Uint8Array }[];
  manifest: { configHash: string; artifacts: readonly { path: string; sha256: string; size: number }[] };
}

export function deploySettings(config: ResolvedConfig, generated: DeployArtifacts, toolVersion: string): DeploySettings {
  const alarms = alarmTargets(config);
  return {
    ...(alarms ? { alarms } : {}),
    envName: config.envName,
    environmentName: config.mwaa.environmentName,
    bucket: config.mwaa.bucket,
    dagsPrefix: config.mwaa.dagsPrefix,
    deploymentsPrefix: config.mwaa.deploymentsPrefix,
    airflowVersion: config.airflow.version,
    airflowLine: config.airflow.line,
    dagId: config.dag.id,
    configHash: generated.manifest.configHash,
    toolVersion,
    manifest: generated.manifest,
  };
}

export function deployTargets(generated: DeployArtifacts): DeployTarget[] {
  return targetsFromArtifacts(generated.artifacts, generated.manifest);
}

/**
 * Poll intervals follow the service: MWAA updates take tens of minutes and sync DAG files about
 * every 30 s; the local stack updates in seconds.
 */
/**
 * `dagMarker`: the DAG tag the new DAG carries (the workflow reads it from the generated DAG);
 * before triggering, the deployer waits until Airflow has parsed a DAG with it.
 */
export function defaultDeployOptions(config: ResolvedConfig, timeoutMs: number, dagMarker?: string): DeployOptions {
  const local = config.localStack;
  const options: DeployOptions = {
    trigger: true,
    conf: { ...config.dag.triggerConf },
    timeoutMs,
    poll: local ? { environmentMs: 1000, dagMs: 3000, runMs: 4000 } : { environmentMs: 20_000, dagMs: 15_000, runMs: 15_000 },
    dagSettleMs: local ? 40_000 : 90_000,
    lockTtlMs: timeoutMs * 3 + 15 * 60_000,
  };
  if (dagMarker) options.dagMarker = dagMarker;
  return options;
}

/** The environment's Airflow (REST through the web login, the CLI token), as the config reaches it. */
export function airflowAccess(config: ResolvedConfig, mwaa: AwsClients['mwaa'], warn: (message: string) => void): MwaaAccess {
  return mwaaAccess(
    mwaa,
    {
      environmentName: config.mwaa.environmentName,
      webserverScheme: config.mwaa.webserverScheme,
      airflowVersion: config.airflow.version,
      ca: caBundleFor(config)?.pem,
    },
    warn,
  );
}

export function deployDeps(
  config: ResolvedConfig,
  clients: Pick<AwsClients, 's3' | 'mwaa'> & Partial<Pick<AwsClients, 'cloudWatch'>>,
  clock: Clock,
  emit: (event: DeployEvent) => void,
  who: DeployDeps['who'],
): DeployDeps {
  const access = airflowAccess(config, clients.mwaa, (message) => emit({ type: 'warning', message }));
  return {
    s3: s3Port(clients.s3),
    mwaa: mwaaPort(clients.mwaa),
    ...(clients.cloudWatch ? { cloudWatch: cloudWatchPort(clients.cloudWatch) } : {}),
    cli: access.cli,
    airflow: access.airflow,
    clock,
    emit,
    who,
  };
}
