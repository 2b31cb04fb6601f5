/** Progress of a deploy as typed events; the CLI decides how they look (live line, plain lines, JSON). */
import type { Plan } from './plan.js';
import type { EnvironmentUpdate } from './ports.js';

export interface TaskState {
  taskId: string;
  state: string;
  mapIndex?: string;
}

/** A task instance that failed, with the end of its log when Airflow's REST API could serve it. */
export interface FailedTask {
  taskId: string;
  mapIndex?: string;
  tryNumber: number;
  logTail?: string[];
  /** Why the log could not be read. */
  logError?: string;
}

export type DeployEvent =
  | { type: 'generated'; configHash: string; artifacts: number }
  | { type: 'remote-state'; status: string; airflowVersion?: string }
  | { type: 'waiting-for-available'; status: string; elapsedMs: number }
  | { type: 'planned'; plan: Plan }
  | { type: 'lock-acquired'; key: string; takenOverFrom?: string }
  | { type: 'lock-released'; key: string }
  | { type: 'write-started'; key: string; method: 'upload' | 'copy'; size: number }
  | { type: 'write-finished'; key: string; method: 'upload' | 'copy'; versionId?: string }
  | { type: 'update-started'; update: EnvironmentUpdate }
  | { type: 'environment-status'; status: string; elapsedMs: number }
  | { type: 'update-finished'; status: string; elapsedMs: number }
  | { type: 'record-written'; key: string }
  | { type: 'alarm-put'; name: string; reason: 'new' | 'changed' }
  | { type: 'alarm-deleted'; name: string }
  /** A DAG library no DAG imports any more, removed from the DAG folder. */
  | { type: 'object-deleted'; key: string }
  | { type: 'dag-waiting'; detail: string; elapsedMs: number }
  | { type: 'dag-ready'; elapsedMs: number }
  | { type: 'dag-unpaused'; dagId: string }
  | { type: 'triggered'; dagId: string; runId: string; conf: Record<string, string> }
  | { type: 'run-status'; runId: string; state: string; tasks: TaskState[]; elapsedMs: number }
  | { type: 'run-finished'; runId: string; state: string; tasks: TaskState[]; failures: FailedTask[]; elapsedMs: number }
  /** Where MWAA keeps task logs (CloudWatch), or that task logging is off. */
  | { type: 'task-logs'; logGroupArn?: string; enabled: boolean }
  | { type: 'warning'; message: string };
