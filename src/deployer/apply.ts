/**
 * The effectful half of a deploy: runs a plan's actions in order. plugins/requirements are
 * written first, then one UpdateEnvironment pins exactly the versions those writes returned and
 * the environment is waited for; only when it is AVAILABLE again do the DAG library, the DAG and
 * the config go up, so a DAG never runs against plugins it does not know. CloudWatch alarms come
 * after them (applyAlarms), and last the DAG libraries no DAG imports any more (removeStaleLibraries).
 */
import { UserError } from '../errors.js';
import { ARTIFACT_KINDS, PINNED_KINDS } from '../artifacts/kinds.js';
import type { ArtifactAction, DeployTarget, PlannedPin, PruneAction } from './plan.js';
import type { AlarmAction } from './alarms.js';
import type { CloudWatchPort, EnvironmentState, EnvironmentUpdate, MwaaPort, S3Port } from './ports.js';
import type { DeployEvent } from './events.js';

export interface ApplyDeps {
  s3: S3Port;
  mwaa: MwaaPort;
  bucket: string;
  environmentName: string;
  now: () => number;
  /** Waits for the environment to finish the update just requested; throws on failure/timeout. */
  waitForUpdate: (update: EnvironmentUpdate, requestedAtMs: number) => Promise<EnvironmentState>;
  emit: (event: DeployEvent) => void;
}

export interface DeployedObject {
  kind: DeployTarget['kind'];
  path: string;
  key: string;
  sha256: string;
  size: number;
  versionId?: string;
}

export interface ApplyResult {
  objects: DeployedObject[];
  writes: number;
  updatedEnvironment: boolean;
  environment?: EnvironmentState;
}

async function write(action: Extract<ArtifactAction, { type: 'upload' | 'copy' }>, deps: ApplyDeps): Promise<string | undefined> {
  const { target } = action;
  deps.emit({ type: 'write-started', key: target.key, method: action.type, size: target.size });
  let versionId: string | undefined;
  if (action.type === 'upload') {
    if (target.source.type !== 'bytes') throw new Error(`upload of ${target.key} has no bytes`);
    const out = await deps.s3.putObject({
      bucket: deps.bucket,
      key: target.key,
      body: target.source.bytes,
      contentType: ARTIFACT_KINDS[target.kind].contentType,
      metadata: { sha256: target.sha256 },
    });
    versionId = out.versionId;
  } else {
    versionId = (await deps.s3.copyObject(deps.bucket, target.key, action.sourceVersionId)).versionId;
  }
  deps.emit({ type: 'write-finished', key: target.key, method: action.type, versionId });
  return versionId;
}

function resolvePin(pin: PlannedPin, written: Map<string, string | undefined>): string {
  if ('versionId' in pin) return pin.versionId;
  const versionId = written.get(pin.key);
  if (!versionId) {
    throw new UserError(`S3 returned no VersionId for ${pin.key}: is versioning enabled on the bucket? Nothing was pinned.`);
  }
  return versionId;
}

export async function apply(actions: readonly ArtifactAction[], deps: ApplyDeps): Promise<ApplyResult> {
  const written = new Map<string, string | undefined>();
  const objects: DeployedObject[] = [];
  let writes = 0;
  let updatedEnvironment = false;
  let environment: EnvironmentState | undefined;
  for (const action of actions) {
    if (action.type === 'update-environment') {
      const update: EnvironmentUpdate = {};
      for (const kind of PINNED_KINDS) {
        const pin = action.pins[kind];
        if (pin) update[kind] = { path: pin.key, version: resolvePin(pin, written) };
      }
      const requestedAtMs = deps.now();
      deps.emit({ type: 'update-started', update });
      await deps.mwaa.updateEnvironment(deps.environmentName, update);
      updatedEnvironment = true;
      environment = await deps.waitForUpdate(update, requestedAtMs);
      deps.emit({ type: 'update-finished', status: environment.status, elapsedMs: deps.now() - requestedAtMs });
      continue;
    }
    const { target } = action;
    let versionId: string | undefined;
    if (action.type === 'skip') {
      versionId = action.versionId;
    } else {
      versionId = await write(action, deps);
      written.set(target.key, versionId);
      writes += 1;
    }
    objects.push({ kind: target.kind, path: target.path, key: target.key, sha256: target.sha256, size: target.size, versionId });
  }
  return { objects, writes, updatedEnvironment, environment };
}

export interface AlarmDeps {
  cloudWatch: CloudWatchPort;
  /** The tags a created alarm carries (its owner, src/deployer/alarms.ts). */
  tags: Record<string, string>;
  emit: (event: DeployEvent) => void;
}

export interface AlarmResult {
  put: string[];
  deleted: string[];
}

/**
 * Runs a plan's alarm actions, after the artifacts are in place: puts in plan order, then one
 * DeleteAlarms for the alarms no longer configured. The first failure stops (the workflow says
 * which call failed, what was done before it and that a new deploy resumes: each call is idempotent).
 */
export async function applyAlarms(actions: readonly AlarmAction[], deps: AlarmDeps): Promise<AlarmResult> {
  const done: AlarmResult = { put: [], deleted: [] };
  for (const action of actions) {
    if (action.type !== 'put-alarm') continue;
    const { name } = action.alarm;
    await deps.cloudWatch.putAlarm(action.alarm, deps.tags);
    done.put.push(name);
    deps.emit({ type: 'alarm-put', name, reason: action.reason });
  }
  const deletes = actions.flatMap((action) => (action.type === 'delete-alarm' ? [action.name] : []));
  if (deletes.length > 0) {
    await deps.cloudWatch.deleteAlarms(deletes);
    for (const name of deletes) {
      done.deleted.push(name);
      deps.emit({ type: 'alarm-deleted', name });
    }
  }
  return done;
}

/**
 * Removes the stale DAG libraries, one DeleteObject each (a delete marker in the versioned bucket:
 * the versions stay for rollbacks). The first failure stops; a new deploy removes the rest.
 */
export async function removeStaleLibraries(
  actions: readonly PruneAction[],
  deps: { s3: S3Port; bucket: string; emit: (event: DeployEvent) => void },
): Promise<string[]> {
  const removed: string[] = [];
  for (const action of actions) {
    await deps.s3.deleteObject(deps.bucket, action.key);
    removed.push(action.key);
    deps.emit({ type: 'object-deleted', key: action.key });
  }
  return removed;
}
