import { describe, expect, it } from 'vitest';
import { acquireLock, localHolderAlive, LockHeldError } from '../../../src/deployer/lock.js';
import { FakeClock, FakeS3 } from './fakes.js';

const KEY = 'deployments/lock.json';

function options(clock: FakeClock, holder: string, pid = 1) {
  return { bucket: 'airflow-test', key: KEY, holder, pid, host: 'ci-1', now: clock.now, ttlMs: 600_000 };
}

describe('deploy lock', () => {
  it('one holder at a time; the second fails fast naming the first', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    const lock = await acquireLock(s3, options(clock, 'alice', 11));
    expect(JSON.parse(s3.text(KEY)!)).toMatchObject({ holder: 'alice', pid: 11, host: 'ci-1', expiresAt: '2026-11-26T09:10:00.000Z' });
    const error = await acquireLock(s3, options(clock, 'bob', 22)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as Error).message).toMatch(
      /held by alice \(pid 11 on ci-1\) since 2026-11-26T09:00:00.000Z; it expires at 2026-11-26T09:10:00.000Z/,
    );
    await lock.release();
    expect(s3.text(KEY)).toBeUndefined();
    const again = await acquireLock(s3, options(clock, 'bob', 22));
    expect(JSON.parse(s3.text(KEY)!).holder).toBe('bob');
    await again.release();
  });

  it('an expired lock is taken over, conditional on its ETag', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    await acquireLock(s3, options(clock, 'dead'));
    clock.ms += 600_001;
    const lock = await acquireLock(s3, options(clock, 'bob'));
    expect(lock.takenOverFrom?.holder).toBe('dead');
    expect(s3.calls.filter((c) => c.startsWith('put'))).toHaveLength(3);
  });

  it('two deploys racing for an expired lock: exactly one wins', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    await acquireLock(s3, options(clock, 'dead'));
    clock.ms += 600_001;
    const results = await Promise.allSettled([acquireLock(s3, options(clock, 'a')), acquireLock(s3, options(clock, 'b'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')[0]).toMatchObject({ reason: expect.any(LockHeldError) });
  });

  it('release leaves a lock that someone else took over alone', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    const mine = await acquireLock(s3, options(clock, 'slow'));
    clock.ms += 600_001;
    await acquireLock(s3, options(clock, 'next'));
    await mine.release();
    expect(JSON.parse(s3.text(KEY)!).holder).toBe('next');
  });
});

const HERE = { bootId: 'boot-1', pidNamespace: 'pid:[4026531836]' };

describe('dead holders', () => {
  it('a lock whose holder process is gone on this host is taken over before expiry', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    await acquireLock(s3, { ...options(clock, 'killed', 2 ** 22 + 12345), host: 'this-host', identity: HERE });
    expect(JSON.parse(s3.text(KEY)!)).toMatchObject(HERE);
    const lock = await acquireLock(s3, { ...options(clock, 'next'), host: 'this-host', holderAlive: localHolderAlive('this-host', HERE) });
    expect(lock.takenOverFrom?.holder).toBe('killed');
  });

  it('a holder in another PID namespace or boot with our host name (a container) keeps its lock until expiry', async () => {
    for (const elsewhere of [{ ...HERE, pidNamespace: 'pid:[4026532999]' }, { ...HERE, bootId: 'boot-2' }, {}]) {
      const clock = new FakeClock();
      const s3 = new FakeS3();
      await acquireLock(s3, { ...options(clock, 'container', 2 ** 22 + 12345), host: 'this-host', identity: elsewhere });
      const attempt = acquireLock(s3, { ...options(clock, 'next'), host: 'this-host', holderAlive: localHolderAlive('this-host', HERE) });
      await expect(attempt).rejects.toBeInstanceOf(LockHeldError);
    }
  });

  it('a live holder on this host keeps its lock; other hosts are judged by expiry only', async () => {
    const clock = new FakeClock();
    const s3 = new FakeS3();
    await acquireLock(s3, { ...options(clock, 'me', process.pid), host: 'this-host', identity: HERE });
    await expect(acquireLock(s3, { ...options(clock, 'x'), holderAlive: localHolderAlive('this-host', HERE) })).rejects.toBeInstanceOf(
      LockHeldError,
    );
    expect(
      localHolderAlive('this-host', HERE)({ holder: 'y', pid: 2 ** 22 + 1, host: 'other', acquiredAt: '', expiresAt: '' }),
    ).toBeUndefined();
  });
});
