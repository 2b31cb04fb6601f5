/**
 * `deploy`'s locking, refusals, interrupted deploys and rollback against the running local stack:
 * the deployer and the control plane's MWAA state machine, the same whichever Airflow the stack
 * runs, so npm test runs this file on one line (scripts/test-all.mjs); deploy.test.ts is what
 * depends on the line. Writes are counted at the servers (moto's request recorder, the control
 * plane's /_local/stats).
 */
import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, LockHeldError } from '../../src/deployer/lock.js';
import {
  controlPlaneStats,
  libDeploy,
  pluginsVariant,
  prepareLibDeploy,
  repoRoot,
  runDeploy,
  startDeploy,
  statsDelta,
} from './deploy-helpers.js';
import { deployJson as json, deployTestRun } from './deploy-run.js';

const { stack, run, prefix, s3, mwaa, lockPort, bucket, deploymentsPrefix, config, environment, untilAvailable, measured } =
  deployTestRun();
const base = config('base');

describe('deploy: locks, refusals, interrupted deploys and rollback', () => {
  describe('refusals', () => {
    it('Airflow version mismatch', async () => {
      await expect(libDeploy({ configPath: base, settings: { airflowVersion: '2.9.2' } })).rejects.toThrow(
        new RegExp(`runs Airflow ${stack.airflowVersion.replace(/\./g, '\\.')} but the config targets 2\\.9\\.2`),
      );
    });

    it('bucket versioning not Enabled names the command that enables it', async () => {
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      try {
        const out = await runDeploy(['--env', 'local', '--config', base, '--yes', '--no-trigger']);
        expect(out.code).toBe(1);
        // The plan shows the refusal with its fix once; the error only says the deploy was refused.
        expect(out.stdout).toContain(`REFUSED: Bucket ${bucket} has versioning Suspended`);
        expect(out.stdout).toContain(`aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`);
        expect(out.stderr).toContain('Deploy refused (bucket versioning); nothing was changed.');
      } finally {
        await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      }
    });

    it('environment not AVAILABLE, unless told to wait for it', async () => {
      // Everything prepared first, so the environment is read right after the update starts.
      const busy = await prepareLibDeploy({ configPath: config('busy') });
      const busyButWaiting = await prepareLibDeploy({ configPath: config('busy'), options: { waitForAvailable: true } });
      const env = await environment();
      // Re-pin the current plugins: a real update, briefly UPDATING.
      const { UpdateEnvironmentCommand } = await import('@aws-sdk/client-mwaa');
      await mwaa.send(
        new UpdateEnvironmentCommand({
          Name: stack.environmentName,
          PluginsS3Path: env.PluginsS3Path,
          PluginsS3ObjectVersion: env.PluginsS3ObjectVersion,
        }),
      );
      await expect(busy()).rejects.toThrow(/is UPDATING .*, not AVAILABLE/);
      await untilAvailable();
      await mwaa.send(
        new UpdateEnvironmentCommand({
          Name: stack.environmentName,
          PluginsS3Path: env.PluginsS3Path,
          PluginsS3ObjectVersion: env.PluginsS3ObjectVersion,
        }),
      );
      await busyButWaiting();
      expect((await environment()).Status).toBe('AVAILABLE');
    });
  });

  it('a deploy fails fast naming the holder while another holds the lock', async () => {
    const changed = config('lock held');
    const held = await acquireLock(lockPort, {
      bucket,
      key: `${deploymentsPrefix}/lock.json`,
      holder: 'other-operator',
      pid: process.pid,
      host: hostname(),
      now: Date.now,
      ttlMs: 600_000,
    });
    try {
      const started = Date.now();
      const error = await libDeploy({ configPath: changed }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockHeldError);
      expect(String((error as Error).message)).toMatch(/held by other-operator \(pid \d+ on /);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await held.release();
    }
  });

  it('concurrent deploys: exactly one applies the change; the other is refused or finds nothing left to do', async () => {
    const changed = config('concurrent');
    const results = await Promise.allSettled([libDeploy({ configPath: changed }), libDeploy({ configPath: changed })]);
    const uploads = results.map((r) => (r.status === 'fulfilled' ? (r.value.applied?.writes ?? 0) : 0));
    expect(uploads.filter((n) => n > 0)).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(LockHeldError);
    }
  });

  it('a deploy killed with SIGKILL mid-upload converges when run again, with no extra update', async () => {
    const changedConfig = config('sigkill');
    const source = `MARK = "${run}-sigkill"\n`;
    const before = await controlPlaneStats(stack);
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/integration/deploy-child.ts'), changedConfig, source], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let killedAt = '';
    await new Promise<void>((resolveKill, reject) => {
      let buffer = '';
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        for (const line of buffer.split('\n').slice(0, -1)) {
          const event = JSON.parse(line) as { type: string; key?: string };
          if (event.type === 'write-started' && event.key === `${prefix}/plugins.zip` && !killedAt) {
            killedAt = line;
            child.kill('SIGKILL');
          }
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      });
      child.on('close', (_code, signal) =>
        signal === 'SIGKILL' ? resolveKill() : reject(new Error(`child ended without SIGKILL (${signal})`)),
      );
    });
    expect(killedAt).not.toBe('');
    // The dead deploy's lock is still there; the rerun takes it over (its pid is gone).
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${deploymentsPrefix}/lock.json` }));
    const { value: out, writes } = await measured(
      () =>
        new Promise<{ code: number | null; stdout: string }>((resolveRun) => {
          const again = spawn(
            process.execPath,
            ['--import', 'tsx', join(repoRoot, 'test/integration/deploy-child.ts'), changedConfig, source],
            { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let stdout = '';
          again.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          again.on('close', (code) => resolveRun({ code, stdout }));
        }),
    );
    expect(out.code, out.stdout).toBe(0);
    expect(out.stdout).toMatch(/"type":"lock-acquired".*"takenOverFrom"/);
    expect(writes.filter((w) => w === `PUT ${prefix}/plugins.zip`).length).toBeLessThanOrEqual(1);
    const after = await controlPlaneStats(stack);
    expect(statsDelta(before, after).UpdateEnvironment).toBe(1);
    const again = await libDeploy({ configPath: changedConfig, plugins: await pluginsVariant({ name: 'deploy_it_marker.py', source }) });
    expect(again.plan.changes).toBe(0);
  });

  it('SIGTERM during the environment update releases the lock and exits 143; a rerun converges', async () => {
    const cfg = config('sigterm');
    await libDeploy({
      configPath: cfg,
      plugins: await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-term-a"\n` }),
    });
    await libDeploy({
      configPath: cfg,
      plugins: await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-term-b"\n` }),
    });
    // A rollback through the CLI: copy + UpdateEnvironment + wait, with the lock held throughout.
    const started = startDeploy(['--env', 'local', '--config', cfg, '--rollback', '--yes', '--no-trigger']);
    await new Promise<void>((resolveSeen, reject) => {
      const timer = setInterval(() => {
        if (started.output().stderr.includes('UpdateEnvironment ')) {
          clearInterval(timer);
          started.child.kill('SIGTERM');
          resolveSeen();
        }
      }, 20);
      started.done.then(() => {
        clearInterval(timer);
        reject(new Error(`deploy ended before the update started:\n${started.output().stderr}`));
      }, reject);
    });
    const out = await started.done;
    // The deploy exits 143 (128 + SIGTERM) once the lock is released.
    expect(out.code, out.stderr).toBe(143);
    expect(out.stderr).toMatch(/SIGTERM: releasing the deploy lock/);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${deploymentsPrefix}/lock.json` }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    await untilAvailable();
    const again = await runDeploy(['--env', 'local', '--config', cfg, '--rollback', '--yes', '--no-trigger', '--json']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('rollback restores the previous plugins version', async () => {
    const pluginsA = await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-rollback-a"\n` });
    const pluginsB = await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-rollback-b"\n` });
    const cfg = config('rollback');
    const first = await libDeploy({ configPath: cfg, plugins: pluginsA });
    const versionA = first.applied!.objects.find((o) => o.kind === 'plugins')!.versionId!;
    await libDeploy({ configPath: cfg, plugins: pluginsB });
    const {
      value: rolled,
      writes,
      mwaaCalls,
    } = await measured(() => runDeploy(['--env', 'local', '--config', cfg, '--rollback', '--yes', '--no-trigger', '--json']));
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(writes).toContain(`PUT ${prefix}/plugins.zip`); // CopyObject is a PUT with x-amz-copy-source
    expect(mwaaCalls.UpdateEnvironment).toBe(1);
    const env = await environment();
    const current = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/plugins.zip`, VersionId: env.PluginsS3ObjectVersion }),
    );
    expect(Buffer.from(await current.Body!.transformToByteArray()).equals(pluginsA)).toBe(true);
    expect(env.PluginsS3ObjectVersion).not.toBe(versionA); // a copy made current, then pinned
    expect(json(rolled.stdout).objects?.find((o) => o.kind === 'plugins')?.versionId).toBe(env.PluginsS3ObjectVersion);
  });
});
