/**
 * Reads what the plan compares against: the environment, bucket versioning, one HEAD per object
 * and, when deploy manages alarms, the alarms named with the environment's prefix.
 */
import { PINNED_KINDS } from '../artifacts/kinds.js';
import type { DeployTarget, RemoteState } from './plan.js';
import type { CloudWatchPort, MwaaPort, ObjectHead, S3Port } from './ports.js';

export async function readRemoteState(
  s3: S3Port,
  mwaa: MwaaPort,
  bucket: string,
  environmentName: string,
  targets: readonly DeployTarget[],
  alarms?: { cloudWatch: CloudWatchPort; prefix: string },
): Promise<RemoteState> {
  const [environment, versioning, heads, remoteAlarms] = await Promise.all([
    mwaa.getEnvironment(environmentName),
    s3.getBucketVersioning(bucket),
    Promise.all(targets.map(async (t) => [t.key, await s3.headObject(bucket, t.key)] as const)),
    alarms ? alarms.cloudWatch.describeAlarms(alarms.prefix) : undefined,
  ]);
  const current: Record<string, ObjectHead | undefined> = Object.fromEntries(heads);
  const pinned: RemoteState['pinned'] = {};
  await Promise.all(
    PINNED_KINDS.map(async (kind) => {
      const { path, version } = environment.pins[kind] ?? {};
      if (!path || !version || !targets.some((t) => t.kind === kind && t.key === path)) return;
      const head = current[path];
      // The usual case: the pinned version is the current one, already fetched.
      pinned[kind] = head?.versionId === version ? head : await s3.headObject(bucket, path, version);
    }),
  );
  return { environment, versioning, current, pinned, ...(remoteAlarms ? { alarms: remoteAlarms } : {}) };
}
