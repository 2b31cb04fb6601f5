/**
 * The two ways into an environment's Airflow, built once per command: the CLI token client (for
 * `dags trigger`, and as the fallback) and Airflow's REST API through the web login. The deployer
 * and the runtime check both build theirs here.
 */
import type { MWAAClient } from '@aws-sdk/client-mwaa';
import { airflowApi, type AirflowApi } from './airflow-api.js';
import { createMwaaCli, type MwaaCli } from './cli-client.js';
import { transportLimits, type TransportLimits } from './limits.js';
import { createAirflowRest } from './rest-client.js';
import type { AirflowLine } from './versions.js';

export interface MwaaAccessSettings {
  environmentName: string;
  webserverScheme: 'https' | 'http';
  airflowLine: AirflowLine;
}

export interface MwaaAccess {
  cli: MwaaCli;
  airflow: AirflowApi;
}

export function mwaaAccess(
  client: Pick<MWAAClient, 'send'>,
  settings: MwaaAccessSettings,
  onFallback?: (message: string) => void,
  limits: TransportLimits = transportLimits(),
): MwaaAccess {
  const bounds = { requestTimeoutMs: limits.requestTimeoutMs, maxAnswerBytes: limits.maxAnswerBytes };
  const cli = createMwaaCli(client, settings.environmentName, settings.webserverScheme, bounds);
  const rest = createAirflowRest(client, settings.environmentName, settings.webserverScheme, settings.airflowLine, bounds);
  const options: Parameters<typeof airflowApi>[0] = { line: settings.airflowLine, cli, rest, logTailBytes: limits.logTailBytes };
  if (onFallback) options.onFallback = onFallback;
  return { cli, airflow: airflowApi(options) };
}
