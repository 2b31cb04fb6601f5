/**
 * What the well-behaved remotes of one hostile world hold: the bucket's objects (with versions),
 * the MWAA environment, the CloudWatch alarms, the key secret, and what Airflow shows (the DAG,
 * its runs, task logs, Variables). Just enough for each command to get past every remote but the
 * hostile one.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface StoredVersion {
  versionId: string;
  body: Buffer;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

export interface AlarmRecord {
  alarm: Record<string, unknown>;
  tags: Array<{ Key: string; Value: string }>;
}

export interface WorldState {
  region: string;
  accountId: string;
  environmentName: string;
  bucket: string;
  airflowVersion: string;
  line: '2' | '3';
  dagsPrefix: string;
  /** Key → versions, oldest first. */
  objects: Map<string, StoredVersion[]>;
  environment: {
    status: string;
    pins: Record<'plugins' | 'requirements' | 'startup', { path: string; version: string } | undefined>;
    lastUpdateAt: Date;
    /** GetEnvironment calls left in UPDATING after an UpdateEnvironment. */
    updatingPolls: number;
    webserverAccessMode?: string;
  };
  alarms: Map<string, AlarmRecord>;
  secret: { arn: string; value: string };
  airflow: {
    dagId: string;
    /** Tags the DAG carries (the config marker of the version deployed). */
    tags: string[];
    runState: 'success' | 'failed';
    /** The task that fails when runState is failed. */
    failedTask: string;
    variables: Record<string, string>;
    runs: string[];
    log: string;
    /** Serve the log after this many bytes of other lines (a huge log, streamed, never held); 0: just the log. */
    logPaddingBytes: number;
  };
  /** The well-behaved SSH server's view of the checkout. */
  checkout: { user: string; commit: string; branch: string; versionYaml: string };
}

export function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

export function newVersionId(): string {
  return randomBytes(16).toString('base64url');
}

export function putVersion(
  state: WorldState,
  key: string,
  body: Buffer,
  options: { contentType?: string; metadata?: Record<string, string> } = {},
): StoredVersion {
  const version: StoredVersion = {
    versionId: newVersionId(),
    body,
    etag: etagOf(body),
    contentType: options.contentType ?? 'application/octet-stream',
    metadata: options.metadata ?? {},
    lastModified: new Date(),
  };
  const versions = state.objects.get(key) ?? [];
  versions.push(version);
  state.objects.set(key, versions);
  return version;
}

export function currentVersion(state: WorldState, key: string): StoredVersion | undefined {
  return state.objects.get(key)?.at(-1);
}
