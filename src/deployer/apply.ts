/**
 * The effectful half of a deploy: runs a plan's actions in order. plugins/requirements are
 * written first, then one UpdateEnvironment pins exactly the versions those writes returned and
 * the environment is waited for; only when it is AVAILABLE again do the DAG and config go up, so
 * a DAG never runs against plugins it does not know.
 */
import { UserError } from '../errors.js';
import { ARTIFACT_KINDS, PINNED_KINDS } from '../artifacts/kinds.js';
import type { Action, DeployTarget, PlannedPin } from './plan.js';
import type { EnvironmentState, EnvironmentUpdate, MwaaPort, S3Port } from './ports.js';
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

async function write(action: Extract<Action, { type: 'upload' | 'copy' }>, deps: ApplyDeps): Promise<string | undefined> {
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

export async function apply(actions: readonly Action[], deps: ApplyDeps): Promise<ApplyResult> {
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
