/**
 * The pure half of a deploy: from what should be in the bucket (targets) and what is there
 * (remote state), the list of actions, in the one safe order:
 *   1. plugins/requirements writes   2. UpdateEnvironment pinning them   3. DAG library, DAG and
 *   config writes   4. CloudWatch alarms (src/deployer/alarms.ts), once the artifacts are in place
 *   5. removal of DAG libraries no DAG imports any more.
 * Nothing that is already in place is written again: a plugins/requirements object counts as in
 * place when the environment pins a version with the same sha256; a DAG/config object when the
 * current object's sha256 (object metadata) matches.
 */
import { versioningCommand } from '../mwaa/bucket-setup.js';
import { ALL_KINDS, ARTIFACT_KINDS, PINNED_KINDS, type PinnedKind, type UploadedKind } from '../artifacts/kinds.js';
import { planAlarms, type AlarmAction, type AlarmTargets } from './alarms.js';
import type { EnvironmentState, ObjectHead, RemoteAlarm } from './ports.js';
import { isAirflowLine, versionMoveHint } from '../mwaa/versions.js';
import { describeStatus, isWaitable, statusTodo } from '../mwaa/environment-status.js';
import { PRIVATE_ONLY } from '../mwaa/web-server-access.js';

/** One object the deploy should leave in the bucket. */
export interface DeployTarget {
  kind: UploadedKind;
  /** Manifest path (dist-artifacts/<env>/...), for display. */
  path: string;
  key: string;
  sha256: string;
  size: number;
  /** Fresh bytes to upload, or an earlier version of the same key to copy back (rollback). */
  source: { type: 'bytes'; bytes: Uint8Array } | { type: 'version'; versionId: string };
}

export interface RemoteState {
  environment: EnvironmentState;
  versioning: string | undefined;
  /** HEAD of the current object under each target key (undefined: none). */
  current: Record<string, ObjectHead | undefined>;
  /** HEAD of the version the environment pins, when it pins one under the target's key. */
  pinned: Partial<Record<PinnedKind, ObjectHead | undefined>>;
  /** The environment's alarms in CloudWatch (named with its prefix), when deploy manages alarms. */
  alarms?: RemoteAlarm[];
  /** The DAG libraries in the DAG folder, when the targets hold a DAG file (remote-state.ts). */
  dagLibraries?: DagLibraries;
}

export interface DagLibraries {
  /** Keys of the library zips in the DAG folder (`<dagsPrefix>/gpu_cicd_lib_<hash12>.zip`), and only those. */
  keys: string[];
  /** The key of the library the DAG file now in the bucket imports, when it imports one. */
  inUse?: string;
}

export interface PlanSettings {
  environmentName: string;
  bucket: string;
  dagsPrefix: string;
  airflowVersion: string;
}

/** Where UpdateEnvironment should point: a known version, or the one the write in this plan creates. */
export type PlannedPin = { key: string; versionId: string } | { key: string; fromWrite: true };

/** An action on the bucket or the environment: what apply.ts runs and deploy records describe. */
export type ArtifactAction =
  | { type: 'upload'; target: DeployTarget; reason: 'new' | 'changed' }
  | { type: 'copy'; target: DeployTarget; sourceVersionId: string; reason: 'new' | 'changed' }
  | { type: 'skip'; target: DeployTarget; reason: 'unchanged' | 'pinned' | 'uploaded-not-pinned'; versionId?: string }
  | { type: 'update-environment'; pins: Partial<Record<PinnedKind, PlannedPin>>; reasons: string[] };

/**
 * A DAG library neither the DAG this deploy leaves nor the DAG it replaces imports. The replaced
 * one's library stays until a later deploy: a worker that has not yet synced the new DAG file still
 * runs the old one, and MWAA syncs deletions in no promised order either. S3 keeps the removed
 * versions, so a rollback to a record that used one copies it back.
 */
export interface PruneAction {
  type: 'delete-stale-library';
  key: string;
}

export type Action = ArtifactAction | AlarmAction | PruneAction;

const ALARM_ACTION_TYPES: ReadonlySet<Action['type']> = new Set(['put-alarm', 'delete-alarm', 'skip-alarm']);

export function isAlarmAction(action: Action): action is AlarmAction {
  return ALARM_ACTION_TYPES.has(action.type);
}

export function isPruneAction(action: Action): action is PruneAction {
  return action.type === 'delete-stale-library';
}

export function artifactActions(actions: readonly Action[]): ArtifactAction[] {
  return actions.filter((action): action is ArtifactAction => !isAlarmAction(action) && !isPruneAction(action));
}

export function pruneActions(actions: readonly Action[]): PruneAction[] {
  return actions.filter(isPruneAction);
}

export function alarmActions(actions: readonly Action[]): AlarmAction[] {
  return actions.filter(isAlarmAction);
}

/** Actions that change something (not a skip). */
export function changing(actions: readonly Action[]): Action[] {
  return actions.filter((action) => action.type !== 'skip' && action.type !== 'skip-alarm');
}

export interface Refusal {
  code: 'versioning' | 'airflow-version' | 'bucket' | 'dag-path' | 'status' | 'alarm-owner';
  message: string;
}

export interface Plan {
  actions: Action[];
  /** Writes, environment updates and alarm changes: 0 means the environment already runs exactly this. */
  changes: number;
  refusals: Refusal[];
  warnings: string[];
  /** What is worth knowing and needs no fixing (a web server only its VPC reaches). */
  notes?: string[];
}

/** Kinds read from the bucket as they are: written after the pinned kinds are live. */
const SYNCED_KINDS = ALL_KINDS.filter((kind) => ARTIFACT_KINDS[kind].delivery === 'synced');
const USABLE_STATUSES = new Set(['AVAILABLE', 'UPDATE_FAILED']);

export { versioningCommand };

export function checkRemote(settings: PlanSettings, remote: RemoteState): { refusals: Refusal[]; warnings: string[]; notes: string[] } {
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const env = remote.environment;
  if (remote.versioning !== 'Enabled') {
    refusals.push({
      code: 'versioning',
      message:
        `Bucket ${settings.bucket} has versioning ${remote.versioning ?? 'never enabled'}; MWAA pins plugins.zip and ` +
        `requirements.txt by object version, so it must be Enabled. Run: ${versioningCommand(settings.bucket)}`,
    });
  }
  if (env.airflowVersion !== undefined && env.airflowVersion !== settings.airflowVersion) {
    refusals.push({
      code: 'airflow-version',
      message:
        `Environment ${settings.environmentName} runs Airflow ${env.airflowVersion} but the config targets ` +
        `${settings.airflowVersion}. Set airflow.version to ${env.airflowVersion}, or change the environment's version first: ` +
        `${changeHint(settings.environmentName, env.airflowVersion, settings.airflowVersion)}.`,
    });
  }
  if (env.bucket !== undefined && env.bucket !== settings.bucket) {
    refusals.push({
      code: 'bucket',
      message: `Environment ${settings.environmentName} reads from bucket ${env.bucket}, but the config says mwaa.bucket: ${settings.bucket}.`,
    });
  }
  const dagPath = env.dagS3Path?.replace(/\/+$/, '');
  if (dagPath !== undefined && dagPath !== settings.dagsPrefix.replace(/\/+$/, '')) {
    refusals.push({
      code: 'dag-path',
      message: `Environment ${settings.environmentName} reads DAGs from ${dagPath}/, but the config says mwaa.dagsPrefix: ${settings.dagsPrefix}.`,
    });
  }
  if (!USABLE_STATUSES.has(env.status)) {
    refusals.push({ code: 'status', message: statusRefusal(settings.environmentName, env.status) });
  } else if (env.status === 'UPDATE_FAILED') {
    const error = env.lastUpdate?.errorMessage ? `: ${env.lastUpdate.errorCode ?? ''} ${env.lastUpdate.errorMessage}`.trimEnd() : '';
    warnings.push(`Environment ${settings.environmentName} is UPDATE_FAILED (rolled back, usable)${error}.`);
  }
  if (env.webserverAccessMode === PRIVATE_ONLY) {
    notes.push(
      `Environment ${settings.environmentName} is PRIVATE_ONLY (WebserverAccessMode): the trigger reaches its web server only ` +
        'from inside its VPC. From elsewhere, deploy with --no-trigger and trigger from a host in the VPC.',
    );
  }
  return { refusals, warnings, notes };
}

function changeHint(name: string, from: string, to: string): string {
  const known = (v: string) => isAirflowLine(v.split('.')[0] ?? '');
  return known(from) && known(to)
    ? versionMoveHint(name, from, to)
    : `aws mwaa update-environment --name ${name} --airflow-version ${to}, if MWAA allows that move`;
}

function statusRefusal(name: string, status: string): string {
  const next = isWaitable(status) ? 'Wait for it (deploy --wait-for-available) or check the MWAA console.' : statusTodo(status);
  return `Environment ${name} is ${describeStatus(status)}, not AVAILABLE. ${next}`;
}

function writeAction(target: DeployTarget, current: ObjectHead | undefined): Action {
  const reason = current ? 'changed' : 'new';
  return target.source.type === 'bytes'
    ? { type: 'upload', target, reason }
    : { type: 'copy', target, sourceVersionId: target.source.versionId, reason };
}

/** `alarms`: what deploy manages in CloudWatch (undefined: no alarms, e.g. monitoring off or a rollback). */
export function plan(settings: PlanSettings, targets: readonly DeployTarget[], remote: RemoteState, alarms?: AlarmTargets): Plan {
  const { refusals, warnings, notes } = checkRemote(settings, remote);
  const env = remote.environment;
  const actions: Action[] = [];
  const update: Extract<Action, { type: 'update-environment' }> = { type: 'update-environment', pins: {}, reasons: [] };

  for (const kind of PINNED_KINDS) {
    const target = targets.find((t) => t.kind === kind);
    if (!target) continue;
    const current = remote.current[target.key];
    const pinned = env.pins[kind];
    const pinnedHead = pinned?.path === target.key ? remote.pinned[kind] : undefined;
    if (pinnedHead?.sha256 === target.sha256 && pinned?.version !== undefined) {
      actions.push({ type: 'skip', target, reason: 'pinned', versionId: pinned.version });
      continue;
    }
    if (current?.sha256 === target.sha256 && current.versionId !== undefined) {
      // Uploaded earlier (e.g. by a deploy that was interrupted) but never pinned: pin, don't write.
      actions.push({ type: 'skip', target, reason: 'uploaded-not-pinned', versionId: current.versionId });
      update.pins[kind] = { key: target.key, versionId: current.versionId };
      update.reasons.push(`${target.key}: pin already uploaded version ${current.versionId}`);
      continue;
    }
    actions.push(writeAction(target, current));
    update.pins[kind] = { key: target.key, fromWrite: true };
    update.reasons.push(`${target.key}: ${current ? 'changed' : 'new'}`);
  }
  if (Object.keys(update.pins).length > 0) actions.push(update);

  for (const kind of SYNCED_KINDS) {
    for (const target of targets.filter((t) => t.kind === kind)) {
      const current = remote.current[target.key];
      if (current?.sha256 === target.sha256) {
        actions.push({ type: 'skip', target, reason: 'unchanged', versionId: current.versionId });
      } else {
        actions.push(writeAction(target, current));
      }
    }
  }
  if (alarms) {
    const planned = planAlarms(alarms, remote.alarms ?? []);
    actions.push(...planned.actions);
    refusals.push(...planned.refusals);
  }
  actions.push(...staleLibraries(targets, remote.dagLibraries));
  return { actions, changes: changing(actions).length, refusals, warnings, ...(notes.length > 0 ? { notes } : {}) };
}

/**
 * The library zips to remove: every one but this deploy's and the one the replaced DAG imports.
 * `libraries.keys` holds only keys that name a library (readDagLibraries filters the listing).
 */
function staleLibraries(targets: readonly DeployTarget[], libraries: DagLibraries | undefined): PruneAction[] {
  if (!libraries) return [];
  const kept = new Set(targets.filter((t) => t.kind === 'dagLibrary').map((t) => t.key));
  if (libraries.inUse) kept.add(libraries.inUse);
  return libraries.keys.filter((key) => !kept.has(key)).map((key) => ({ type: 'delete-stale-library', key }));
}
