import { describe, expect, it } from 'vitest';
import { EnvironmentUpdateFailedError, waitForAvailable } from '../../../src/deployer/wait-environment.js';
import { FakeClock, FakeMwaa } from './fakes.js';

describe('waitForAvailable', () => {
  it('follows UPDATING to AVAILABLE and reports status with elapsed time', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock);
    mwaa.updateSteps = 3;
    const requestedAtMs = clock.now();
    await mwaa.updateEnvironment('env-x', { plugins: { path: 'plugins.zip', version: 'p2' } });
    const seen: [string, number][] = [];
    const state = await waitForAvailable(
      mwaa,
      'env-x',
      { clock, timeoutMs: 600_000, pollMs: 10_000, onStatus: (s, e) => seen.push([s, e]) },
      { requestedAtMs, update: { plugins: { path: 'plugins.zip', version: 'p2' } } },
    );
    expect(state.status).toBe('AVAILABLE');
    expect(state.pins.plugins?.version).toBe('p2');
    expect(seen).toEqual([
      ['UPDATING', 0],
      ['UPDATING', 10_000],
      ['UPDATING', 20_000],
      ['AVAILABLE', 30_000],
    ]);
  });

  it('UPDATE_FAILED ends the wait with the LastUpdate error', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock);
    mwaa.failNextUpdate = 'No module named gpu_ssh_utils_broken';
    const requestedAtMs = clock.now();
    await mwaa.updateEnvironment('env-x', { plugins: { path: 'plugins.zip', version: 'p2' } });
    const error = await waitForAvailable(
      mwaa,
      'env-x',
      { clock, timeoutMs: 600_000, pollMs: 1000 },
      { requestedAtMs, update: { plugins: { path: 'plugins.zip', version: 'p2' } } },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentUpdateFailedError);
    expect((error as Error).message).toMatch(
      /went UPDATE_FAILED \(the last update failed and MWAA rolled it back; it is usable\) while applying the update.*PluginImportError: No module named gpu_ssh_utils_broken/,
    );
  });

  it('does not take a stale AVAILABLE (before the update shows) as done', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock);
    // The service has not moved yet: still AVAILABLE with the old pins and an old LastUpdate.
    mwaa.state.lastUpdate = { status: 'SUCCESS', createdAt: new Date(clock.now() - 3_600_000).toISOString() };
    let calls = 0;
    const original = mwaa.getEnvironment.bind(mwaa);
    mwaa.getEnvironment = async () => {
      calls += 1;
      if (calls === 3) await mwaa.updateEnvironment('env-x', { plugins: { path: 'plugins.zip', version: 'p2' } });
      return original();
    };
    const state = await waitForAvailable(
      mwaa,
      'env-x',
      { clock, timeoutMs: 600_000, pollMs: 1000 },
      { requestedAtMs: clock.now(), update: { plugins: { path: 'plugins.zip', version: 'p2' } } },
    );
    expect(state.pins.plugins?.version).toBe('p2');
    expect(mwaa.statusLog.slice(0, 3)).toEqual(['AVAILABLE', 'AVAILABLE', 'UPDATING']);
  });

  it('times out with advice', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock, { status: 'UPDATING' });
    await expect(waitForAvailable(mwaa, 'env-x', { clock, timeoutMs: 60_000, pollMs: 20_000 })).rejects.toThrow(
      /Timed out after 60 s waiting for environment env-x \(status UPDATING\)/,
    );
  });

  it('PENDING ends the wait at once: creation waits for VPC endpoints, not for time', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock, { status: 'PENDING' });
    const error = await waitForAvailable(mwaa, 'env-x', { clock, timeoutMs: 3_600_000, pollMs: 20_000 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^Environment env-x is PENDING \(MWAA paused its creation until the VPC endpoints it needs exist/,
    );
    expect((error as Error).message).toMatch(/Create the VPC endpoints/);
    expect(mwaa.statusLog).toEqual(['PENDING']);
    expect(clock.now()).toBe(new FakeClock().now());
  });

  it('without an update, UNAVAILABLE fails at once', async () => {
    const clock = new FakeClock();
    const mwaa = new FakeMwaa(clock, { status: 'UNAVAILABLE' });
    await expect(waitForAvailable(mwaa, 'env-x', { clock, timeoutMs: 60_000, pollMs: 20_000 })).rejects.toThrow(/UNAVAILABLE/);
  });
});
