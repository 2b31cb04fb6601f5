/**
 * `history` and `logs` as the CLI and the programmatic API both run them: the environment's deploy
 * records from the bucket, and a run's task logs through Airflow's REST API, each with the
 * clients and the answer cap the config gives.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { s3Port } from '../deployer/aws-ports.js';
import { airflowAccess } from '../deployer/from-config.js';
import { readHistory, type History } from '../deployer/history.js';
import { DEFAULT_LOG_LINES, readRunLogs, type RunLogs } from '../deployer/run-logs.js';
import type { AwsClients } from '../mwaa/clients.js';
import { transportLimits } from '../mwaa/limits.js';

export function environmentHistory(config: ResolvedConfig, clients: Pick<AwsClients, 's3'>): Promise<History> {
  return readHistory(s3Port(clients.s3), {
    bucket: config.mwaa.bucket,
    deploymentsPrefix: config.mwaa.deploymentsPrefix,
    envName: config.envName,
  });
}

export interface LogsRequest {
  /** Default: the newest run. */
  runId?: string;
  task?: string;
  /** A server name from the config: only the tasks its map index ran. */
  server?: string;
  /** Lines from the end of each log (default DEFAULT_LOG_LINES); Infinity: each whole log, up to the answer cap. */
  lines?: number;
  /** Told about a fallback from Airflow's REST API to the CLI, say. */
  warn: (message: string) => void;
}

export function environmentLogs(config: ResolvedConfig, clients: Pick<AwsClients, 'mwaa'>, request: LogsRequest): Promise<RunLogs> {
  const { airflow } = airflowAccess(config, clients.mwaa, request.warn);
  return readRunLogs(airflow, {
    dagId: config.dag.id,
    ...(request.runId !== undefined ? { runId: request.runId } : {}),
    ...(request.task !== undefined ? { task: request.task } : {}),
    ...(request.server !== undefined ? { server: request.server } : {}),
    lines: request.lines ?? DEFAULT_LOG_LINES,
    maxBytes: transportLimits().maxAnswerBytes,
  });
}
