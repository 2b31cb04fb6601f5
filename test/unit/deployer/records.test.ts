import { describe, expect, it } from 'vitest';
import { readRecord, recordFingerprint, rollbackTarget, type DeployRecord } from '../../../src/deployer/records.js';
import { UserError } from '../../../src/errors.js';
import { FakeS3 } from './fakes.js';

describe('rollbackTarget', () => {
  const rec = (sha: string): DeployRecord => ({
    formatVersion: 1,
    kind: 'deploy',
    environment: 'e',
    environmentName: 'e',
    at: 't',
    who: { user: 'u', host: 'h' },
    objects: [{ kind: 'plugins', path: 'plugins.zip', key: 'plugins.zip', sha256: sha, size: 1, versionId: `v-${sha}` }],
    pins: {},
  });
  const live = (sha: string) => recordFingerprint(rec(sha).objects);
  it('picks the newest earlier record that differs from what runs', () => {
    const records = [rec('a'), rec('b'), rec('c'), rec('c')].map((record, i) => ({ key: `k${i}`, record }));
    expect(rollbackTarget(records, live('c'))?.key).toBe('k1');
  });
  it('none when all are the same', () => {
    expect(
      rollbackTarget(
        [rec('a'), rec('a')].map((record, i) => ({ key: `k${i}`, record })),
        live('a'),
      ),
    ).toBeUndefined();
  });
});

describe('readRecord', () => {
  it.each([
    ['not JSON', '{"environment": "e", "obj'],
    ['JSON of another shape', '{"hello": "world"}'],
    ['JSON null', 'null'],
  ])('an object under records/ that is %s is named, with what to do', async (_what, text) => {
    const s3 = new FakeS3();
    await s3.putObject({ bucket: 'b', key: 'deployments/records/x.json', body: Buffer.from(text) });
    const error = await readRecord(s3, 'b', 'deployments/records/x.json').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      's3://b/deployments/records/x.json is not a deploy record (not JSON with "environment" and "objects"): ' +
        'move it out of deployments/records/, which holds only the records deploy writes.',
    );
  });
});
