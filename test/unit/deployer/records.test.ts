import { describe, expect, it } from 'vitest';
import { recordFingerprint, rollbackTarget, type DeployRecord } from '../../../src/deployer/records.js';

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
