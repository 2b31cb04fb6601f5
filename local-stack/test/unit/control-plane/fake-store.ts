import { createHash } from 'node:crypto';
import { ObjectMissingError, type ObjectStore } from '../../../src/control-plane/s3.js';

/** In-memory, versioned stand-in for the S3 bucket (ETag = MD5 of the body, as S3 single-part). */
export class FakeStore implements ObjectStore {
  readonly versions = new Map<string, Array<{ versionId: string; body: Buffer }>>();
  gets = 0;
  private counter = 0;

  put(key: string, body: string | Buffer): string {
    const versionId = `v${++this.counter}`;
    const list = this.versions.get(key) ?? [];
    list.push({ versionId, body: Buffer.from(body) });
    this.versions.set(key, list);
    return versionId;
  }

  delete(key: string): void {
    this.versions.delete(key);
  }

  async list(prefix: string) {
    return [...this.versions.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, list]) => {
        const body = list[list.length - 1]!.body;
        return { key, etag: createHash('md5').update(body).digest('hex'), size: body.length };
      });
  }

  async get(key: string, versionId?: string) {
    this.gets += 1;
    const list = this.versions.get(key);
    const found = versionId === undefined ? list?.[list.length - 1] : list?.find((v) => v.versionId === versionId);
    if (!found) throw new ObjectMissingError(key, versionId);
    return { body: found.body, versionId: found.versionId };
  }

  async exists(key: string, versionId?: string) {
    const list = this.versions.get(key);
    return versionId === undefined ? list !== undefined : (list?.some((v) => v.versionId === versionId) ?? false);
  }
}
