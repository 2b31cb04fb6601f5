/**
 * Wiring from a ResolvedConfig and the generator's output to the deployer's inputs: settings,
 * targets, default options and the real ports. Shared by the CLI and the integration tests, so
 * both drive the same code.
 */
import type { AwsClients } from '../mwaa/clients.js';
import type { ResolvedConfig } from '../config/resolved.js';
import { dagBuildTag } from '../generator/artifact.js';
import type { GeneratedEnvironment } from '../generator/generate.js';
import { alarmTargets } from './alarms.js';
import { cloudWatchPort, mwaaPort, s3Port } from './aws-ports.js';
import type { Clock } from './clock.js';
import { targetsFromArtifacts, type DeployDeps, type DeployOptions, type DeploySettings } from './deploy.js';
import type { DeployEvent } from './events.js';
import { mwaaAccess } from '../mwaa/access.js';
import type { DeployTarget } from './plan.js';

export function deploySettings(config: ResolvedConfig, generated: GeneratedEnvironment, toolVersion: string): DeploySettings {
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

export function deployTargets(generated: GeneratedEnvironment): DeployTarget[] {
  return targetsFromArtifacts(generated.artifacts, generated.manifest);
}

/** The DAG tag only this config's DAG carries, when the generated DAG declares one. */
export function dagMarker(generated: GeneratedEnvironment): string | undefined {
  const marker = dagBuildTag(generated.manifest);
  const dag = generated.artifacts.find((a) => a.kind === 'dag');
  return dag?.bytes.includes(marker) ? marker : undefined;
}

/**
 * Poll intervals follow the service: MWAA updates take tens of minutes and sync DAG files about
 * every 30 s; the local stack updates in seconds.
 */
export function defaultDeployOptions(config: ResolvedConfig, generated: GeneratedEnvironment, timeoutMs: number): DeployOptions {
  const local = config.localStack;
  const options: DeployOptions = {
    trigger: true,
    conf: { ...config.dag.triggerConf },
    timeoutMs,
    poll: local ? { environmentMs: 1000, dagMs: 3000, runMs: 4000 } : { environmentMs: 20_000, dagMs: 15_000, runMs: 15_000 },
    dagSettleMs: local ? 40_000 : 90_000,
    lockTtlMs: timeoutMs * 3 + 15 * 60_000,
  };
  const marker = dagMarker(generated);
  if (marker) options.dagMarker = marker;
  return options;
}

export function deployDeps(
  config: ResolvedConfig,
  clients: Pick<AwsClients, 's3' | 'mwaa'> & Partial<Pick<AwsClients, 'cloudWatch'>>,
  clock: Clock,
  emit: (event: DeployEvent) => void,
  who: DeployDeps['who'],
): DeployDeps {
  const access = mwaaAccess(
    clients.mwaa,
    { environmentName: config.mwaa.environmentName, webserverScheme: config.mwaa.webserverScheme, airflowVersion: config.airflow.version },
    (message) => emit({ type: 'warning', message }),
  );
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
