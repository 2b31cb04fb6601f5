/**
 * Reads what the plan compares against: the environment, bucket versioning, one HEAD per object,
 * when deploy manages alarms the alarms named with the environment's prefix, and when the targets
 * hold a DAG file the DAG libraries in the DAG folder.
 */
import { DAG_LIBRARY_PREFIX, dagLibraryOfKey, PINNED_KINDS } from '../artifacts/kinds.js';
import type { DagLibraries, DeployTarget, RemoteState } from './plan.js';
import type { CloudWatchPort, MwaaPort, ObjectHead, S3Port } from './ports.js';

export async function readRemoteState(
  s3: S3Port,
  mwaa: MwaaPort,
  bucket: string,
  environmentName: string,
  targets: readonly DeployTarget[],
  alarms?: { cloudWatch: CloudWatchPort; prefix: string },
  dagsPrefix?: string,
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
  const dagLibraries = dagsPrefix === undefined ? undefined : await readDagLibraries(s3, bucket, dagsPrefix, targets, current);
  return {
    environment,
    versioning,
    current,
    pinned,
    ...(remoteAlarms ? { alarms: remoteAlarms } : {}),
    ...(dagLibraries ? { dagLibraries } : {}),
  };
}

/** The most of a DAG file read to learn which library it imports (ours are about 10 KB). */
export const DAG_READ_MAX_BYTES = 16 * 1024 * 1024;
const IMPORTED_LIBRARY = new RegExp(`\\b(${DAG_LIBRARY_PREFIX}[0-9a-f]{12})\\.zip\\b`);

/**
 * The library zips in the DAG folder and the one the DAG file there imports: named in the file
 * (read only when it is not the file this deploy writes, whose library the targets hold).
 */
export async function readDagLibraries(
  s3: S3Port,
  bucket: string,
  dagsPrefix: string,
  targets: readonly DeployTarget[],
  current: Record<string, ObjectHead | undefined>,
): Promise<DagLibraries | undefined> {
  const dag = targets.find((t) => t.kind === 'dag');
  if (!dag) return undefined;
  const folder = `${dagsPrefix.replace(/\/+$/, '')}/`;
  const keys = (await s3.listKeys(bucket, `${folder}${DAG_LIBRARY_PREFIX}`)).filter(
    (key) => dagLibraryOfKey(dagsPrefix, key) !== undefined,
  );
  const head = current[dag.key];
  if (!head) return { keys };
  if (head.sha256 !== undefined && head.sha256 === dag.sha256) {
    const library = targets.find((t) => t.kind === 'dagLibrary');
    return library ? { keys, inUse: library.key } : { keys };
  }
  const object = await s3.getObject(bucket, dag.key, undefined, DAG_READ_MAX_BYTES);
  const imported = object ? IMPORTED_LIBRARY.exec(Buffer.from(object.body).toString('utf8'))?.[1] : undefined;
  return imported ? { keys, inUse: `${folder}${imported}.zip` } : { keys };
}
