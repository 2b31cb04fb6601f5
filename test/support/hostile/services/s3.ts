/**
 * A minimal S3 (REST-XML, path-style addressing as the SDK sends it to an endpoint override): the
 * calls deploy makes, with versioning, `x-amz-meta-*`, If-None-Match/If-Match, and ListObjectsV2
 * pages. With endless pages, ListObjectsV2 ignores the continuation token: every answer is a page
 * of 100 keys, truncated, with a new token.
 */
import { xml } from '../aws-wire.js';
import type { Reply, RequestInfo, Service } from '../http-server.js';
import { currentVersion, putVersion, type StoredVersion, type WorldState } from '../state.js';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const PAGE = 1000;
/** Keys of an endless page: enough to grow a client's memory page after page, few enough to parse fast. */
const ENDLESS_PAGE = 100;

function xmlReply(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

function s3Error(status: number, code: string, message: string, head: boolean): Reply {
  return head
    ? { status, body: '' }
    : xmlReply(status, `<Error><Code>${code}</Code><Message>${xml(message)}</Message><RequestId>harness</RequestId></Error>`);
}

function objectHeaders(version: StoredVersion): Record<string, string> {
  const headers: Record<string, string> = {
    etag: version.etag,
    'content-type': version.contentType,
    'x-amz-version-id': version.versionId,
    'last-modified': version.lastModified.toUTCString(),
  };
  for (const [k, v] of Object.entries(version.metadata)) headers[`x-amz-meta-${k}`] = v;
  return headers;
}

function split(path: string): { bucket: string; key: string } {
  const [, bucket = '', ...rest] = path.split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/') };
}

export function s3Service(state: WorldState): Service {
  return {
    display: 'S3',
    aws: 's3',
    contentType: 'application/xml',
    bodyPrefix: `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="${NS}"><Name>`,
    operation(request) {
      const { key } = split(request.path);
      const q = request.query;
      if (!key) {
        if (q.has('versioning')) return 'GetBucketVersioning';
        if (q.get('list-type') === '2') return 'ListObjectsV2';
        return `${request.method} bucket`;
      }
      if (request.method === 'HEAD') return 'HeadObject';
      if (request.method === 'GET') return 'GetObject';
      if (request.method === 'PUT') return request.headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
      if (request.method === 'DELETE') return 'DeleteObject';
      return `${request.method} object`;
    },
    handle(request, { endlessPages }) {
      const { bucket, key } = split(request.path);
      const head = request.method === 'HEAD';
      if (bucket !== state.bucket) return s3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', head);
      const operation = this.operation(request);
      switch (operation) {
        case 'GetBucketVersioning':
          return xmlReply(200, `<VersioningConfiguration xmlns="${NS}"><Status>Enabled</Status></VersioningConfiguration>`);
        case 'ListObjectsV2':
          return listObjects(state, request, endlessPages);
        case 'HeadObject':
        case 'GetObject': {
          const versionId = request.query.get('versionId');
          const versions = state.objects.get(key) ?? [];
          const version = versionId ? versions.find((v) => v.versionId === versionId) : versions.at(-1);
          if (!version) {
            return versionId
              ? s3Error(404, 'NoSuchVersion', 'The specified version does not exist.', head)
              : s3Error(404, 'NoSuchKey', 'The specified key does not exist.', head);
          }
          const headers = { ...objectHeaders(version), 'content-length': String(version.body.length) };
          return { status: 200, headers, body: head ? '' : version.body };
        }
        case 'PutObject': {
          const existing = currentVersion(state, key);
          if (request.headers['if-none-match'] === '*' && existing) {
            return s3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', false);
          }
          const ifMatch = request.headers['if-match'];
          if (ifMatch && existing?.etag !== ifMatch) {
            return s3Error(existing ? 412 : 404, existing ? 'PreconditionFailed' : 'NoSuchKey', 'Precondition failed', false);
          }
          const metadata: Record<string, string> = {};
          for (const [name, value] of Object.entries(request.headers)) {
            if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice(11)] = value;
          }
          const version = putVersion(state, key, request.body, {
            contentType: String(request.headers['content-type'] ?? 'application/octet-stream'),
            metadata,
          });
          return { status: 200, headers: { etag: version.etag, 'x-amz-version-id': version.versionId }, body: '' };
        }
        case 'CopyObject': {
          const source = decodeURIComponent(String(request.headers['x-amz-copy-source']));
          const [path = '', query = ''] = source.split('?');
          const sourceKey = path.split('/').slice(1).join('/');
          const sourceVersionId = new URLSearchParams(query).get('versionId');
          const original = (state.objects.get(sourceKey) ?? []).find((v) => !sourceVersionId || v.versionId === sourceVersionId);
          if (!original) return s3Error(404, 'NoSuchVersion', 'The specified version does not exist.', false);
          const copy = putVersion(state, key, original.body, { contentType: original.contentType, metadata: original.metadata });
          return xmlReply(
            200,
            `<CopyObjectResult><ETag>${xml(copy.etag)}</ETag><LastModified>${copy.lastModified.toISOString()}</LastModified></CopyObjectResult>`,
            { 'x-amz-version-id': copy.versionId },
          );
        }
        case 'DeleteObject': {
          const existing = currentVersion(state, key);
          const ifMatch = request.headers['if-match'];
          if (ifMatch && existing?.etag !== ifMatch) return s3Error(412, 'PreconditionFailed', 'Precondition failed', false);
          state.objects.delete(key);
          return { status: 204, body: '' };
        }
        default:
          return s3Error(501, 'NotImplemented', `The harness does not serve ${operation}`, head);
      }
    },
  };
}

function listObjects(state: WorldState, request: RequestInfo, endless: boolean): Reply {
  const prefix = request.query.get('prefix') ?? '';
  const token = request.query.get('continuation-token');
  let keys: Array<{ key: string; version: StoredVersion | undefined }>;
  let next: string | undefined;
  if (endless) {
    // The token is ignored: the same full page again, and always more to come.
    keys = Array.from({ length: ENDLESS_PAGE }, (_, i) => ({
      key: `${prefix}endless-${String(i).padStart(4, '0')}.json`,
      version: undefined,
    }));
    next = `token-${Number(token?.slice(6) ?? 0) + 1}`;
  } else {
    keys = [...state.objects.keys()]
      .filter((key) => key.startsWith(prefix))
      .sort()
      .map((key) => ({ key, version: currentVersion(state, key) }));
  }
  const contents = keys
    .map(
      ({ key, version }) =>
        `<Contents><Key>${xml(key)}</Key><LastModified>${(version?.lastModified ?? new Date(0)).toISOString()}</LastModified>` +
        `<ETag>${xml(version?.etag ?? '"0"')}</ETag><Size>${version?.body.length ?? 0}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
  return xmlReply(
    200,
    `<ListBucketResult xmlns="${NS}"><Name>${xml(state.bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount>` +
      `<MaxKeys>${PAGE}</MaxKeys><IsTruncated>${next ? 'true' : 'false'}</IsTruncated>` +
      `${token ? `<ContinuationToken>${xml(token)}</ContinuationToken>` : ''}` +
      `${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}${contents}</ListBucketResult>`,
  );
}
