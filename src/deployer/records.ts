/**
 * Deploy records: one JSON object under `<deploymentsPrefix>/records/` per change of what runs
 * (manifest, object versions, who, when). Keys start with the ISO time, so listing order is deploy
 * order. The newest record always describes what is live: a deploy writes one after applying, and
 * a deploy that finds nothing to change but a live state no record describes (a deploy killed
 * after its writes) writes a `reconcile` record. Rollback walks back through them.
 */
import { createHash } from 'node:crypto';
import { isPinned, PINNED_KINDS, type PinnedKind } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import { mapWithConcurrency } from '../util/concurrency.js';
import type { DeployedObject } from './apply.js';
import type { DeployTarget, Plan, RemoteState } from './plan.js';
import type { EnvironmentState, S3Port } from './ports.js';

/**
 * Who made a change. `arn` (STS GetCallerIdentity: the IAM identity the deploy acted as) is kept
 * from this version on; older records have only the local user, host and profile. The shape only
 * grows: every field a later version adds is optional, so old records still read.
 */
export interface RecordWho {
  user: string;
  host: string;
  awsProfile?: string;
  arn?: string;
}

export interface DeployRecord {
  formatVersion: 1;
  kind: 'deploy' | 'rollback' | 'reconcile';
  environment: string;
  environmentName: string;
  at: string;
  who: RecordWho;
  configHash?: string;
  toolVersion?: string;
  manifest?: unknown;
  objects: DeployedObject[];
  pins: Partial<Record<PinnedKind, { path: string; version: string }>>;
  /** For a rollback: the record whose versions it restored. */
  restored?: string;
}

export function recordsPrefix(deploymentsPrefix: string): string {
  return `${deploymentsPrefix}/records/`;
}

export function recordKey(deploymentsPrefix: string, record: DeployRecord): string {
  const stamp = record.at.replace(/:/g, '-');
  const hash = createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 12);
  return `${recordsPrefix(deploymentsPrefix)}${stamp}-${hash}.json`;
}

export async function writeRecord(s3: S3Port, bucket: string, deploymentsPrefix: string, record: DeployRecord): Promise<string> {
  const key = recordKey(deploymentsPrefix, record);
  await s3.putObject({
    bucket,
    key,
    body: Buffer.from(`${JSON.stringify(record, null, 2)}\n`),
    contentType: 'application/json',
  });
  return key;
}

export async function listRecordKeys(s3: S3Port, bucket: string, deploymentsPrefix: string): Promise<string[]> {
  const keys = await s3.listKeys(bucket, recordsPrefix(deploymentsPrefix));
  return keys.filter((key) => key.endsWith('.json')).sort();
}

/** A record is a few KiB (its manifest lists a handful of artifacts); anything this large is not one. */
export const RECORD_MAX_BYTES = 16 * 1024 * 1024;
/** Records read at once (a rollback reads them all). */
export const RECORD_READ_CONCURRENCY = 8;

export async function readRecord(s3: S3Port, bucket: string, key: string): Promise<DeployRecord> {
  const object = await s3.getObject(bucket, key, undefined, RECORD_MAX_BYTES);
  if (!object) throw new UserError(`Deploy record s3://${bucket}/${key} disappeared.`);
  let record: Partial<DeployRecord> | null;
  try {
    record = JSON.parse(Buffer.from(object.body).toString('utf8')) as Partial<DeployRecord> | null;
  } catch (error) {
    record = null;
    if (!(error instanceof SyntaxError)) throw error;
  }
  // Written by hand or by another tool: every later step reads these fields.
  if (typeof record !== 'object' || record === null || typeof record.environment !== 'string' || !Array.isArray(record.objects)) {
    throw new UserError(
      `s3://${bucket}/${key} is not a deploy record (not JSON with "environment" and "objects"): ` +
        `move it out of ${key.slice(0, key.lastIndexOf('/') + 1)}, which holds only the records deploy writes.`,
    );
  }
  return record as DeployRecord;
}

/** The records of `keys`, in their order, a few at a time. */
export async function readRecords(s3: S3Port, bucket: string, keys: readonly string[]): Promise<KeyedRecord[]> {
  return mapWithConcurrency(keys, RECORD_READ_CONCURRENCY, async (key) => ({ key, record: await readRecord(s3, bucket, key) }));
}

export interface KeyedRecord {
  key: string;
  record: DeployRecord;
}

/** One environment's deploy records, oldest first. */
export async function environmentRecords(s3: S3Port, bucket: string, deploymentsPrefix: string, envName: string): Promise<KeyedRecord[]> {
  const keys = await listRecordKeys(s3, bucket, deploymentsPrefix);
  const records = await readRecords(s3, bucket, keys);
  return records.filter((r) => r.record.environment === envName);
}

/** How a record is named to people: its key's file name without `.json` (`<time>-<hash12>`). */
export function recordId(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
}

/**
 * The record `ref` names: its key, its id (recordId), its id's 12-digit hash, or a prefix of its id
 * that only it has (`2026-12-07T19-52`). Anything else is an error that lists the candidates.
 */
export function findRecord(records: readonly KeyedRecord[], ref: string, where: string): KeyedRecord {
  const wanted = ref.trim().replace(/\.json$/, '');
  const exact = records.filter((r) => r.key === ref || recordId(r.key) === wanted || recordId(r.key).endsWith(`-${wanted}`));
  const matches = exact.length > 0 ? exact : records.filter((r) => wanted !== '' && recordId(r.key).startsWith(wanted));
  if (matches.length === 1) return matches[0]!;
  const ids = (matches.length > 1 ? matches : records).map((r) => recordId(r.key));
  const shown = ids.slice(-5).reverse().join(', ');
  if (matches.length > 1) {
    throw new UserError(`"${ref}" names ${matches.length} deploy records (${shown}${ids.length > 5 ? ', ...' : ''}): give more of the id.`);
  }
  throw new UserError(
    `No deploy record "${ref}" in ${where}.${ids.length > 0 ? ` Newest: ${shown}.` : ' It holds none.'} ` +
      'The history command lists them with their ids.',
  );
}

/** The newest record of one environment, reading back from the newest key until one is found. */
export async function newestRecord(
  s3: S3Port,
  bucket: string,
  deploymentsPrefix: string,
  envName: string,
): Promise<KeyedRecord | undefined> {
  const keys = await listRecordKeys(s3, bucket, deploymentsPrefix);
  for (let i = keys.length - 1; i >= 0; i -= 1) {
    const record = await readRecord(s3, bucket, keys[i]!);
    if (record.environment === envName) return { key: keys[i]!, record };
  }
  return undefined;
}

/** What a set of objects amounts to: each key with its content hash. */
export function recordFingerprint(objects: readonly { key: string; sha256: string }[]): string {
  return objects
    .map((o) => `${o.key}=${o.sha256}`)
    .sort()
    .join('\n');
}

/**
 * The same for what runs now: pinned kinds by the version the environment pins, the others by
 * the current object. An object without our hash (written by someone else) counts as unknown.
 */
export function liveFingerprint(targets: readonly DeployTarget[], remote: RemoteState): string {
  return recordFingerprint(
    targets.map((target) => {
      const pinnedHere = isPinned(target.kind) && remote.environment.pins[target.kind]?.path === target.key;
      const head = isPinned(target.kind) ? (pinnedHere ? remote.pinned[target.kind] : undefined) : remote.current[target.key];
      return { key: target.key, sha256: head?.sha256 ?? 'unknown' };
    }),
  );
}

/**
 * Where each record stands in the history that rollbacks walk: a rollback stands where the record
 * it restored stood, so a second rollback goes further back instead of undoing the first.
 */
function historyPosition(records: readonly KeyedRecord[], index: number, seen = new Set<number>()): number {
  const { record } = records[index]!;
  if (record.kind !== 'rollback' || record.restored === undefined || seen.has(index)) return index;
  const restored = records.findIndex((r) => r.key === record.restored);
  if (restored < 0 || restored >= index) return index;
  seen.add(index);
  return historyPosition(records, restored, seen);
}

/**
 * The record to roll back to, given what runs now (`live`): the newest record before the live
 * state's place in history that deployed something different. Records oldest first. When the
 * newest record does not describe what runs (a deploy that never recorded), that is the place
 * after all records.
 */
export function rollbackTarget(records: readonly KeyedRecord[], live: string): KeyedRecord | undefined {
  const latest = records.length - 1;
  const from =
    latest >= 0 && recordFingerprint(records[latest]!.record.objects) === live ? historyPosition(records, latest) : records.length;
  for (let i = from - 1; i >= 0; i -= 1) {
    if (recordFingerprint(records[i]!.record.objects) !== live) return records[i];
  }
  return undefined;
}

/** The objects of a plan that changes nothing: every target in place, with its version. */
export function objectsInPlace(plan: Plan): DeployedObject[] {
  return plan.actions.flatMap((action) =>
    action.type === 'skip'
      ? [
          {
            kind: action.target.kind,
            path: action.target.path,
            key: action.target.key,
            sha256: action.target.sha256,
            size: action.target.size,
            versionId: action.versionId,
          },
        ]
      : [],
  );
}

export interface RecordSource {
  envName: string;
  environmentName: string;
  configHash?: string;
  toolVersion?: string;
  manifest?: unknown;
}

/** A record of what runs after this deploy; a rollback keeps the restored record's manifest. */
export function newRecord(
  kind: DeployRecord['kind'],
  source: RecordSource,
  who: RecordWho,
  nowMs: number,
  objects: DeployedObject[],
  environment: EnvironmentState,
  restored?: KeyedRecord,
): DeployRecord {
  const record: DeployRecord = {
    formatVersion: 1,
    kind,
    environment: source.envName,
    environmentName: source.environmentName,
    at: new Date(nowMs).toISOString(),
    who: {
      user: who.user,
      host: who.host,
      ...(who.awsProfile ? { awsProfile: who.awsProfile } : {}),
      ...(who.arn ? { arn: who.arn } : {}),
    },
    objects,
    pins: {},
  };
  const described = restored?.record ?? source;
  if (described.configHash) record.configHash = described.configHash;
  if (described.toolVersion) record.toolVersion = described.toolVersion;
  if (described.manifest) record.manifest = described.manifest;
  for (const kind of PINNED_KINDS) {
    const pin = environment.pins[kind];
    if (pin?.version) record.pins[kind] = { path: pin.path, version: pin.version };
  }
  if (restored && kind === 'rollback') record.restored = restored.key;
  return record;
}

/** A record's objects as deploy targets that copy the recorded versions back. */
export function rollbackTargets(record: DeployRecord, recordKeyName: string): DeployTarget[] {
  return record.objects.map((object) => {
    if (!object.versionId) {
      throw new UserError(`Record ${recordKeyName} has no VersionId for ${object.key}; it cannot be restored.`);
    }
    return {
      kind: object.kind,
      path: object.path,
      key: object.key,
      sha256: object.sha256,
      size: object.size,
      source: { type: 'version', versionId: object.versionId },
    };
  });
}
