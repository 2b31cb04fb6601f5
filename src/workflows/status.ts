/**
 * `status`: generates the artifacts in memory (nothing is written), and reads the environment,
 * the bucket, the deploy records and Airflow against them (src/deployer/status.ts).
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { mwaaPort, s3Port } from '../deployer/aws-ports.js';
import { airflowAccess, deploySettings, deployTargets } from '../deployer/from-config.js';
import { DEFAULT_STATUS_RUNS, readStatus, type StatusReport } from '../deployer/status.js';
import { generateEnvironment } from '../generator/generate.js';
import type { AwsClients } from '../mwaa/clients.js';

export interface StatusRequest {
  config: ResolvedConfig;
  toolVersion: string;
  /** How many of the DAG's last runs to show (default DEFAULT_STATUS_RUNS). */
  runs?: number;
  /** Told about a fallback from Airflow's REST API to the CLI, say. */
  warn: (message: string) => void;
}

export async function runStatus(request: StatusRequest, clients: Pick<AwsClients, 's3' | 'mwaa'>): Promise<StatusReport> {
  const { config } = request;
  const generated = await generateEnvironment(config, request.toolVersion);
  const access = airflowAccess(config, clients.mwaa, request.warn);
  return readStatus(
    {
      settings: deploySettings(config, generated, request.toolVersion),
      targets: deployTargets(generated),
      runs: request.runs ?? DEFAULT_STATUS_RUNS,
    },
    { s3: s3Port(clients.s3), mwaa: mwaaPort(clients.mwaa), airflow: access.airflow },
  );
}
