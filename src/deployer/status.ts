/**
 * What runs in an environment, read without changing anything: its Status and last update, each
 * artifact against what would be deployed now (drift: the deploy plan of those artifacts, so that
 * `status` and `deploy --plan` never disagree), the newest deploy record, and from Airflow the DAG's
 * paused state, its import errors and its last runs. Airflow may not answer (an environment that is
 * not AVAILABLE, a web server only its VPC reaches): that part then carries the reason instead.
 */
import { ARTIFACT_KINDS, isPinned } from '../artifacts/kinds.js';
import type { AirflowApi, DagRunInfo, ImportErrorInfo } from '../mwaa/airflow-api.js';
import type { HistoryEntry } from './history.js';
import { historyOf } from './history.js';
import { artifactActions, plan, type DeployTarget, type PlanSettings } from './plan.js';
import type { MwaaPort, S3Port } from './ports.js';
import { environmentRecords, liveFingerprint, recordFingerprint } from './records.js';
import { readRemoteState } from './remote-state.js';

export type ArtifactState = 'in-sync' | 'drift' | 'missing' | 'not-pinned';

export interface ArtifactStatus {
  kind: DeployTarget['kind'];
  label: string;
  key: string;
  state: ArtifactState;
  /** What runs: the pinned version (plugins, requirements) or the current object. */
  deployedVersion?: string;
  /** Its sha256 as deploy wrote it (absent for objects written by other tools). */
  deployedSha256?: string;
  /** What generate makes now. */
  generatedSha256: string;
}

/** The last runs `status` shows unless told otherwise. */
export const DEFAULT_STATUS_RUNS = 5;

export interface StatusReport {
  envName: string;
  environmentName: string;
  environment: {
    status: string;
    airflowVersion?: string;
    lastUpdate?: { status?: string; createdAt?: string; errorCode?: string; errorMessage?: string };
  };
  artifacts: ArtifactStatus[];
  /** Any artifact not in sync. */
  drift: boolean;
  /** What the plan refuses or warns about (an Airflow version that differs from the config, say). */
  problems: string[];
  /** The newest deploy record, and whether what runs is what it describes. */
  newestRecord?: HistoryEntry & { describesLive: boolean };
  airflow:
    | {
        dagId: string;
        /** Undefined: Airflow does not know the DAG (not parsed yet, or not deployed). */
        paused?: boolean;
        importErrors: ImportErrorInfo[];
        runs: DagRunInfo[];
        via: 'rest' | 'cli';
      }
    | { dagId: string; error: string };
}

export interface StatusInput {
  settings: PlanSettings & { envName: string; deploymentsPrefix: string; dagId: string };
  /** What generate makes now, as deploy targets. */
  targets: readonly DeployTarget[];
  /** How many of the last runs to show. */
  runs: number;
}

export interface StatusDeps {
  s3: S3Port;
  mwaa: MwaaPort;
  airflow: AirflowApi;
}

function stateOf(action: ReturnType<typeof artifactActions>[number]): ArtifactState {
  if (action.type === 'skip') return action.reason === 'uploaded-not-pinned' ? 'not-pinned' : 'in-sync';
  if (action.type === 'update-environment') return 'in-sync';
  return action.reason === 'new' ? 'missing' : 'drift';
}

/** The DAG file's base name: import errors name the file by its path on the workers. */
function ours(filename: string, dagKey: string | undefined): boolean {
  const base = dagKey?.split('/').pop();
  return base !== undefined && (filename === base || filename.endsWith(`/${base}`));
}

async function readAirflow(input: StatusInput, deps: StatusDeps): Promise<StatusReport['airflow']> {
  const { dagId } = input.settings;
  const dagKey = input.targets.find((t) => t.kind === 'dag')?.key;
  try {
    const dag = await deps.airflow.dag(dagId);
    const importErrors = (await deps.airflow.importErrors()).filter((e) => ours(e.filename, dagKey));
    const runs = dag ? await deps.airflow.dagRuns(dagId, input.runs) : [];
    return { dagId, ...(dag ? { paused: dag.isPaused } : {}), importErrors, runs, via: deps.airflow.via() };
  } catch (error) {
    return { dagId, error: (error as Error).message };
  }
}

export async function readStatus(input: StatusInput, deps: StatusDeps): Promise<StatusReport> {
  const { settings, targets } = input;
  const [remote, records, airflow] = await Promise.all([
    readRemoteState(deps.s3, deps.mwaa, settings.bucket, settings.environmentName, targets),
    environmentRecords(deps.s3, settings.bucket, settings.deploymentsPrefix, settings.envName),
    readAirflow(input, deps),
  ]);
  const planned = plan(settings, targets, remote);
  const artifacts: ArtifactStatus[] = [];
  for (const action of artifactActions(planned.actions)) {
    if (action.type === 'update-environment') continue;
    const { target } = action;
    const pin = isPinned(target.kind) ? remote.environment.pins[target.kind] : undefined;
    const head = isPinned(target.kind) ? (pin?.path === target.key ? remote.pinned[target.kind] : undefined) : remote.current[target.key];
    const status: ArtifactStatus = {
      kind: target.kind,
      label: ARTIFACT_KINDS[target.kind].label,
      key: target.key,
      state: stateOf(action),
      generatedSha256: target.sha256,
    };
    const version = isPinned(target.kind) ? pin?.version : head?.versionId;
    if (version) status.deployedVersion = version;
    if (head?.sha256) status.deployedSha256 = head.sha256;
    artifacts.push(status);
  }
  const { environment } = remote;
  const report: StatusReport = {
    envName: settings.envName,
    environmentName: settings.environmentName,
    environment: {
      status: environment.status,
      ...(environment.airflowVersion ? { airflowVersion: environment.airflowVersion } : {}),
      ...(environment.lastUpdate ? { lastUpdate: environment.lastUpdate } : {}),
    },
    artifacts,
    drift: artifacts.some((a) => a.state !== 'in-sync'),
    // A busy environment is the Status line's news, not a problem of the artifacts.
    problems: [...planned.refusals.filter((r) => r.code !== 'status').map((r) => r.message), ...planned.warnings],
    airflow,
  };
  const newest = records.at(-1);
  if (newest) {
    // The record's own objects (the library's key changes with its content), read as they run now.
    const recorded = newest.record.objects.map((o) => ({ ...o, source: { type: 'version' as const, versionId: o.versionId ?? '' } }));
    const live = liveFingerprint(recorded, await readRemoteState(deps.s3, deps.mwaa, settings.bucket, settings.environmentName, recorded));
    report.newestRecord = { ...historyOf(records)[0]!, describesLive: recordFingerprint(newest.record.objects) === live };
  }
  return report;
}
