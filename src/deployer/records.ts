/**
 * Deploy records: after each deploy that changed something, one JSON object under
 * `<deploymentsPrefix>/records/` says what was deployed (manifest, object versions), by whom and
 * when. Keys start with the ISO time, so listing order is deploy order. Rollback reads them.
 */
import { createHash } from 'node:crypto';
import type { PinnedKind } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import type { DeployedObject } from './apply.js';
import type { DeployTarget } from './plan.js';
import type { S3Port } from './ports.js';

export interface DeployRecord {
  formatVersion: 1;
  kind: 'deploy' | 'rollback';
  environment: string;
  environmentName: string;
  at: string;
  who: { user: string; host: string; awsProfile?: string };
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

export async function readRecord(s3: S3Port, bucket: string, key: string): Promise<DeployRecord> {
  const object = await s3.getObject(bucket, key);
  if (!object) throw new UserError(`Deploy record s3://${bucket}/${key} disappeared.`);
  return JSON.parse(Buffer.from(object.body).toString('utf8')) as DeployRecord;
}

function fingerprint(record: DeployRecord): string {
  return record.objects
    .map((o) => `${o.key}=${o.sha256}`)
    .sort()
    .join('\n');
}

/**
 * The record to roll back to: the newest one, older than the latest, that deployed something
 * different from the latest. Records oldest first. Undefined when there is none.
 */
export function rollbackTarget(records: readonly { key: string; record: DeployRecord }[]):
  | { key: string; record: DeployRecord }
  | undefined {
  const latest = records.at(-1);
  if (!latest) return undefined;
  const current = fingerprint(latest.record);
  for (let i = records.length - 2; i >= 0; i -= 1) {
    if (fingerprint(records[i]!.record) !== current) return records[i];
  }
  return undefined;
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
