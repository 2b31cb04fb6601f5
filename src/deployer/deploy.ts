/**
 * One deploy, end to end: read remote state, plan, and (when anything changed) take the lock,
 * re-read and re-plan under it, apply, write a record, put/delete the CloudWatch alarms, release. Then wait for the DAG version
 * to be parsed, trigger it through the CLI token and optionally follow the run. Every step talks
 * to S3/MWAA through narrow ports and reports progress as events; nothing here prints.
 */
import { isUploaded, type ArtifactKind } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import type { ProcessIdentity } from '../util/processes.js';
import { ownerTags, type AlarmTargets } from './alarms.js';
import { apply, applyAlarms, removeStaleLibraries, type AlarmResult, type ApplyResult, type DeployedObject } from './apply.js';
import type { Clock } from './clock.js';
import { runReadyDelay, triggerDag, waitForDagReady, waitForRun, type CliRunner } from './dag-run.js';
import type { DeployEvent, FailedTask, TaskState } from './events.js';
import type { AirflowApi } from '../mwaa/airflow-api.js';
import { acquireLock, localHolderAlive, type DeployLock } from './lock.js';
import {
  alarmActions,
  artifactActions,
  changing,
  plan,
  pruneActions,
  type DeployTarget,
  type Plan,
  type PlanSettings,
  type RemoteState,
} from './plan.js';
import type { CloudWatchPort, EnvironmentState, MwaaPort, S3Port } from './ports.js';
import {
  environmentRecords,
  findRecord,
  liveFingerprint,
  newestRecord,
  newRecord,
  objectsInPlace,
  recordFingerprint,
  recordsPrefix,
  rollbackTarget,
  rollbackTargets,
  writeRecord,
  type DeployRecord,
  type KeyedRecord,
} from './records.js';
import { readRemoteState } from './remote-state.js';
import { triggerUnreachable } from './trigger-unreachable.js';
import { waitForAvailable } from './wait-environment.js';
import { isWaitable } from '../mwaa/environment-status.js';
import type { AirflowLine } from '../mwaa/versions.js';

export interface DeploySettings extends PlanSettings {
  envName: string;
  deploymentsPrefix: string;
  dagId: string;
  airflowLine: AirflowLine;
  configHash?: string;
  toolVersion?: string;
  manifest?: unknown;
  /** The CloudWatch alarms deploy manages (src/deployer/alarms.ts); undefined: none. */
  alarms?: AlarmTargets;
}

export interface DeployOptions {
  planOnly?: boolean;
  rollback?: boolean;
  /** With rollback: the record to restore (records.ts findRecord); without it, one step back. */
  rollbackTo?: string;
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
  /** Needed when settings.alarms is set. */
  cloudWatch?: CloudWatchPort;
  cli: CliRunner;
  /** Airflow's REST API (or the CLI where the web login is denied): DAG, run and task reads. */
  airflow: AirflowApi;
  clock: Clock;
  emit: (event: DeployEvent) => void;
  /** `arn`: the IAM identity (STS GetCallerIdentity), kept in the deploy record. */
  who: { user: string; host: string; pid: number; identity?: ProcessIdentity; awsProfile?: string; arn?: string };
  /** Called with the lock once taken (and undefined once released), so the CLI can release it on signals. */
  onLock?: (lock: DeployLock | undefined) => void;
  /** Asked once before anything is written; false aborts with nothing changed. */
  confirm?: (plan: Plan) => Promise<boolean>;
}

export interface DeployResult {
  plan: Plan;
  /** What the plan was made from (the last read of the bucket and environment). */
  remote?: RemoteState;
  applied?: ApplyResult;
  recordKey?: string;
  /** The alarms this deploy created, updated or deleted. */
  alarms?: AlarmResult;
  /** Keys of the DAG libraries this deploy removed (no DAG imports them any more). */
  removed?: string[];
  rollbackOf?: string;
  runId?: string;
  runState?: string;
  tasks?: TaskState[];
  failures?: FailedTask[];
  /** CloudWatch log group of the task logs, when the environment has task logging on. */
  taskLogGroupArn?: string;
}

const DAG_FILE_SEPARATOR = '/';

/**
 * What a rollback restores: the record `to` names (any recorded state), or without it the newest
 * record before what runs now that deployed something different (one step back).
 */
async function rollbackPlanTargets(
  deps: DeployDeps,
  settings: DeploySettings,
  to?: string,
): Promise<{ targets: DeployTarget[]; restored: KeyedRecord }> {
  const records = await environmentRecords(deps.s3, settings.bucket, settings.deploymentsPrefix, settings.envName);
  if (to !== undefined) {
    const named = findRecord(
      records,
      to,
      `s3://${settings.bucket}/${recordsPrefix(settings.deploymentsPrefix)} (environment ${settings.envName})`,
    );
    return { targets: rollbackTargets(named.record, named.key), restored: named };
  }
  const latest = records.at(-1);
  // What runs now, read from the bucket and the environment: it may be newer than any record.
  const keys = latest ? rollbackTargets(latest.record, latest.key) : [];
  const live = latest
    ? liveFingerprint(keys, await readRemoteState(deps.s3, deps.mwaa, settings.bucket, settings.environmentName, keys))
    : undefined;
  const target = live === undefined ? undefined : rollbackTarget(records, live);
  if (!target) {
    throw new UserError(
      `Nothing to roll back to: s3://${settings.bucket}/${settings.deploymentsPrefix}/records/ holds no earlier deploy ` +
        `of ${settings.envName} that differs from what runs now.`,
    );
  }
  return { targets: rollbackTargets(target.record, target.key), restored: target };
}

/** A plan with refusals: nothing was or will be changed until they are fixed. */
export class PlanRefusedError extends UserError {
  constructor(readonly plan: Plan) {
    super(plan.refusals.map((r) => r.message).join('\n'), undefined, { details: { refusals: plan.refusals } });
    this.name = 'PlanRefusedError';
  }
}

function refuse(p: Plan): void {
  if (p.refusals.length === 0) return;
  throw new PlanRefusedError(p);
}

export async function deploy(
  settings: DeploySettings,
  generatedTargets: readonly DeployTarget[],
  options: DeployOptions,
  deps: DeployDeps,
): Promise<DeployResult> {
  const { s3, mwaa, clock, emit } = deps;
  let targets = [...generatedTargets];
  let restored: KeyedRecord | undefined;
  if (options.rollback) ({ targets, restored } = await rollbackPlanTargets(deps, settings, options.rollbackTo));

  // A rollback restores objects; the alarms follow the config, so it leaves them alone.
  const alarms = restored ? undefined : settings.alarms;
  if (alarms && !deps.cloudWatch) throw new Error('deploy manages alarms but was given no CloudWatch port');
  const alarmRead = alarms && deps.cloudWatch ? { cloudWatch: deps.cloudWatch, prefix: alarms.prefix } : undefined;
  let lastRemote: RemoteState | undefined;
  const planNow = async (): Promise<Plan> => {
    lastRemote = await readRemoteState(s3, mwaa, settings.bucket, settings.environmentName, targets, alarmRead, settings.dagsPrefix);
    emit({ type: 'remote-state', status: lastRemote.environment.status, airflowVersion: lastRemote.environment.airflowVersion });
    result.remote = lastRemote;
    return plan(settings, targets, lastRemote, alarms);
  };

  const result: DeployResult = { plan: { actions: [], changes: 0, refusals: [], warnings: [] } };
  let current = await planNow();
  const onlyStatus = current.refusals.length > 0 && current.refusals.every((r) => r.code === 'status');
  // Waiting helps only for a status that ends by itself; the refusal says what to do about the others.
  const waitable = lastRemote !== undefined && isWaitable(lastRemote.environment.status);
  if (onlyStatus && waitable && options.waitForAvailable && !options.planOnly) {
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
  result.plan = current;
  if (options.planOnly) {
    // A plan is still worth showing for an environment that is busy; other refusals make it meaningless.
    if (current.refusals.some((r) => r.code !== 'status')) refuse(current);
    return result;
  }
  refuse(current);

  const writeRecordOf = async (kind: DeployRecord['kind'], objects: DeployedObject[], environment: EnvironmentState) => {
    const record = newRecord(kind, settings, deps.who, clock.now(), objects, environment, restored);
    result.recordKey = await writeRecord(s3, settings.bucket, settings.deploymentsPrefix, record);
    emit({ type: 'record-written', key: result.recordKey });
  };
  const underLock = async (work: () => Promise<void>): Promise<void> => {
    const lock = await acquireLock(s3, {
      bucket: settings.bucket,
      key: `${settings.deploymentsPrefix}/lock.json`,
      holder: deps.who.user,
      pid: deps.who.pid,
      host: deps.who.host,
      now: clock.now,
      ttlMs: options.lockTtlMs,
      ...(deps.who.identity ? { identity: deps.who.identity } : {}),
      holderAlive: localHolderAlive(deps.who.host, deps.who.identity ?? {}),
    });
    deps.onLock?.(lock);
    const lockEvent: DeployEvent = { type: 'lock-acquired', key: lock.key };
    if (lock.takenOverFrom)
      lockEvent.takenOverFrom = `${lock.takenOverFrom.holder} (pid ${lock.takenOverFrom.pid} on ${lock.takenOverFrom.host})`;
    emit(lockEvent);
    const released = async () => {
      await lock.release();
      deps.onLock?.(undefined);
      emit({ type: 'lock-released', key: lock.key });
    };
    try {
      await work();
    } catch (error) {
      // That failure is the news (it says whether the lock was released); a release that fails
      // after it is left out.
      await released().catch(() => undefined);
      throw error;
    }
    await released();
  };

  let dagWrittenAtMs: number | undefined;
  const applyArtifacts = async (planned: Plan) => {
    const applied = await apply(artifactActions(planned.actions), {
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
    const environment = applied.environment ?? lastRemote?.environment ?? (await mwaa.getEnvironment(settings.environmentName));
    await writeRecordOf(restored ? 'rollback' : 'deploy', applied.objects, environment);
    if (restored) result.rollbackOf = restored.key;
  };
  // The newest record must describe what runs: a deploy killed after its writes left none, and a
  // rollback would otherwise skip back past what is live.
  const recordIsStale = async (remote: RemoteState): Promise<boolean> => {
    const newest = await newestRecord(deps.s3, settings.bucket, settings.deploymentsPrefix, settings.envName);
    return newest === undefined || recordFingerprint(newest.record.objects) !== liveFingerprint(targets, remote);
  };
  if (current.changes > 0 && deps.confirm && !(await deps.confirm(current))) {
    throw new UserError('Aborted: nothing was changed.');
  }
  if (current.changes > 0) {
    await underLock(async () => {
      // Another deploy may have finished while we planned: plan again under the lock.
      current = await planNow();
      refuse(current);
      result.plan = current;
      if (current.changes === 0) return;
      // Artifacts first, recorded; alarms only once the DAG and its plugins are in place.
      if (changing(artifactActions(current.actions)).length > 0) await applyArtifacts(current);
      else if (!restored && lastRemote && (await recordIsStale(lastRemote))) {
        await writeRecordOf('reconcile', objectsInPlace(current), lastRemote.environment);
      }
      const alarmChanges = alarmActions(current.actions);
      if (alarms && deps.cloudWatch && changing(alarmChanges).length > 0) {
        result.alarms = await applyAlarms(alarmChanges, {
          cloudWatch: deps.cloudWatch,
          tags: ownerTags(alarms),
          emit,
        });
      }
      const stale = pruneActions(current.actions);
      if (stale.length > 0) result.removed = await removeStaleLibraries(stale, { s3, bucket: settings.bucket, emit });
    });
  } else if (lastRemote && !restored) {
    // Nothing to change, but the newest record must still describe what runs.
    if (await recordIsStale(lastRemote)) {
      await underLock(async () => {
        current = await planNow();
        if (current.changes > 0 || !lastRemote) return;
        await writeRecordOf('reconcile', objectsInPlace(current), lastRemote.environment);
      });
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
  const conf = options.conf ?? {};
  try {
    const { details, storedSeen } = await waitForDagReady(deps.airflow, readyOptions);
    if (dagWrittenAtMs !== undefined) {
      const delay = runReadyDelay(settings.airflowLine, lastRemote?.environment.dagTimings, storedSeen);
      if (delay.ms > 0) {
        emit({ type: 'dag-waiting', detail: `${delay.detail}: ${Math.round(delay.ms / 1000)} s`, elapsedMs: 0 });
        await clock.sleep(delay.ms);
      }
    }
    if (details.isPaused) {
      await deps.airflow.unpause(settings.dagId);
      emit({ type: 'dag-unpaused', dagId: settings.dagId });
    }
    result.runId = await triggerDag(deps.cli, settings.dagId, conf, settings.airflowLine, clock.now());
  } catch (error) {
    // Everything before the trigger is done; a web server that does not answer (PRIVATE_ONLY
    // outside the VPC, say) is named as such.
    throw triggerUnreachable(error, lastRemote?.environment.webserverAccessMode) ?? error;
  }
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
    const taskLogs = lastRemote?.environment.taskLogs;
    if (taskLogs?.enabled && taskLogs.cloudWatchLogGroupArn) result.taskLogGroupArn = taskLogs.cloudWatchLogGroupArn;
    emit({
      type: 'task-logs',
      enabled: taskLogs?.enabled === true,
      ...(result.taskLogGroupArn ? { logGroupArn: result.taskLogGroupArn } : {}),
    });
  }
  return result;
}

/** Generated artifacts (from src/generator) → deploy targets; IAM documents are not uploaded. */
export function targetsFromArtifacts(
  artifacts: readonly { path: string; kind: ArtifactKind; s3Key: string | null; bytes: Uint8Array }[],
  manifest: { artifacts: readonly { path: string; sha256: string; size: number }[] },
): DeployTarget[] {
  const byPath = new Map(manifest.artifacts.map((a) => [a.path, a]));
  const targets: DeployTarget[] = [];
  for (const artifact of artifacts) {
    const kind = artifact.kind;
    if (artifact.s3Key === null || !isUploaded(kind)) continue;
    const entry = byPath.get(artifact.path);
    if (!entry) throw new Error(`manifest has no entry for ${artifact.path}`);
    targets.push({
      kind,
      path: artifact.path,
      key: artifact.s3Key,
      sha256: entry.sha256,
      size: entry.size,
      source: { type: 'bytes', bytes: artifact.bytes },
    });
  }
  return targets;
}
