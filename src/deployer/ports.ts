/**
 * The narrow views of S3 and MWAA the deployer uses: only the calls it makes, in plain shapes, so
 * plan/apply/lock are unit-tested against small in-memory fakes. src/deployer/aws-ports.ts adapts
 * the SDK clients to these.
 */
import type { Pins } from '../artifacts/kinds.js';
import type { DagTimings } from './dag-run.js';

export interface ObjectHead {
  versionId?: string;
  /** Our sha256 of the bytes, from `x-amz-meta-sha256`; absent for objects written by others. */
  sha256?: string;
  etag?: string;
  size?: number;
}

export interface PutObjectInput {
  bucket: string;
  key: string;
  body: Uint8Array;
  contentType?: string;
  metadata?: Record<string, string>;
  /** `If-None-Match: *`: write only when no current object exists. */
  ifNoneMatch?: '*';
  /** `If-Match: <etag>`: write only over exactly this object. */
  ifMatch?: string;
}

export interface S3Port {
  /** `Enabled`, `Suspended`, or undefined when versioning was never set. */
  getBucketVersioning(bucket: string): Promise<string | undefined>;
  /** Undefined when there is no such (current) object or version. */
  headObject(bucket: string, key: string, versionId?: string): Promise<ObjectHead | undefined>;
  putObject(input: PutObjectInput): Promise<{ versionId?: string; etag?: string }>;
  /**
   * Undefined when there is no such (current) object or version. An object larger than `maxBytes`
   * (default: the largest object the toolkit reads, src/mwaa/limits.ts) is an error, never read whole.
   */
  getObject(
    bucket: string,
    key: string,
    versionId?: string,
    maxBytes?: number,
  ): Promise<{ body: Uint8Array; etag?: string; versionId?: string } | undefined>;
  /** Makes an old version current again; the new current version keeps the source's metadata. */
  copyObject(bucket: string, key: string, sourceVersionId: string): Promise<{ versionId?: string }>;
  deleteObject(bucket: string, key: string, ifMatch?: string): Promise<void>;
  listKeys(bucket: string, prefix: string): Promise<string[]>;
}

/** A conditional write lost: the object exists (If-None-Match) or changed (If-Match). */
export class PreconditionFailedError extends Error {
  constructor(readonly key: string) {
    super(`Conditional write on ${key} failed`);
    this.name = 'PreconditionFailedError';
  }
}

export interface EnvironmentState {
  name: string;
  status: string;
  airflowVersion?: string;
  /** From SourceBucketArn. */
  bucket?: string;
  dagS3Path?: string;
  /** What the environment pins, per pinned artifact kind (src/artifacts/kinds.ts). */
  pins: Pins;
  lastUpdate?: { status?: string; errorCode?: string; errorMessage?: string; createdAt?: string };
  /** LoggingConfiguration.TaskLogs: whether task logs go to CloudWatch, and where. */
  taskLogs?: { enabled: boolean; cloudWatchLogGroupArn?: string };
  /** WebserverAccessMode: PRIVATE_ONLY serves the web server (and so the trigger) only inside the VPC. */
  webserverAccessMode?: string;
  /** The DAG timings the environment's AirflowConfigurationOptions set (src/deployer/dag-run.ts). */
  dagTimings?: Partial<DagTimings>;
}

/** UpdateEnvironment input: the new pin of each pinned kind that changes. */
export type EnvironmentUpdate = Pins;

export interface MwaaPort {
  getEnvironment(name: string): Promise<EnvironmentState>;
  updateEnvironment(name: string, update: EnvironmentUpdate): Promise<void>;
}

/** Every field of a metric alarm that PutMetricAlarm sets, as deploy writes and compares it. */
export interface AlarmDefinition {
  name: string;
  namespace: string;
  metricName: string;
  /** Sorted by name. */
  dimensions: Array<{ name: string; value: string }>;
  statistic: string;
  periodSeconds: number;
  evaluationPeriods: number;
  threshold: number;
  comparison: string;
  treatMissingData: string;
  description: string;
  alarmActions: string[];
  okActions: string[];
  insufficientDataActions: string[];
  actionsEnabled: boolean;
  /** Set by hand at most: deploy leaves these unset, so a value here is a difference. */
  datapointsToAlarm?: number;
  unit?: string;
  extendedStatistic?: string;
}

/** An alarm as DescribeAlarms shows it, with the environment its owner tag names (undefined: no tag). */
export interface RemoteAlarm extends AlarmDefinition {
  arn: string;
  owner: string | undefined;
}

export interface CloudWatchPort {
  /** The metric alarms whose names start with `prefix`, with their owner tag (ListTagsForResource). */
  describeAlarms(prefix: string): Promise<RemoteAlarm[]>;
  /** PutMetricAlarm: creates the alarm with `tags`, or replaces its definition (tags stay as they are). */
  putAlarm(alarm: AlarmDefinition, tags: Record<string, string>): Promise<void>;
  deleteAlarms(names: string[]): Promise<void>;
}
