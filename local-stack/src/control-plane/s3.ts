/**
 * The few S3 calls the control plane makes, behind a narrow interface so DAG sync and updates
 * are testable with an in-memory fake. The factory builds it on the real SDK pointed at moto.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { createS3Client } from '../../../src/mwaa/clients.js';

export interface S3ObjectSummary {
  key: string;
  /** As S3 returns it, without quotes. For single-part uploads: the hex MD5 of the body. */
  etag: string;
  size: number;
}

export interface ObjectStore {
  list(prefix: string): Promise<S3ObjectSummary[]>;
  /** The object's bytes and the version actually read. Throws ObjectMissingError when absent. */
  get(key: string, versionId?: string): Promise<{ body: Buffer; versionId?: string }>;
  /** Whether that object (version) exists; throws on other failures. */
  exists(key: string, versionId?: string): Promise<boolean>;
}

export class ObjectMissingError extends Error {
  constructor(
    readonly key: string,
    readonly versionId?: string,
  ) {
    super(`s3 object ${key}${versionId ? ` version ${versionId}` : ''} does not exist`);
    this.name = 'ObjectMissingError';
  }
}

export interface S3StoreOptions {
  endpoint: string;
  region: string;
  bucket: string;
}

export function createS3Store(options: S3StoreOptions): ObjectStore {
  const client = createS3Client({ endpoint: options.endpoint, region: options.region, localStack: true });
  const Bucket = options.bucket;
  return {
    async list(prefix) {
      const out: S3ObjectSummary[] = [];
      let token: string | undefined;
      do {
        const page: ListObjectsV2CommandOutput = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          out.push({ key: item.Key, etag: stripQuotes(item.ETag ?? ''), size: item.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async get(key, versionId) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: key, VersionId: versionId }));
        const body = Buffer.from(await res.Body!.transformToByteArray());
        return res.VersionId === undefined ? { body } : { body, versionId: res.VersionId };
      } catch (error) {
        if (isMissing(error)) throw new ObjectMissingError(key, versionId);
        throw error;
      }
    },
    async exists(key, versionId) {
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key: key, VersionId: versionId }));
        return true;
      } catch (error) {
        if (isMissing(error)) return false;
        throw error;
      }
    },
  };
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"+|"+$/g, '');
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // A bad version id answers 400 InvalidArgument on S3 (and on moto), a missing key 404.
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.name === 'NoSuchVersion' || e.name === 'InvalidArgument' || status === 404;
}
