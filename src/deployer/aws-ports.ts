/** Adapts the SDK clients from src/mwaa/clients.ts to the deployer's narrow ports. */
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
import { environmentFieldsForPins, pinsFromEnvironment } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import { PreconditionFailedError, type EnvironmentState, type MwaaPort, type S3Port } from './ports.js';

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

function isNoSuchBucket(error: unknown): boolean {
  return (error as SdkError)?.name === 'NoSuchBucket';
}

function bucketProblem(bucket: string, error: unknown): never {
  if (isNoSuchBucket(error)) {
    throw new UserError(
      `No bucket named ${bucket}. Create it (name starting with airflow-) and enable versioning: ` +
        `aws s3api create-bucket --bucket ${bucket} && aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`,
    );
  }
  throw error;
}

export function s3Port(client: S3Client): S3Port {
  return {
    async getBucketVersioning(bucket) {
      try {
        const out = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
        return out.Status;
      } catch (error) {
        return bucketProblem(bucket, error);
      }
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
        return bucketProblem(bucket, error);
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
        return { versionId: out.VersionId, etag: out.ETag };
      } catch (error) {
        if ((input.ifNoneMatch || input.ifMatch) && (isPreconditionFailed(error) || (input.ifMatch && isNotFound(error)))) {
          throw new PreconditionFailedError(input.key);
        }
        return bucketProblem(input.bucket, error);
      }
    },
    async getObject(bucket, key, versionId) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
        const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
        return { body, etag: out.ETag, versionId: out.VersionId };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        if (status(error) === 400 && versionId) return undefined; // malformed/unknown version id
        return bucketProblem(bucket, error);
      }
    },
    async copyObject(bucket, key, sourceVersionId) {
      const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(sourceVersionId)}`;
      const out = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: source, MetadataDirective: 'COPY' }));
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
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of out.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
  };
}

function bucketFromArn(arn: string | undefined): string | undefined {
  return arn?.startsWith('arn:') ? arn.split(':').slice(5).join(':') : undefined;
}

export function mwaaPort(client: MWAAClient): MwaaPort {
  return {
    async getEnvironment(name) {
      let out;
      try {
        out = await client.send(new GetEnvironmentCommand({ Name: name }));
      } catch (error) {
        if ((error as SdkError)?.name === 'ResourceNotFoundException') {
          throw new UserError(`No MWAA environment named ${name} in this account and region. Create it first (see docs/MWAA_SETUP.md).`);
        }
        throw error;
      }
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
