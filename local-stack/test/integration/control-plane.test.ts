/**
 * The local MWAA control plane against the running stack (`npm run local -- up`): the real
 * @aws-sdk/client-mwaa, moto S3 and a real Airflow. DAG sync into `dags list`, a triggered run
 * that finishes, token and command checks on /aws_mwaa/cli (the line's table), the web login
 * handing out a real Airflow credential for Airflow's own REST API, an UpdateEnvironment whose
 * plugins.zip breaks imports going ROLLING_BACK then UPDATE_FAILED with the previous plugins still
 * live, and requirements checked against the constraint file as MWAA installs them.
 * The environment's pinned plugins are restored at the end, so other suites see what they left.
 */
import {
  CreateCliTokenCommand,
  CreateWebLoginTokenCommand,
  GetEnvironmentCommand,
  UpdateEnvironmentCommand,
  type Environment,
} from '@aws-sdk/client-mwaa';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStateIfPresent, stackRoot, type LocalStackState } from '../../src/state.js';
import { stackFetch, stackMwaa, stackS3 } from '../../../test/support/stack.js';
import { MWAA_AIRFLOW_VERSIONS, type AirflowVersion } from '../../../src/mwaa/versions.js';
import { airflowConstraintUrl } from '../../../src/mwaa/requirements.js';

const root = stackRoot();
const state = readStateIfPresent(root);
if (!state) throw new Error(`No local stack at ${root} (state.json missing). Run: npm run local -- up`);
const stack: LocalStackState = state;

const suffix = randomBytes(3).toString('hex');
const mwaa = stackMwaa(stack);
/** Requests to the control plane and its web server, over HTTPS with the stack's CA as clients use it. */
const fetchCp = stackFetch(stack);
const s3 = stackS3(stack);
const name = stack.environmentName;
const work = mkdtempSync(join(tmpdir(), 'cp-it-'));
const numbers: Record<string, number> = {};

interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

async function cliWithToken(token: string, hostname: string, command: string): Promise<CliResult> {
  const res = await fetchCp(`https://${hostname}/aws_mwaa/cli`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
    body: command,
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, stdout: '', stderr: text };
  const body = JSON.parse(text) as { stdout: string; stderr: string };
  return {
    status: res.status,
    stdout: Buffer.from(body.stdout, 'base64').toString('utf8'),
    stderr: Buffer.from(body.stderr, 'base64').toString('utf8'),
  };
}

async function cli(command: string): Promise<CliResult> {
  const { CliToken, WebServerHostname } = await mwaa.send(new CreateCliTokenCommand({ Name: name }));
  return cliWithToken(CliToken!, WebServerHostname!, command);
}

/** `-o json` output is the last line that parses as JSON (Airflow may log to stdout before it). */
function jsonOutput<T>(stdout: string): T | undefined {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('[') && !line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as T;
    } catch {
      // A log line such as "[2026-...] INFO ..." also starts with '['.
    }
  }
  return undefined;
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end)
      throw new Error(`${what}: not reached within ${deadlineMs / 1000} s${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function environment(): Promise<Environment> {
  const { Environment } = await mwaa.send(new GetEnvironmentCommand({ Name: name }));
  return Environment!;
}

/** Statuses seen while the last update ran. */
let seen: string[] = [];

async function waitUpdateDone(): Promise<Environment> {
  seen = [];
  return until('update finished', 180_000, async () => {
    const env = await environment();
    if (seen.at(-1) !== env.Status) seen.push(env.Status!);
    return env.Status === 'UPDATING' || env.Status === 'ROLLING_BACK' ? undefined : env;
  });
}

async function stats(): Promise<{ requests: Record<string, number>; dagSync: { intervalSeconds: number } }> {
  const res = await fetchCp(`${stack.endpoints.mwaa}/_local/stats`);
  return (await res.json()) as { requests: Record<string, number>; dagSync: { intervalSeconds: number } };
}

async function put(key: string, body: Buffer | string): Promise<string> {
  const out = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
  if (!out.VersionId) throw new Error(`bucket ${stack.bucket} returned no VersionId: is versioning enabled?`);
  return out.VersionId;
}

/** Zip built by the venv's Python: `base` (an existing zip's entries) plus `files`. */
function zip(files: Record<string, string>, base?: Buffer): Buffer {
  const out = join(work, `z-${randomBytes(4).toString('hex')}.zip`);
  const basePath = join(work, `b-${randomBytes(4).toString('hex')}.zip`);
  if (base) writeFileSync(basePath, base);
  execFileSync(join(stack.venvBin, 'python'), [
    '-c',
    [
      'import json, os, sys, zipfile',
      'with zipfile.ZipFile(sys.argv[1], "w") as out:',
      '    if os.path.exists(sys.argv[3]):',
      '        with zipfile.ZipFile(sys.argv[3]) as base:',
      '            for info in base.infolist(): out.writestr(info, base.read(info))',
      '    for k, v in json.loads(sys.argv[2]).items(): out.writestr(k, v)',
    ].join('\n'),
    out,
    JSON.stringify(files),
    basePath,
  ]);
  return readFileSync(out);
}

function livePlugins(): Record<string, string> {
  const dir = join(stack.airflowHome, 'plugins');
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.parentPath.includes('__pycache__')) {
      const full = join(entry.parentPath, entry.name);
      out[full.slice(dir.length + 1)] = readFileSync(full, 'utf8');
    }
  }
  return out;
}

let original: Environment;

beforeAll(async () => {
  original = await until('environment usable', 120_000, async () => {
    const env = await environment();
    return env.Status === 'AVAILABLE' || env.Status === 'UPDATE_FAILED' ? env : undefined;
  });
});

afterAll(async () => {
  // Put back the plugins pinned before this suite (or re-apply the current ones when none were),
  // so later suites find the environment AVAILABLE with the plugins they expect.
  const now = await environment().catch(() => undefined);
  const target = original.PluginsS3Path ? original : now;
  if (now && target?.PluginsS3Path) {
    await mwaa.send(
      new UpdateEnvironmentCommand({
        Name: name,
        PluginsS3Path: target.PluginsS3Path,
        PluginsS3ObjectVersion: target.PluginsS3ObjectVersion,
      }),
    );
    await waitUpdateDone();
  }
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(`control-plane numbers: ${JSON.stringify(numbers)}\n`);
  mwaa.destroy();
  s3.destroy();
});

describe('control plane on the running stack', () => {
  it('GetEnvironment describes the environment through the real SDK', async () => {
    const env = await environment();
    expect(env).toMatchObject({
      Name: name,
      AirflowVersion: stack.airflowVersion,
      SourceBucketArn: `arn:aws:s3:::${stack.bucket}`,
      DagS3Path: 'dags',
    });
    expect(env.WebserverUrl).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  const dagId = `cp_it_${suffix}`;
  const dagKey = `dags/${dagId}.py`;

  it('a DAG file put under dags/ shows up in `dags list` within the sync interval', async () => {
    const interval = (await stats()).dagSync.intervalSeconds;
    const source = [
      'try:',
      '    from airflow.sdk import dag, task',
      'except ImportError:',
      '    from airflow.decorators import dag, task',
      'import datetime',
      '',
      `@dag(dag_id="${dagId}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, tags=["control-plane-test"])`,
      'def build():',
      '    @task',
      '    def hello(**context):',
      '        return "hello"',
      '    hello()',
      '',
      'build()',
      '',
    ].join('\n');
    const t0 = Date.now();
    await put(dagKey, source);
    await until(`${dagId} in dags list`, interval * 1000 + 60_000, async () => {
      const out = await cli('dags list -o json');
      const dags = jsonOutput<Array<{ dag_id: string }>>(out.stdout) ?? [];
      return dags.some((d) => d.dag_id === dagId) ? true : undefined;
    });
    numbers.dagVisibleInListMs = Date.now() - t0;
    numbers.syncIntervalSeconds = interval;
    expect(readFileSync(join(stack.airflowHome, 'dags', `${dagId}.py`), 'utf8')).toBe(source);
  });

  it('a run triggered through the endpoint finishes successfully', async () => {
    // The scheduler must have stored the new DAG before unpause/trigger accept it.
    const t0 = Date.now();
    await until('unpause accepted', 180_000, async () => {
      const out = await cli(`dags unpause ${dagId} -o json`);
      const rows = jsonOutput<Array<{ dag_id: string }>>(out.stdout);
      // Airflow answers "No paused DAGs were found" when the DAG is already unpaused.
      return rows?.some((r) => r.dag_id === dagId) || /No paused DAGs were found/.test(out.stdout) ? true : undefined;
    });
    const triggered = await until('trigger accepted', 120_000, async () => {
      const out = await cli(`dags trigger ${dagId} -c '{"source": "control-plane test"}' -o json`);
      return jsonOutput<Array<{ dag_run_id: string }>>(out.stdout)?.[0];
    });
    const tTrigger = Date.now();
    numbers.dagReadyForTriggerMs = tTrigger - t0;
    const listRuns = stack.airflowLine === '3' ? `dags list-runs ${dagId} -o json` : `dags list-runs -d ${dagId} -o json`;
    const finalState = await until('run finished', 300_000, async () => {
      const out = await cli(listRuns);
      const runs = jsonOutput<Array<{ run_id: string; state: string }>>(out.stdout) ?? [];
      const run = runs.find((r) => r.run_id === triggered.dag_run_id);
      return run && (run.state === 'success' || run.state === 'failed') ? run.state : undefined;
    });
    numbers.triggerToFinishedMs = Date.now() - tTrigger;
    expect(finalState).toBe('success');
  });

  it('a DAG file deleted from S3 leaves the dags folder', async () => {
    const interval = (await stats()).dagSync.intervalSeconds;
    const t0 = Date.now();
    await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: dagKey }));
    await until('dag file removed', interval * 1000 + 30_000, async () =>
      existsSync(join(stack.airflowHome, 'dags', `${dagId}.py`)) ? undefined : true,
    );
    numbers.deleteSyncedMs = Date.now() - t0;
  });

  it("a tampered token gets 403, and a command outside the line's table 500", async () => {
    const { CliToken, WebServerHostname } = await mwaa.send(new CreateCliTokenCommand({ Name: name }));
    const tampered = `${CliToken!.slice(0, -2)}${CliToken!.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await cliWithToken(tampered, WebServerHostname!, 'version')).status).toBe(403);
    const unlisted = ['db reset -y', 'dags details x', 'pools list', 'connections list', 'variables export /tmp/v.json'];
    if (stack.airflowLine === '3') unlisted.push('dags backfill x -s 2024-01-01', 'tasks run x t 2024-01-01');
    for (const command of unlisted) expect((await cliWithToken(CliToken!, WebServerHostname!, command)).status, command).toBe(500);
    const version = await cliWithToken(CliToken!, WebServerHostname!, 'version');
    expect(version.status).toBe(200);
    expect(version.stdout).toContain(stack.airflowVersion);
  });

  it('UpdateEnvironment with a plugins.zip that breaks imports ends UPDATE_FAILED, the previous plugins live', async () => {
    const before = (await stats()).requests.UpdateEnvironment ?? 0;
    // A known-good release first: the current plugins (if any) plus a probe module.
    let base: Buffer | undefined;
    if (original.PluginsS3Path) {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: stack.bucket, Key: original.PluginsS3Path, VersionId: original.PluginsS3ObjectVersion }),
      );
      base = Buffer.from(await object.Body!.transformToByteArray());
    }
    const probe = `cp_it_probe_${suffix}`;
    const goodVersion = await put(`cp-it/plugins-good.zip`, zip({ [`${probe}.py`]: 'VALUE = "good"\n' }, base));
    const t0 = Date.now();
    await mwaa.send(
      new UpdateEnvironmentCommand({ Name: name, PluginsS3Path: 'cp-it/plugins-good.zip', PluginsS3ObjectVersion: goodVersion }),
    );
    const good = await waitUpdateDone();
    numbers.goodPluginsUpdateMs = Date.now() - t0;
    expect(good.Status).toBe('AVAILABLE');
    expect(good.LastUpdate?.Status).toBe('SUCCESS');
    expect(good.PluginsS3ObjectVersion).toBe(goodVersion);
    const liveBefore = livePlugins();
    expect(liveBefore[`${probe}.py`]).toBe('VALUE = "good"\n');

    const badVersion = await put(
      `cp-it/plugins-broken.zip`,
      zip({ [`${probe}.py`]: 'VALUE = "bad"\n', [`${probe}_broken.py`]: 'import module_that_does_not_exist_anywhere\n' }, base),
    );
    const t1 = Date.now();
    await mwaa.send(
      new UpdateEnvironmentCommand({ Name: name, PluginsS3Path: 'cp-it/plugins-broken.zip', PluginsS3ObjectVersion: badVersion }),
    );
    const failed = await waitUpdateDone();
    numbers.brokenPluginsUpdateMs = Date.now() - t1;
    expect(seen).toContain('ROLLING_BACK');
    expect(seen.at(-1)).toBe('UPDATE_FAILED');
    expect(failed.Status).toBe('UPDATE_FAILED');
    expect(failed.LastUpdate?.Status).toBe('FAILED');
    expect(failed.LastUpdate?.Error?.ErrorCode).toBe('PLUGINS_IMPORT_FAILED');
    expect(failed.LastUpdate?.Error?.ErrorMessage).toContain('module_that_does_not_exist_anywhere');
    expect(failed.PluginsS3Path).toBe('cp-it/plugins-good.zip');
    expect(failed.PluginsS3ObjectVersion).toBe(goodVersion);
    expect(livePlugins()).toEqual(liveBefore);
    // The probe is importable from Airflow's plugins folder by the venv's Python.
    const value = execFileSync(
      join(stack.venvBin, 'python'),
      ['-c', `import sys; sys.path.insert(0, sys.argv[1]); import ${probe}; print(${probe}.VALUE)`, join(stack.airflowHome, 'plugins')],
      { encoding: 'utf8' },
    );
    expect(value.trim()).toBe('good');
    expect((await stats()).requests.UpdateEnvironment).toBe(before + 2);
  });

  const python = MWAA_AIRFLOW_VERSIONS[stack.airflowVersion as AirflowVersion];
  const constraint = (airflow: string, py: string) =>
    `--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${airflow}/constraints-${py}.txt"\n`;

  it.each([
    [
      'a package pip cannot resolve',
      `${constraint(stack.airflowVersion, python)}boto3\nnot-a-real-package-cp-it==9.9.9\n`,
      'REQUIREMENTS_NOT_RESOLVABLE',
      /not-a-real-package-cp-it/,
    ],
    [
      'a version the constraint file rules out',
      `${constraint(stack.airflowVersion, python)}paramiko==2.0.0\n`,
      'REQUIREMENTS_NOT_RESOLVABLE',
      /paramiko/,
    ],
    [
      'the constraint file of another Airflow',
      `${constraint('2.10.3', '3.11')}paramiko\n`,
      'REQUIREMENTS_CONSTRAINT_MISMATCH',
      /for Airflow 2\.10\.3 on Python 3\.11/,
    ],
    [
      'the constraint file of another Python',
      `${constraint(stack.airflowVersion, '3.9')}paramiko\n`,
      'REQUIREMENTS_CONSTRAINT_MISMATCH',
      /on Python 3\.9, but/,
    ],
    [
      'the constraint file of another Airflow written -c<URL>, which pip reads and MWAA does not see',
      `-c${airflowConstraintUrl('2.10.3', '3.11')}\nparamiko\n`,
      'REQUIREMENTS_CONSTRAINT_MISMATCH',
      /for Airflow 2\.10\.3 on Python 3\.11/,
    ],
  ])('requirements.txt with %s fail the update and change nothing', async (_what, text, code, message) => {
    const pinned = await environment();
    const version = await put('cp-it/requirements-bad.txt', text);
    await mwaa.send(
      new UpdateEnvironmentCommand({ Name: name, RequirementsS3Path: 'cp-it/requirements-bad.txt', RequirementsS3ObjectVersion: version }),
    );
    const failed = await waitUpdateDone();
    expect(failed.Status).toBe('UPDATE_FAILED');
    expect(failed.LastUpdate?.Error?.ErrorCode).toBe(code);
    expect(failed.LastUpdate?.Error?.ErrorMessage).toMatch(message);
    expect(failed.RequirementsS3ObjectVersion).toBe(pinned.RequirementsS3ObjectVersion);
  });

  it("requirements pip resolves under the line's constraint file (or none: MWAA adds it) update the environment", async () => {
    // -c<URL> is not what MWAA looks for: it adds its own constraint file, and pip applies both.
    const unseen = `-c${airflowConstraintUrl(stack.airflowVersion, python)}\nparamiko\n`;
    for (const text of [`${constraint(stack.airflowVersion, python)}boto3\nparamiko\n`, 'pyyaml\n', unseen]) {
      const version = await put('cp-it/requirements-good.txt', text);
      await mwaa.send(
        new UpdateEnvironmentCommand({
          Name: name,
          RequirementsS3Path: 'cp-it/requirements-good.txt',
          RequirementsS3ObjectVersion: version,
        }),
      );
      const done = await waitUpdateDone();
      expect(done.Status, done.LastUpdate?.Error?.ErrorMessage).toBe('AVAILABLE');
      expect(done.RequirementsS3ObjectVersion).toBe(version);
    }
  });

  it("a web login token becomes a real Airflow credential, and /api answers are Airflow's own", async () => {
    const api = stack.airflowLine === '2' ? '/api/v1' : '/api/v2';
    const login = stack.airflowLine === '2' ? '/aws_mwaa/login' : '/pluginsv2/aws_mwaa/login';
    const cookie = stack.airflowLine === '2' ? 'session' : '_token';
    await fetchCp(`${stack.endpoints.mwaa}/_local/behaviour`, { method: 'POST', body: JSON.stringify({ webLoginDenied: false }) });
    const { WebToken, WebServerHostname, AirflowIdentity } = await mwaa.send(new CreateWebLoginTokenCommand({ Name: name }));
    expect(AirflowIdentity).toBe('mwaa-op');
    const form = { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' as const };
    const res = await fetchCp(`https://${WebServerHostname}${login}`, { ...form, body: `token=${encodeURIComponent(WebToken!)}` });
    expect(res.status).toBe(302);
    const credential = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith(`${cookie}=`))!
      .slice(cookie.length + 1);
    const auth: Record<string, string> =
      stack.airflowLine === '2' ? { Cookie: `session=${credential}` } : { Authorization: `Bearer ${credential}` };
    const dags = await fetchCp(`https://${WebServerHostname}${api}/dags?limit=1`, { headers: auth });
    expect(dags.status).toBe(200);
    expect(await dags.json()).toHaveProperty('total_entries');
    // Op may read Variables (what the runtime check compares).
    expect((await fetchCp(`https://${WebServerHostname}${api}/variables?limit=1`, { headers: auth })).status).toBe(200);
    // Airflow itself refuses a request without the credential.
    expect([401, 403]).toContain((await fetchCp(`https://${WebServerHostname}${api}/dags?limit=1`)).status);
    // A web login token serves one login.
    expect(
      (await fetchCp(`https://${WebServerHostname}${login}`, { ...form, body: `token=${encodeURIComponent(WebToken!)}` })).status,
    ).toBe(403);
  });

  it('many web logins at once each get a credential, as on MWAA (no login rate limit)', async () => {
    const login = stack.airflowLine === '2' ? '/aws_mwaa/login' : '/pluginsv2/aws_mwaa/login';
    const form = { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' as const };
    // More than Flask-AppBuilder's form allows (5 per 40 s), within a second or two.
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { WebToken, WebServerHostname } = await mwaa.send(new CreateWebLoginTokenCommand({ Name: name }));
        return (await fetchCp(`https://${WebServerHostname}${login}`, { ...form, body: `token=${encodeURIComponent(WebToken!)}` })).status;
      }),
    );
    expect(statuses).toEqual(Array(8).fill(302));
  });
});
