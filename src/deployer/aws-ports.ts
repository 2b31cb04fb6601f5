/** Adapts the SDK clients from src/mwaa/clients.ts to the deployer's narrow ports. */
import {
  type CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  type MetricAlarm,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import { GetEnvironmentCommand, UpdateEnvironmentCommand, type MWAAClient, type UpdateEnvironmentCommandInput } from '@aws-sdk/client-mwaa';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { environmentFieldsForPins, pinsFromEnvironment } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import { dagTimingOptions } from './dag-run.js';
import { ALARM_OWNER_TAG } from '../config/metrics.js';
import { bucketFromArn } from '../mwaa/arns.js';
import { overriddenEndpoint } from '../mwaa/clients.js';
import { DEFAULT_LIMITS } from '../mwaa/limits.js';
import { byteSize, readStreamBounded, StreamTooLargeError } from '../util/bounded-read.js';
import { mapWithConcurrency } from '../util/concurrency.js';
import {
  PreconditionFailedError,
  type AlarmDefinition,
  type CloudWatchPort,
  type EnvironmentState,
  type MwaaPort,
  type RemoteAlarm,
  type S3Port,
} from './ports.js';

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function status(error: unknown): number | undefined {
  return (error as SdkError)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const e = error as SdkError;
  return status(error) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.name === 'NoSuchVersion';
}

function isPreconditionFailed(error: unknown): boolean {
  const e = error as SdkError;
  // 409 ConditionalRequestConflict: a concurrent conditional write on the same key.
  return status(error) === 412 || status(error) === 409 || e?.name === 'PreconditionFailed';
}

export function s3Port(client: S3Client): S3Port {
  return {
    async getBucketVersioning(bucket) {
      const out = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
      return out.Status;
    },
    async headObject(bucket, key, versionId) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
        if (out.DeleteMarker) return undefined;
        return {
          versionId: out.VersionId,
          sha256: out.Metadata?.sha256,
          etag: out.ETag,
          size: out.ContentLength,
        };
      } catch (error) {
        // A HEAD on a delete marker answers 405 (or 404 with x-amz-delete-marker).
        if (isNotFound(error) || status(error) === 405) return undefined;
        if (status(error) === 400 && versionId) return undefined; // malformed/unknown version id
        throw error;
      }
    },
    async putObject(input) {
      try {
        const out = await client.send(
          new PutObjectCommand({
            Bucket: input.bucket,
            Key: input.key,
            Body: input.body,
            ContentType: input.contentType,
            Metadata: input.metadata,
            IfNoneMatch: input.ifNoneMatch,
            IfMatch: input.ifMatch,
          }),
        );
        if (!out.VersionId) throw await unversioned(client, 'PutObject', input.bucket, input.key);
        return { versionId: out.VersionId, etag: out.ETag };
      } catch (error) {
        if ((input.ifNoneMatch || input.ifMatch) && (isPreconditionFailed(error) || (input.ifMatch && isNotFound(error)))) {
          throw new PreconditionFailedError(input.key);
        }
        throw error;
      }
    },
    async getObject(bucket, key, versionId, maxBytes = DEFAULT_LIMITS.maxObjectBytes) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
        const tooLarge = async () => {
          const endpoint = await overriddenEndpoint(client);
          return new UserError(
            `S3${endpoint ? ` at ${endpoint}` : ''}: s3://${bucket}/${key}${versionId ? ` (version ${versionId})` : ''} is larger than ` +
              `${byteSize(maxBytes)}, the most the toolkit reads of it.`,
          );
        };
        const stream = out.Body as (Readable & { destroy?: () => void }) | undefined;
        if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
          stream?.destroy?.();
          throw await tooLarge();
        }
        let body: Uint8Array = new Uint8Array();
        if (stream) {
          try {
            body = await readStreamBounded(stream, maxBytes);
          } catch (error) {
            if (error instanceof StreamTooLargeError) throw await tooLarge();
            throw error;
          }
        }
        return { body, etag: out.ETag, versionId: out.VersionId };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        if (status(error) === 400 && versionId) return undefined; // malformed/unknown version id
        throw error;
      }
    },
    async copyObject(bucket, key, sourceVersionId) {
      const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(sourceVersionId)}`;
      const out = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: source, MetadataDirective: 'COPY' }));
      if (!out.VersionId) throw await unversioned(client, 'CopyObject', bucket, key);
      return { versionId: out.VersionId };
    },
    async deleteObject(bucket, key, ifMatch) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: ifMatch }));
      } catch (error) {
        if (ifMatch && (isPreconditionFailed(error) || isNotFound(error))) throw new PreconditionFailedError(key);
        throw error;
      }
    },
    async listKeys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      for (let page = 0; ; page += 1) {
        const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of out.Contents ?? []) if (object.Key) keys.push(object.Key);
        const next = out.IsTruncated ? out.NextContinuationToken : undefined;
        token = await nextToken('S3', client, `ListObjectsV2 of s3://${bucket}/${prefix}`, page, token, next);
        if (token === undefined) return keys;
      }
    },
  };
}

/**
 * The most pages a list is read to: 100,000 keys of ListObjectsV2, 10,000 alarms of DescribeAlarms
 * (at most 100 a page). An endless list (a server that ignores the token) ends there, with an error.
 */
export const MAX_LIST_PAGES = 100;
/** ListTagsForResource calls in flight at once, one per alarm (CloudWatch throttles bursts). */
export const TAG_READ_CONCURRENCY = 4;

/** A paged read that would not end: the same token again, or more pages than MAX_LIST_PAGES. */
async function endlessList(service: string, client: { config: unknown }, what: string, why: string): Promise<UserError> {
  const endpoint = await overriddenEndpoint(client);
  return new UserError(`${service}${endpoint ? ` at ${endpoint}` : ''}: ${what} ${why}; stopped there.`);
}

/** The next token of page `page`, or an error when the list does not end. */
async function nextToken(
  service: string,
  client: { config: unknown },
  what: string,
  page: number,
  previous: string | undefined,
  next: string | undefined,
): Promise<string | undefined> {
  if (next === undefined) return undefined;
  if (next === previous)
    throw await endlessList(service, client, what, `answered the continuation token ${JSON.stringify(next)} with itself`);
  if (page + 1 >= MAX_LIST_PAGES)
    throw await endlessList(service, client, what, `has more than ${MAX_LIST_PAGES} pages, the most the toolkit reads`);
  return next;
}

/**
 * A write to a versioned bucket always answers with the new version's ID (deploy refuses a bucket
 * without versioning before it writes): an answer without one did not come from S3, or not from
 * that bucket, and must not be recorded as a deploy.
 */
async function unversioned(client: { config: unknown }, operation: string, bucket: string, key: string): Promise<UserError> {
  const endpoint = await overriddenEndpoint(client);
  return new UserError(
    `S3${endpoint ? ` at ${endpoint}` : ''}: ${operation} of s3://${bucket}/${key} answered without a version ID, as no versioned ` +
      'S3 bucket answers. Is the endpoint S3 (aws.endpoints.s3, AWS_ENDPOINT_URL_S3), and is versioning on for the bucket?',
  );
}

export function mwaaPort(client: MWAAClient): MwaaPort {
  return {
    async getEnvironment(name) {
      // Its errors (ResourceNotFoundException included) are explained by src/mwaa/aws-errors.ts.
      const out = await client.send(new GetEnvironmentCommand({ Name: name }));
      const env = out.Environment;
      if (!env) throw new UserError(`GetEnvironment for ${name} returned no environment.`);
      const state: EnvironmentState = {
        name,
        status: env.Status ?? 'UNKNOWN',
        airflowVersion: env.AirflowVersion,
        bucket: bucketFromArn(env.SourceBucketArn),
        dagS3Path: env.DagS3Path,
        pins: pinsFromEnvironment(env as Record<string, unknown>),
      };
      if (env.WebserverAccessMode) state.webserverAccessMode = env.WebserverAccessMode;
      const timings = dagTimingOptions(env.AirflowConfigurationOptions);
      if (Object.keys(timings).length > 0) state.dagTimings = timings;
      const taskLogs = env.LoggingConfiguration?.TaskLogs;
      if (taskLogs) {
        state.taskLogs = { enabled: taskLogs.Enabled === true };
        if (taskLogs.CloudWatchLogGroupArn) state.taskLogs.cloudWatchLogGroupArn = taskLogs.CloudWatchLogGroupArn;
      }
      if (env.LastUpdate) {
        state.lastUpdate = {
          status: env.LastUpdate.Status,
          errorCode: env.LastUpdate.Error?.ErrorCode,
          errorMessage: env.LastUpdate.Error?.ErrorMessage,
          createdAt: env.LastUpdate.CreatedAt?.toISOString(),
        };
      }
      return state;
    },
    async updateEnvironment(name, update) {
      const input = { Name: name, ...environmentFieldsForPins(update) } as UpdateEnvironmentCommandInput;
      await client.send(new UpdateEnvironmentCommand(input));
    },
  };
}

/** A MetricAlarm as deploy compares it; absent lists are empty, absent optional fields undefined. */
function alarmFromSdk(alarm: MetricAlarm): AlarmDefinition {
  const definition: AlarmDefinition = {
    name: alarm.AlarmName ?? '',
    namespace: alarm.Namespace ?? '',
    metricName: alarm.MetricName ?? '',
    dimensions: (alarm.Dimensions ?? [])
      .map((d) => ({ name: d.Name ?? '', value: d.Value ?? '' }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    statistic: alarm.Statistic ?? '',
    periodSeconds: alarm.Period ?? 0,
    evaluationPeriods: alarm.EvaluationPeriods ?? 0,
    threshold: alarm.Threshold ?? Number.NaN,
    comparison: alarm.ComparisonOperator ?? '',
    // CloudWatch treats an alarm without the setting as `missing`.
    treatMissingData: alarm.TreatMissingData ?? 'missing',
    description: alarm.AlarmDescription ?? '',
    alarmActions: alarm.AlarmActions ?? [],
    okActions: alarm.OKActions ?? [],
    insufficientDataActions: alarm.InsufficientDataActions ?? [],
    actionsEnabled: alarm.ActionsEnabled ?? true,
  };
  if (alarm.DatapointsToAlarm !== undefined) definition.datapointsToAlarm = alarm.DatapointsToAlarm;
  if (alarm.Unit !== undefined) definition.unit = alarm.Unit;
  if (alarm.ExtendedStatistic !== undefined) definition.extendedStatistic = alarm.ExtendedStatistic;
  return definition;
}

/** DeleteAlarms takes at most 100 names per call. */
const DELETE_BATCH = 100;

export function cloudWatchPort(client: CloudWatchClient): CloudWatchPort {
  return {
    async describeAlarms(prefix) {
      const alarms: MetricAlarm[] = [];
      let token: string | undefined;
      for (let page = 0; ; page += 1) {
        const out = await client.send(
          new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], NextToken: token }),
        );
        alarms.push(...(out.MetricAlarms ?? []));
        token = await nextToken('CloudWatch', client, `DescribeAlarms of the alarms named ${prefix}*`, page, token, out.NextToken);
        if (token === undefined) break;
      }
      return mapWithConcurrency(alarms, TAG_READ_CONCURRENCY, async (alarm): Promise<RemoteAlarm> => {
        const arn = alarm.AlarmArn ?? '';
        const tags = await client.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
        return { ...alarmFromSdk(alarm), arn, owner: tags.Tags?.find((tag) => tag.Key === ALARM_OWNER_TAG)?.Value };
      });
    },
    async putAlarm(alarm, tags) {
      await client.send(
        new PutMetricAlarmCommand({
          AlarmName: alarm.name,
          AlarmDescription: alarm.description,
          Namespace: alarm.namespace,
          MetricName: alarm.metricName,
          Dimensions: alarm.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
          Statistic: alarm.statistic as PutMetricAlarmCommand['input']['Statistic'],
          Period: alarm.periodSeconds,
          EvaluationPeriods: alarm.evaluationPeriods,
          Threshold: alarm.threshold,
          ComparisonOperator: alarm.comparison as PutMetricAlarmCommand['input']['ComparisonOperator'],
          TreatMissingData: alarm.treatMissingData,
          ActionsEnabled: alarm.actionsEnabled,
          AlarmActions: alarm.alarmActions,
          OKActions: alarm.okActions,
          InsufficientDataActions: alarm.insufficientDataActions,
          // Applied when the alarm is created; PutMetricAlarm ignores tags on an update.
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
    },
    async deleteAlarms(names) {
      for (let i = 0; i < names.length; i += DELETE_BATCH) {
        await client.send(new DeleteAlarmsCommand({ AlarmNames: names.slice(i, i + DELETE_BATCH) }));
      }
    },
  };
}
