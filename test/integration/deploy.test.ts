/**
 * `deploy` against the running local stack, what depends on the Airflow line: moto S3 (versioned
 * bucket), the MWAA control plane and a real Airflow that parses the DAG, loads the plugins and runs
 * the run. Writes are counted at the servers (moto's request recorder, the control plane's
 * /_local/stats), not only in our code. The deployer's locks, refusals, interrupted deploys and
 * rollback, the same on both lines, are deploy-convergence.test.ts's.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/deployer/clock.js';
import { waitForRun } from '../../src/deployer/dag-run.js';
import { EnvironmentUpdateFailedError } from '../../src/deployer/wait-environment.js';
import { dagLibrary } from '../../src/generator/render-dag-library.js';
import { createMwaaCli, type CliTokenApi, cliTokenApi } from '../../src/mwaa/cli-client.js';
import type { AirflowVersion } from '../../src/mwaa/versions.js';
import type { DeployEvent } from '../../src/deployer/events.js';
import { controlPlaneSet, libDeploy, pluginsVariant, runCheck, runDeploy } from './deploy-helpers.js';
import { DAG_ID, DAG_KEY, deployJson as json, deployTestRun } from './deploy-run.js';
import { stackAirflowApi, stackFetch } from '../support/stack.js';

const { stack, run, prefix, s3, mwaa, bucket, deploymentsPrefix, config, environment, objectSha, measured } = deployTestRun();
const base = config('base');

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

  it("a run triggered right after the DAG's shape changed runs the new shape, while a run of the old one still goes", async () => {
    // Run A, of the base DAG, keeps the scheduler reading (and caching) that DAG while the new
    // shape goes up: Airflow 2's scheduler reads a changed DAG again only 10 s after its last read,
    // and a run scheduled from the older copy would have the new task marked removed.
    const first = await runDeploy(['--env', 'local', '--config', base, '--yes', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const runA = json(first.stdout).runId!;
    // check_gpus is new in this shape; two runs may be active, so run B does not wait for A.
    const shaped = config('shape change', { gpus: { count: 1 }, 'dag.maxActiveRuns': 2 });
    const out = await runDeploy(['--env', 'local', '--config', shaped, '--yes', '--wait', '--json', '--timeout', '8m']);
    const result = json(out.stdout);
    const tasks = result.tasks ?? [];
    expect(
      tasks.filter((t) => t.state === 'removed'),
      out.stdout,
    ).toEqual([]);
    const checkGpus = tasks.filter((t) => t.taskId === 'check_gpus');
    expect(checkGpus.length, out.stdout).toBeGreaterThan(0);
    // The stack's server has no nvidia-smi: the new task ran, and failed as it should there.
    expect(checkGpus.map((t) => t.state)).toEqual(checkGpus.map(() => 'failed'));
    expect(result.runState).toBe('failed');

    // Run A ends before the base DAG (one active run) is back, or it would hold the next runs up.
    await waitForRun(stackAirflowApi(stack), {
      dagId: DAG_ID,
      runId: runA,
      clock: systemClock,
      timeoutMs: 8 * 60_000,
      pollMs: 3000,
      emit: () => {},
    });
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
});
