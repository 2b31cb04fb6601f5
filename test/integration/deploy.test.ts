/**
 * `deploy` against the running local stack: moto S3 (versioned bucket), the MWAA control plane
 * and a real Airflow. Writes are counted at the servers (moto's request recorder, the control
 * plane's /_local/stats), not only in our code. Each run uses its own plugins/requirements keys,
 * DAG description and deployments prefix, so it starts from a clean slate; the last test puts
 * the environment back on the standard config's artifacts.
 */
import { GetEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvironmentUpdateFailedError } from '../../src/deployer/wait-environment.js';
import { dagLibrary } from '../../src/generator/render-dag-library.js';
import { acquireLock, LockHeldError } from '../../src/deployer/lock.js';
import { s3Port } from '../../src/deployer/aws-ports.js';
import { hostname } from 'node:os';
import { createMwaaCli, type CliTokenApi, cliTokenApi } from '../../src/mwaa/cli-client.js';
import type { AirflowVersion } from '../../src/mwaa/versions.js';
import type { DeployEvent } from '../../src/deployer/events.js';
import {
  MotoRecorder,
  configVariant,
  controlPlaneSet,
  controlPlaneStats,
  libDeploy,
  pluginsVariant,
  prepareLibDeploy,
  repoRoot,
  requireLocalStack,
  runCheck,
  runDeploy,
  s3Requests,
  startDeploy,
  s3Writes,
  statsDelta,
  untilEnvironmentSettled,
} from './deploy-helpers.js';
import { stackFetch, stackMwaa, stackS3 } from '../support/stack.js';

const stack = requireLocalStack();
const run = randomBytes(3).toString('hex');
const prefix = `it-${run}`;
const s3 = stackS3(stack);
const mwaa = stackMwaa(stack);
const recorder = new MotoRecorder(stack.endpoints.s3);
const lockPort = s3Port(s3);
const bucket = stack.bucket;
const deploymentsPrefix = `deployments-${prefix}`;
const DAG_KEY = 'dags/gpu_server_cicd_dag.py';

/** This run's config: own keys and prefix; `description` makes the DAG (and config) bytes unique. */
function config(description: string, extra: Record<string, unknown> = {}): string {
  return configVariant({
    'mwaa.pluginsKey': `${prefix}/plugins.zip`,
    'mwaa.requirementsKey': `${prefix}/requirements.txt`,
    'mwaa.deploymentsPrefix': deploymentsPrefix,
    'dag.description': `deploy integration test ${run}: ${description}`,
    ...extra,
  });
}

async function environment() {
  return (await mwaa.send(new GetEnvironmentCommand({ Name: stack.environmentName }))).Environment!;
}

function untilAvailable(): Promise<void> {
  return untilEnvironmentSettled(mwaa, stack.environmentName);
}

async function objectSha(key: string): Promise<string | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata?.sha256;
  } catch {
    return undefined;
  }
}

/** Count what one step does at the servers. */
async function measured<T>(step: () => Promise<T>) {
  const before = await controlPlaneStats(stack);
  await recorder.start();
  let requests: Awaited<ReturnType<MotoRecorder['stop']>> = [];
  let value: T;
  try {
    value = await step();
  } finally {
    requests = await recorder.stop();
  }
  const mwaaCalls = statsDelta(before, await controlPlaneStats(stack));
  return { value, writes: s3Writes(requests, bucket), requests: s3Requests(requests, bucket), mwaaCalls };
}

function json(stdout: string) {
  return JSON.parse(stdout) as {
    changes: number;
    writes: number;
    updatedEnvironment: boolean;
    objects: { kind: string; key: string; versionId: string }[] | undefined;
    runState: string | null;
    smoke: { ok: boolean } | null;
    exitCode: number;
  };
}

const base = config('base');

beforeAll(async () => {
  const res = await stackFetch(stack)(`${stack.endpoints.mwaa}/_local/health`);
  if (res.status !== 200) throw new Error(`control plane not healthy at ${stack.endpoints.mwaa}`);
});

afterAll(async () => {
  // Put the environment back on the standard config's artifacts for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
});

describe('deploy against the local stack', () => {
  it('first deploy uploads everything, pins plugins+requirements, waits, triggers; --wait reports success; Variables set', async () => {
    // The DAG library is named by its content: a suite before this one may have uploaded it.
    const libraryKey = `dags/${dagLibrary().package}.zip`;
    const libraryThere = (await objectSha(libraryKey)) !== undefined;
    const {
      value: out,
      writes,
      mwaaCalls,
    } = await measured(() => runDeploy(['--env', 'local', '--config', base, '--yes', '--wait', '--json', '--timeout', '8m']));
    expect(out.code, out.stderr).toBe(0);
    const result = json(out.stdout);
    expect(result.runState).toBe('success');
    expect(result.smoke?.ok).toBe(true);
    expect(writes.map((w) => w.replace(/records\/.*$/, 'records/<record>'))).toEqual([
      `PUT ${deploymentsPrefix}/lock.json`,
      `PUT ${prefix}/requirements.txt`,
      `PUT ${prefix}/plugins.zip`,
      ...(libraryThere ? [] : [`PUT ${libraryKey}`]),
      `PUT ${DAG_KEY}`,
      'PUT config/local/config.yaml',
      `PUT ${deploymentsPrefix}/records/<record>`,
      `DELETE ${deploymentsPrefix}/lock.json`,
    ]);
    expect(mwaaCalls.UpdateEnvironment).toBe(1);
    // Airflow's state came over REST; the CLI token carried the trigger alone.
    expect(mwaaCalls.Cli).toBe(1);
    expect(mwaaCalls.RestApi).toBeGreaterThan(5);
    const env = await environment();
    const versions = Object.fromEntries(result.objects!.map((o) => [o.key, o.versionId]));
    expect(env.PluginsS3Path).toBe(`${prefix}/plugins.zip`);
    expect(env.PluginsS3ObjectVersion).toBe(versions[`${prefix}/plugins.zip`]);
    expect(env.RequirementsS3ObjectVersion).toBe(versions[`${prefix}/requirements.txt`]);
    expect(env.Status).toBe('AVAILABLE');

    // The Variables hold the version file of the branch, read independently of the deployer.
    const versionYaml = parseYaml(
      execFileSync('git', ['--git-dir', stack.git.remoteUrl, 'show', `${stack.git.branch}:www/version.yaml`], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    const cli = createMwaaCli(mwaa, stack.environmentName, 'https', stack.airflowVersion as AirflowVersion, { fetch: stackFetch(stack) });
    for (const key of ['a', 'b', 'c', 'd']) {
      const got = await cli.run(['variables', 'get', key]);
      expect(got.stdout.trim(), `Variable ${key}: ${got.stderr}`).toBe(String(versionYaml[key]));
    }

    // And the runtime check compares them on its own, over REST too: no CLI request at all.
    const { value: checked, mwaaCalls: checkCalls } = await measured(() =>
      runCheck(['--env', 'local', '--config', base, '--compare-variables']),
    );
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/4 of 4 Variables match the file/);
    expect(checkCalls).toMatchObject({ Cli: 0, CreateWebLoginToken: 1, WebLogin: 1 });
    expect(checkCalls.RestApi).toBeGreaterThanOrEqual(1);
  });

  it('a second deploy with nothing changed makes zero S3 writes and no UpdateEnvironment', async () => {
    const {
      value: out,
      writes,
      requests,
      mwaaCalls,
    } = await measured(() => runDeploy(['--env', 'local', '--config', base, '--yes', '--no-trigger', '--json']));
    expect(out.code, out.stderr).toBe(0);
    expect(json(out.stdout).changes).toBe(0);
    expect(writes).toEqual([]);
    expect(mwaaCalls.UpdateEnvironment).toBe(0);
    // Reads only: the HEADs of our objects (the control plane's DAG sync lists and reads too).
    expect(requests.filter((r) => r.startsWith('HEAD ')).length).toBeGreaterThanOrEqual(4);
    const plan = await runDeploy(['--env', 'local', '--config', base, '--plan', '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/No changes/);
  });

  it('a DAG-only change makes one DAG upload and no UpdateEnvironment', async () => {
    // Self-contained: start from the base deploy (a no-op after the tests above).
    expect((await runDeploy(['--env', 'local', '--config', base, '--yes', '--no-trigger'])).code).toBe(0);
    const changed = config('dag-only change', { 'dag.retries': 2 });
    const plan = await runDeploy(['--env', 'local', '--config', changed, '--plan', '--detailed-exitcode', '--json']);
    expect(plan.code, plan.stderr).toBe(3);
    const {
      value: out,
      writes,
      mwaaCalls,
    } = await measured(() => runDeploy(['--env', 'local', '--config', changed, '--yes', '--no-trigger', '--json']));
    expect(out.code, out.stderr).toBe(0);
    expect(writes.filter((w) => w.startsWith('PUT dags/'))).toEqual([`PUT ${DAG_KEY}`]);
    expect(writes.filter((w) => w.startsWith(`PUT ${prefix}/`))).toEqual([]);
    expect(mwaaCalls.UpdateEnvironment).toBe(0);
    // Back to the base DAG for the tests that follow.
    expect((await runDeploy(['--env', 'local', '--config', base, '--yes', '--no-trigger'])).code).toBe(0);
  });

  it('a plugins change pins the new version and the DAG goes up only after AVAILABLE', async () => {
    const plugins = await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-a"\n` });
    const events: DeployEvent[] = [];
    const log: string[] = [];
    const emit = (e: DeployEvent) => {
      events.push(e);
      if (e.type === 'write-started') log.push(`write ${e.key}`);
      if (e.type === 'update-started') log.push('update');
      if (e.type === 'environment-status') log.push(`env ${e.status}`);
    };
    const { value: result, requests, mwaaCalls } = await measured(() => libDeploy({ configPath: config('plugins change'), plugins, emit }));
    expect(mwaaCalls.UpdateEnvironment).toBe(1);
    const pluginsVersion = result.applied!.objects.find((o) => o.kind === 'plugins')!.versionId;
    expect((await environment()).PluginsS3ObjectVersion).toBe(pluginsVersion);
    // Our view: the DAG write starts after the last status poll, which saw AVAILABLE.
    const dagWrite = log.indexOf(`write ${DAG_KEY}`);
    expect(
      log
        .slice(0, dagWrite)
        .filter((l) => l.startsWith('env '))
        .at(-1),
    ).toBe('env AVAILABLE');
    expect(log.indexOf('update')).toBeLessThan(dagWrite);
    // Moto's view: the control plane fetched the pinned version before our DAG PUT arrived.
    const fetched = requests.findIndex((r) => r.startsWith(`GET ${prefix}/plugins.zip?`) && r.includes(`versionId=${pluginsVersion}`));
    const dagPut = requests.indexOf(`PUT ${DAG_KEY}`);
    expect(fetched).toBeGreaterThanOrEqual(0);
    expect(fetched).toBeLessThan(dagPut);
  });

  it('a plugins.zip that breaks imports: UPDATE_FAILED with the error, DAG not uploaded, lock released', async () => {
    const good = await pluginsVariant({ name: 'deploy_it_marker.py', source: `MARK = "${run}-a"\n` });
    // Self-contained: the good plugins pinned first (a no-op after the plugins-change test).
    await libDeploy({ configPath: config('plugins change'), plugins: good });
    const broken = await pluginsVariant({ name: 'deploy_it_broken.py', source: 'raise ImportError("deploy test: broken on purpose")\n' });
    const dagBefore = await objectSha(DAG_KEY);
    const statuses: string[] = [];
    const emit = (e: DeployEvent) => {
      if (e.type === 'environment-status' && statuses.at(-1) !== e.status) statuses.push(e.status);
    };
    const error = await libDeploy({ configPath: config('broken plugins'), plugins: broken, emit }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentUpdateFailedError);
    // MWAA restores the previous version before it reports the failure.
    expect(statuses.slice(-2)).toEqual(['ROLLING_BACK', 'UPDATE_FAILED']);
    expect((error as Error).message).toMatch(
      /UPDATE_FAILED \(the last update failed and MWAA rolled it back; it is usable\).*PLUGINS_IMPORT_FAILED/s,
    );
    expect((error as Error).message).toMatch(/broken on purpose/);
    expect(await objectSha(DAG_KEY)).toBe(dagBefore);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${deploymentsPrefix}/lock.json` }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const env = await environment();
    expect(env.Status).toBe('UPDATE_FAILED');
    // UPDATE_FAILED is usable (MWAA rolled back): the next deploy goes through; its plugins are
    // the pinned ones, so it only uploads the DAG and config.
    const next = await libDeploy({ configPath: config('after broken'), plugins: good });
    expect(next.applied?.updatedEnvironment).toBe(false);
    expect(await objectSha(DAG_KEY)).toBe(next.applied!.objects.find((o) => o.kind === 'dag')!.sha256);
  });

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

  it('an expired CLI token (403) is replaced by a new one', async () => {
    // MWAA's tokens live 60 s; the control plane's are shortened for this test only.
    await controlPlaneSet(stack, 'behaviour', { cliTokenTtlMs: 3000 });
    const real = cliTokenApi(mwaa);
    let issued = 0;
    const counting: CliTokenApi = {
      async createCliToken(name) {
        issued += 1;
        return real.createCliToken(name);
      },
    };
    try {
      const cli = createMwaaCli(counting, stack.environmentName, 'https', stack.airflowVersion as AirflowVersion, {
        fetch: stackFetch(stack),
        tokenReuseMs: 10 * 60_000,
      });
      await cli.run(['version']);
      await new Promise((r) => setTimeout(r, 4000));
      const out = await cli.run(['version']);
      expect(out.stdout).toMatch(/\d+\.\d+\.\d+/);
      expect(issued).toBe(2);
      expect(cli.stats.retriesAfterAuthFailure).toBe(1);
    } finally {
      await controlPlaneSet(stack, 'behaviour', { cliTokenTtlMs: 60_000 });
    }
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
