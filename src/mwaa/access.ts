/**
 * The two ways into an environment's Airflow, built once per command: the CLI token client (for
 * `dags trigger`, and as the fallback) and Airflow's REST API through the web login. The deployer
 * and the runtime check both build theirs here.
 */
import type { MWAAClient } from '@aws-sdk/client-mwaa';
import { airflowApi, type AirflowApi } from './airflow-api.js';
import { createMwaaCli, type MwaaCli } from './cli-client.js';
import { createAirflowRest } from './rest-client.js';
import { airflowLine, type AirflowVersion } from './versions.js';

export interface MwaaAccessSettings {
  environmentName: string;
  webserverScheme: 'https' | 'http';
  /** The environment's Airflow version: the REST prefix follows its line, the CLI forms the version. */
  airflowVersion: AirflowVersion;
}

export interface MwaaAccess {
  cli: MwaaCli;
  airflow: AirflowApi;
}

export function mwaaAccess(
  client: Pick<MWAAClient, 'send'>,
  settings: MwaaAccessSettings,
  onFallback?: (message: string) => void,
): MwaaAccess {
  const cli = createMwaaCli(client, settings.environmentName, settings.webserverScheme);
  const rest = createAirflowRest(client, settings.environmentName, settings.webserverScheme, airflowLine(settings.airflowVersion));
  const options: Parameters<typeof airflowApi>[0] = { version: settings.airflowVersion, cli, rest };
  if (onFallback) options.onFallback = onFallback;
  return { cli, airflow: airflowApi(options) };
}
