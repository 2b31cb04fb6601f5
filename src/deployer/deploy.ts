/**
 * One deploy, end to end: read remote state, plan, and (when anything changed) take the lock,
 * re-read and re-plan under it, apply, write a record, release. Then wait for the DAG version
 * to be parsed, trigger it through the CLI token and optionally follow the run. Every step talks
 * to S3/MWAA through narrow ports and reports progress as events; nothing here prints.
 */
import { UserError } from '../errors.js';
import { apply, type ApplyResult } from './apply.js';
import type { Clock } from './clock.js';
import { triggerDag, waitForDagReady, waitForRun, type CliRunner } from './dag-run.js';
import type { DeployEvent, FailedTask, TaskState } from './events.js';
import type { AirflowApi } from '../mwaa/airflow-api.js';
import { acquireLock, localHolderAlive, type DeployLock } from './lock.js';
import { plan, type DeployTarget, type Plan, type PlanSettings } from './plan.js';
import type { EnvironmentState, MwaaPort, S3Port } from './ports.js';
import { listRecordKeys, readRecord, rollbackTarget, rollbackTargets, writeRecord, type DeployRecord } from './records.js';
import { readRemoteState } from './remote-state.js';
import { waitForAvailable } from './wait-environment.js';
import type { AirflowLine } from '../mwaa/versions.js';

export interface DeploySettings extends PlanSettings {
  envName: string;
  deploymentsPrefix: string;
  dagId: string;
  airflowLine: AirflowLine;
  configHash?: string;
  toolVersion?: string;
  manifest?: unknown;
}

export interface DeployOptions {
  planOnly?: boolean;
  rollback?: boolean;
  trigger?: boolean;
  waitForRun?: boolean;
  waitForAvailable?: boolean;
  conf?: Record<string, string>;
  /** Environment update / DAG readiness / run wait, each. */
  timeoutMs: number;
  poll: { environmentMs: number; dagMs: number; runMs: number };
  /** Import errors younger than this may be the old file's (MWAA syncs DAG files every ~30 s). */
  dagSettleMs: number;
  /** A DAG tag that only this version of the DAG carries. */
  dagMarker?: string;
  lockTtlMs: number;
}

export interface DeployDeps {
  s3: S3Port;
  mwaa: MwaaPort;
  cli: CliRunner;
  /** Airflow's REST API (or the CLI where the web login is denied): DAG, run and task reads. */
  airflow: AirflowApi;
  clock: Clock;
  emit: (event: DeployEvent) => void;
  who: { user: string; host: string; pid: number; awsProfile?: string };
  /** Called with the lock once taken (and undefined once released), so the CLI can release it on signals. */
  onLock?: (lock: DeployLock | undefined) => void;
  /** Asked once before anything is written; false aborts with nothing changed. */
  confirm?: (plan: Plan) => Promise<boolean>;
}

export interface DeployResult {
  plan: Plan;
  applied?: ApplyResult;
  recordKey?: string;
  rollbackOf?: string;
  runId?: string;
  runState?: string;
  tasks?: TaskState[];
  failures?: FailedTask[];
  /** CloudWatch log group of the task logs, when the environment has task logging on. */
  taskLogGroupArn?: string;
}

const DAG_FILE_SEPARATOR = '/';

async function rollbackPlanTargets(
  deps: DeployDeps,
  settings: DeploySettings,
): Promise<{ targets: DeployTarget[]; restoredKey: string; restored: DeployRecord }> {
  const keys = await listRecordKeys(deps.s3, settings.bucket, settings.deploymentsPrefix);
  const records = await Promise.all(keys.map(async (key) => ({ key, record: await readRecord(deps.s3, settings.bucket, key) })));
  const target = rollbackTarget(records.filter((r) => r.record.environment === settings.envName));
  if (!target) {
    throw new UserError(
      `Nothing to roll back to: s3://${settings.bucket}/${settings.deploymentsPrefix}/records/ holds no earlier deploy ` +
        `of ${settings.envName} that differs from the current one.`,
    );
  }
  return { targets: rollbackTargets(target.record, target.key), restoredKey: target.key, restored: target.record };
}

function refuse(p: Plan): void {
  if (p.refusals.length === 0) return;
  throw new UserError(p.refusals.map((r) => r.message).join('\n'));
}

export async function deploy(
  settings: DeploySettings,
  generatedTargets: readonly DeployTarget[],
  options: DeployOptions,
  deps: DeployDeps,
): Promise<DeployResult> {
  const { s3, mwaa, clock, emit } = deps;
  let targets = [...generatedTargets];
  let restored: { key: string; record: DeployRecord } | undefined;
  if (options.rollback) {
    const rb = await rollbackPlanTargets(deps, settings);
    targets = rb.targets;
    restored = { key: rb.restoredKey, record: rb.restored };
  }

  let lastEnvironment: EnvironmentState | undefined;
  const planNow = async (): Promise<Plan> => {
    const remote = await readRemoteState(s3, mwaa, settings.bucket, settings.environmentName, targets);
    lastEnvironment = remote.environment;
    emit({ type: 'remote-state', status: remote.environment.status, airflowVersion: remote.environment.airflowVersion });
    return plan(settings, targets, remote);
  };

  let current = await planNow();
  const onlyStatus = current.refusals.length > 0 && current.refusals.every((r) => r.code === 'status');
  if (onlyStatus && options.waitForAvailable && !options.planOnly) {
    await waitForAvailable(mwaa, settings.environmentName, {
      clock,
      timeoutMs: options.timeoutMs,
      pollMs: options.poll.environmentMs,
      onStatus: (status, elapsedMs) => emit({ type: 'waiting-for-available', status, elapsedMs }),
    });
    current = await planNow();
  }
  for (const warning of current.warnings) emit({ type: 'warning', message: warning });
  emit({ type: 'planned', plan: current });
  const result: DeployResult = { plan: current };
  if (options.planOnly) {
    // A plan is still worth showing for an environment that is busy; other refusals make it meaningless.
    refuse({ ...current, refusals: current.refusals.filter((r) => r.code !== 'status') });
    return result;
  }
  refuse(current);

  let dagWrittenAtMs: number | undefined;
  if (current.changes > 0 && deps.confirm && !(await deps.confirm(current))) {
    throw new UserError('Aborted: nothing was changed.');
  }
  if (current.changes > 0) {
    const lock = await acquireLock(s3, {
      bucket: settings.bucket,
      key: `${settings.deploymentsPrefix}/lock.json`,
      holder: deps.who.user,
      pid: deps.who.pid,
      host: deps.who.host,
      now: clock.now,
      ttlMs: options.lockTtlMs,
      holderAlive: localHolderAlive(deps.who.host),
    });
    deps.onLock?.(lock);
    const lockEvent: DeployEvent = { type: 'lock-acquired', key: lock.key };
    if (lock.takenOverFrom) lockEvent.takenOverFrom = `${lock.takenOverFrom.holder} (pid ${lock.takenOverFrom.pid} on ${lock.takenOverFrom.host})`;
    emit(lockEvent);
    try {
      // Another deploy may have finished while we planned: plan again under the lock.
      current = await planNow();
      refuse(current);
      result.plan = current;
      if (current.changes > 0) {
        const applied = await apply(current.actions, {
          s3,
          mwaa,
          bucket: settings.bucket,
          environmentName: settings.environmentName,
          now: clock.now,
          emit: (event) => {
            if (event.type === 'write-finished' && targets.some((t) => t.key === event.key && t.kind === 'dag')) {
              dagWrittenAtMs = clock.now();
            }
            emit(event);
          },
          waitForUpdate: (update, requestedAtMs) =>
            waitForAvailable(
              mwaa,
              settings.environmentName,
              {
                clock,
                timeoutMs: options.timeoutMs,
                pollMs: options.poll.environmentMs,
                onStatus: (status, elapsedMs) => emit({ type: 'environment-status', status, elapsedMs }),
              },
              { requestedAtMs, update },
            ),
        });
        result.applied = applied;
        // Without an update the pins are those read under the lock a moment ago.
        const env = applied.environment ?? lastEnvironment ?? (await mwaa.getEnvironment(settings.environmentName));
        const record: DeployRecord = {
          formatVersion: 1,
          kind: restored ? 'rollback' : 'deploy',
          environment: settings.envName,
          environmentName: settings.environmentName,
          at: new Date(clock.now()).toISOString(),
          who: deps.who.awsProfile
            ? { user: deps.who.user, host: deps.who.host, awsProfile: deps.who.awsProfile }
            : { user: deps.who.user, host: deps.who.host },
          objects: applied.objects,
          pins: {},
        };
        const manifestSource = restored?.record ?? settings;
        if (manifestSource.configHash) record.configHash = manifestSource.configHash;
        if (manifestSource.toolVersion) record.toolVersion = manifestSource.toolVersion;
        if (manifestSource.manifest) record.manifest = manifestSource.manifest;
        if (env.pluginsS3Path && env.pluginsS3ObjectVersion) {
          record.pins.plugins = { path: env.pluginsS3Path, version: env.pluginsS3ObjectVersion };
        }
        if (env.requirementsS3Path && env.requirementsS3ObjectVersion) {
          record.pins.requirements = { path: env.requirementsS3Path, version: env.requirementsS3ObjectVersion };
        }
        if (restored) record.restored = restored.key;
        result.recordKey = await writeRecord(s3, settings.bucket, settings.deploymentsPrefix, record);
        if (restored) result.rollbackOf = restored.key;
        emit({ type: 'record-written', key: result.recordKey });
      }
    } finally {
      await lock.release();
      deps.onLock?.(undefined);
      emit({ type: 'lock-released', key: lock.key });
    }
  }

  if (!options.trigger) return result;
  const dagTarget = targets.find((t) => t.kind === 'dag');
  if (!dagTarget) throw new UserError('Nothing to trigger: the artifacts hold no DAG file.');
  const readyOptions: Parameters<typeof waitForDagReady>[1] = {
    dagId: settings.dagId,
    fileName: dagTarget.key.split(DAG_FILE_SEPARATOR).pop()!,
    settleMs: dagWrittenAtMs === undefined ? 0 : options.dagSettleMs,
    clock,
    timeoutMs: options.timeoutMs,
    pollMs: options.poll.dagMs,
    emit,
  };
  if (options.dagMarker && !restored) readyOptions.marker = options.dagMarker;
  // Without a marker, only time tells versions apart: a parse that happened a full DAG-sync
  // window after the upload has seen the new file.
  else if (dagWrittenAtMs !== undefined) readyOptions.parsedAfterMs = dagWrittenAtMs + options.dagSettleMs;
  const details = await waitForDagReady(deps.airflow, readyOptions);
  if (details.isPaused) {
    await deps.airflow.unpause(settings.dagId);
    emit({ type: 'dag-unpaused', dagId: settings.dagId });
  }
  const conf = options.conf ?? {};
  result.runId = await triggerDag(deps.cli, settings.dagId, conf, settings.airflowLine, clock.now());
  emit({ type: 'triggered', dagId: settings.dagId, runId: result.runId, conf });
  if (!options.waitForRun) return result;
  const run = await waitForRun(deps.airflow, {
    dagId: settings.dagId,
    runId: result.runId,
    clock,
    timeoutMs: options.timeoutMs,
    pollMs: options.poll.runMs,
    emit,
  });
  result.runState = run.state;
  result.tasks = run.tasks;
  if (run.failures.length > 0) {
    result.failures = run.failures;
    const taskLogs = lastEnvironment?.taskLogs;
    if (taskLogs?.enabled && taskLogs.cloudWatchLogGroupArn) result.taskLogGroupArn = taskLogs.cloudWatchLogGroupArn;
    emit({ type: 'task-logs', enabled: taskLogs?.enabled === true, ...(result.taskLogGroupArn ? { logGroupArn: result.taskLogGroupArn } : {}) });
  }
  return result;
}

/** Generated artifacts (from src/generator) → deploy targets; IAM documents are not uploaded. */
export function targetsFromArtifacts(
  artifacts: readonly { path: string; kind: string; s3Key: string | null; bytes: Uint8Array }[],
  manifest: { artifacts: readonly { path: string; sha256: string; size: number }[] },
): DeployTarget[] {
  const byPath = new Map(manifest.artifacts.map((a) => [a.path, a]));
  const targets: DeployTarget[] = [];
  for (const artifact of artifacts) {
    if (artifact.s3Key === null || !['dag', 'plugins', 'requirements', 'config'].includes(artifact.kind)) continue;
    const entry = byPath.get(artifact.path);
    if (!entry) throw new Error(`manifest has no entry for ${artifact.path}`);
    targets.push({
      kind: artifact.kind as DeployTarget['kind'],
      path: artifact.path,
      key: artifact.s3Key,
      sha256: entry.sha256,
      size: entry.size,
      source: { type: 'bytes', bytes: artifact.bytes },
    });
  }
  return targets;
}
