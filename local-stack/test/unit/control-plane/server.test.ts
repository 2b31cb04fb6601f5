/**
 * The HTTP surface driven by the real @aws-sdk/client-mwaa (endpoint override +
 * disableHostPrefix), with the environment's effects (S3, plugins, Airflow) replaced by fakes.
 */
import {
  AccessDeniedException,
  CreateCliTokenCommand,
  CreateWebLoginTokenCommand,
  GetEnvironmentCommand,
  type MWAAClient,
  ResourceNotFoundException,
  UpdateEnvironmentCommand,
  ValidationException,
} from '@aws-sdk/client-mwaa';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliOutput } from '../../../src/control-plane/cli-runner.js';
import { EnvironmentController } from '../../../src/control-plane/controller.js';
import type { EnvironmentRecord } from '../../../src/control-plane/environment.js';
import { PluginsRejectedError, type StagedPlugins } from '../../../src/control-plane/plugins.js';
import { PrivateWebServer } from '../../../src/control-plane/private-web-server.js';
import { createControlPlaneServer, type Behaviour } from '../../../src/control-plane/server.js';
import { TagStore } from '../../../src/control-plane/tags.js';
import { TokenStore } from '../../../src/control-plane/tokens.js';
import { FakeStore } from './fake-store.js';
import { checkAnswer, readMwaaModel, type WalkCount, type WireAnswer, wireAnswer, withUnknownOperation } from '../../support/mwaa-model.js';
import { createMwaaClient } from '../../../../src/mwaa/clients.js';
import { answerWithin } from '../../../../test/support/answer-within.js';

const NAME = 'local-env';
let dir: string;
let now: number;
let store: FakeStore;
let calls: string[];
let stageResult: (zip: Buffer) => Promise<StagedPlugins>;
let cliCalls: string[][];
let cliOutput: CliOutput;
let runCli: (argv: string[]) => Promise<CliOutput>;
let controller: EnvironmentController;
let close: () => Promise<void>;
let port: number;
let client: MWAAClient;
let counts: Record<string, number>;
let behaviour: Behaviour;
let logins: number;
let upstream: Server;
let upstreamRequests: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }[];
let line: '2' | '3';
let privateWeb: PrivateWebServer;

function freshRecord(): EnvironmentRecord {
  return {
    name: NAME,
    arn: `arn:aws:airflow:us-east-1:123456789012:environment/${NAME}`,
    status: 'AVAILABLE',
    airflowVersion: '2.10.3',
    sourceBucketArn: 'arn:aws:s3:::bucket',
    dagS3Path: 'dags',
    airflowConfigurationOptions: {},
    webserverUrl: '127.0.0.1:0',
    createdAtMs: 1_700_000_000_000,
    inertSettings: {},
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cp-server-'));
  now = 1_700_000_000_000;
  store = new FakeStore();
  calls = [];
  cliCalls = [];
  cliOutput = { stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), exitCode: 0, timedOut: false };
  runCli = async (argv) => {
    cliCalls.push(argv);
    return cliOutput;
  };
  stageResult = async (zip) => ({ releaseId: 'r1', dir: '/nowhere', modules: [zip.toString()] });
  controller = new EnvironmentController(freshRecord(), {
    store,
    plugins: {
      stage: async (zip) => {
        calls.push(`stage:${zip.toString()}`);
        return stageResult(zip);
      },
      activate: async (staged) => void calls.push(`activate:${staged.releaseId}`),
      discard: async (staged) => void calls.push(`discard:${staged.releaseId}`),
    },
    checkRequirements: async (body) => {
      calls.push(`requirements:${body.toString()}`);
      if (body.toString().includes('missing')) {
        const { RequirementsRejectedError } = await import('../../../src/control-plane/requirements.js');
        throw new RequirementsRejectedError('REQUIREMENTS_NOT_RESOLVABLE', 'missing is not installed');
      }
    },
    restartAirflow: async (changed) => void calls.push(`restart:${JSON.stringify(changed)}`),
    rollingBackMs: () => behaviour.rollingBackMs,
    sleep: async (ms) => void calls.push(`${controller.snapshot().status} for ${ms} ms`),
    now: () => now,
    persistPath: join(dir, 'environment.json'),
    onEvent: () => undefined,
  });
  const tokens = new TokenStore(60_000, () => now);
  behaviour = { webLoginDenied: false, rollingBackMs: 0, cliTokenTtlMs: 60_000, dagSyncOrder: 'listing', dagSyncHoldMs: 0 };
  logins = 0;
  line = '2';
  // Stands in for Airflow's web server / api-server behind the /api pass-through.
  upstreamRequests = [];
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      upstreamRequests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = req.url ?? '';
      // Paths that make the fake Airflow misbehave, for InvokeRestApi's limits and retries.
      if (url.includes('slow')) return void setTimeout(() => res.end('{}'), 2_000);
      if (url.includes('huge')) return void res.end(JSON.stringify({ blob: 'x'.repeat(5_000) }));
      if (url.includes('expiring') && req.headers.cookie === 'session=real-credential-1')
        return void res.writeHead(401).end('{"title":"Unauthorized"}');
      res.writeHead(url.includes('missing') ? 404 : url.includes('boom') ? 500 : 200, {
        'content-type': 'application/json',
        'set-cookie': 'other=1',
      });
      res.end(JSON.stringify({ answered: url }));
    });
  });
  await new Promise<void>((resolveListen) => upstream.listen(0, '127.0.0.1', resolveListen));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  privateWeb = new PrivateWebServer();
  await privateWeb.start();
  const built = createControlPlaneServer({
    get line() {
      return line;
    },
    controller,
    tokens,
    webTokens: new TokenStore(60_000, () => now),
    runCli: (argv) => runCli(argv),
    airflowLogin: {
      login: async () => {
        logins += 1;
        return `real-credential-${logins}`;
      },
    },
    airflowBaseUrl: () => `http://127.0.0.1:${upstreamPort}`,
    tags: new TagStore(),
    invokeRestApiLimits: { timeoutMs: 500, maxResponseBytes: 4_000 },
    behaviour,
    airflowIdentity: 'mwaa-op',
    // As control-plane.ts wires it: the listener that never answers while PRIVATE_ONLY.
    webServerHostname: () => privateWeb.hostnameFor(controller.snapshot(), `127.0.0.1:${port}`),
    extraStats: () => ({}),
    onEvent: () => undefined,
  });
  counts = built.counts;
  await new Promise<void>((resolveListen) => built.server.listen(0, '127.0.0.1', resolveListen));
  port = (built.server.address() as AddressInfo).port;
  close = async () => {
    await new Promise<void>((resolveClose) => built.server.close(() => resolveClose()));
    upstream.closeAllConnections();
    await new Promise<void>((resolveClose) => upstream.close(() => resolveClose()));
    await privateWeb.stop();
  };
  client = createMwaaClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', localStack: true });
});

afterEach(async () => {
  client.destroy();
  await close();
  rmSync(dir, { recursive: true, force: true });
});

async function statusAfterUpdate(): Promise<EnvironmentRecord> {
  await controller.idle();
  return controller.snapshot();
}

async function postCli(token: string, body: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/aws_mwaa/cli`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
    body,
  });
}

describe('MWAA REST-JSON operations through the real SDK', () => {
  it('GetEnvironment returns the environment with dates decoded', async () => {
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment).toMatchObject({
      Name: NAME,
      Status: 'AVAILABLE',
      AirflowVersion: '2.10.3',
      SourceBucketArn: 'arn:aws:s3:::bucket',
      DagS3Path: 'dags',
    });
    expect(Environment?.CreatedAt).toEqual(new Date(1_700_000_000_000));
  });

  it('unknown environments raise ResourceNotFoundException (404)', async () => {
    const error = await client.send(new GetEnvironmentCommand({ Name: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((error as Error).message).toContain('nope');
  });

  it('UpdateEnvironment pins new versions, restarts Airflow and ends AVAILABLE', async () => {
    const plugins = store.put('plugins.zip', 'zip-1');
    const requirements = store.put('requirements.txt', 'boto3');
    let release!: () => void;
    const gate = new Promise<void>((resolveGate) => (release = resolveGate));
    stageResult = async () => {
      await gate;
      return { releaseId: 'r1', dir: '/nowhere', modules: [] };
    };
    const out = await client.send(
      new UpdateEnvironmentCommand({
        Name: NAME,
        PluginsS3Path: 'plugins.zip',
        PluginsS3ObjectVersion: plugins,
        RequirementsS3Path: 'requirements.txt',
        RequirementsS3ObjectVersion: requirements,
      }),
    );
    expect(out.Arn).toContain(NAME);
    const during = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(during.Environment?.Status).toBe('UPDATING');
    expect(during.Environment?.LastUpdate?.Status).toBe('PENDING');
    release();
    const after = await statusAfterUpdate();
    expect(after.status).toBe('AVAILABLE');
    expect(calls).toEqual(['stage:zip-1', 'requirements:boto3', 'activate:r1', 'restart:{"plugins":true,"configuration":false}']);
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment).toMatchObject({
      PluginsS3Path: 'plugins.zip',
      PluginsS3ObjectVersion: plugins,
      RequirementsS3ObjectVersion: requirements,
      LastUpdate: { Status: 'SUCCESS' },
    });
  });

  it('restarts for configuration changes but not for requirements the venv already satisfies', async () => {
    const requirements = store.put('requirements.txt', 'boto3');
    await client.send(
      new UpdateEnvironmentCommand({ Name: NAME, RequirementsS3Path: 'requirements.txt', RequirementsS3ObjectVersion: requirements }),
    );
    expect((await statusAfterUpdate()).status).toBe('AVAILABLE');
    expect(calls).toEqual(['requirements:boto3']);
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, AirflowConfigurationOptions: { 'core.parallelism': '4' } }));
    expect((await statusAfterUpdate()).airflowConfigurationOptions).toEqual({ 'core.parallelism': '4' });
    expect(calls.slice(1)).toEqual(['restart:{"plugins":false,"configuration":true}']);
  });

  it('fetches exactly the pinned version, not the latest', async () => {
    const first = store.put('plugins.zip', 'zip-old');
    store.put('plugins.zip', 'zip-new');
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: first }));
    await statusAfterUpdate();
    expect(calls[0]).toBe('stage:zip-old');
  });

  it('a plugins.zip that fails its import check ends UPDATE_FAILED and keeps the old plugins', async () => {
    const good = store.put('plugins.zip', 'good');
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: good }));
    await statusAfterUpdate();
    calls = [];
    stageResult = async () => {
      throw new PluginsRejectedError('PLUGINS_IMPORT_FAILED', 'plugins.zip does not import: broken: ModuleNotFoundError');
    };
    const bad = store.put('plugins.zip', 'bad');
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: bad }));
    await statusAfterUpdate();
    expect(calls).toEqual(['stage:bad']);
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment?.Status).toBe('UPDATE_FAILED');
    expect(Environment?.PluginsS3ObjectVersion).toBe(good);
    expect(Environment?.LastUpdate?.Status).toBe('FAILED');
    expect(Environment?.LastUpdate?.Error).toEqual({
      ErrorCode: 'PLUGINS_IMPORT_FAILED',
      ErrorMessage: 'plugins.zip does not import: broken: ModuleNotFoundError',
    });
  });

  it('unsatisfied requirements fail the update and discard the staged plugins', async () => {
    const plugins = store.put('plugins.zip', 'zip');
    const requirements = store.put('requirements.txt', 'missing==1');
    await client.send(
      new UpdateEnvironmentCommand({
        Name: NAME,
        PluginsS3Path: 'plugins.zip',
        PluginsS3ObjectVersion: plugins,
        RequirementsS3Path: 'requirements.txt',
        RequirementsS3ObjectVersion: requirements,
      }),
    );
    const after = await statusAfterUpdate();
    expect(after.status).toBe('UPDATE_FAILED');
    expect(after.lastUpdate?.error?.errorCode).toBe('REQUIREMENTS_NOT_RESOLVABLE');
    expect(calls).toEqual(['stage:zip', 'requirements:missing==1', 'discard:r1']);
    expect(after.pluginsS3ObjectVersion).toBeUndefined();
  });

  it('rejects a version that does not exist with ValidationException (400) and stays AVAILABLE', async () => {
    store.put('plugins.zip', 'zip');
    const error = await client
      .send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: 'nope' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationException);
    expect((error as ValidationException).$metadata.httpStatusCode).toBe(400);
    expect(controller.snapshot().status).toBe('AVAILABLE');
  });

  it('rejects a second update while one runs', async () => {
    const v = store.put('plugins.zip', 'zip');
    let release!: () => void;
    stageResult = () => new Promise((resolveStage) => (release = () => resolveStage({ releaseId: 'r1', dir: '/x', modules: [] })));
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: v }));
    const error = await client
      .send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: v }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationException);
    await new Promise((r) => setTimeout(r, 10));
    release();
    expect((await statusAfterUpdate()).status).toBe('AVAILABLE');
    expect(counts.UpdateEnvironment).toBe(2);
  });
});

describe('CLI token and /aws_mwaa/cli', () => {
  it('runs a supported command with argv split like shlex and answers base64 stdout/stderr', async () => {
    const { CliToken, WebServerHostname } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    expect(WebServerHostname).toBe(`127.0.0.1:${port}`);
    const res = await postCli(CliToken!, `dags trigger my_dag -c '{"k": "v w"}'`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { stdout: string; stderr: string };
    expect(Buffer.from(body.stdout, 'base64').toString()).toBe('out\n');
    expect(Buffer.from(body.stderr, 'base64').toString()).toBe('err\n');
    expect(cliCalls).toEqual([['dags', 'trigger', 'my_dag', '-c', '{"k": "v w"}']]);
  });

  it('answers 200 even when the command exits non-zero (the caller reads stderr)', async () => {
    cliOutput = { stdout: Buffer.alloc(0), stderr: Buffer.from('Variable x does not exist'), exitCode: 1, timedOut: false };
    const { CliToken } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    const res = await postCli(CliToken!, 'variables get x');
    expect(res.status).toBe(200);
  });

  it("commands outside the line's table answer 500 without running anything", async () => {
    const { CliToken } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    for (const command of [
      'db reset -y',
      'scheduler',
      'users create -u x',
      'dags details d',
      'pools list',
      'connections list',
      'variables export f',
    ]) {
      expect((await postCli(CliToken!, command)).status).toBe(500);
    }
    line = '3';
    for (const command of ['tasks run d t 2024-01-01', 'dags backfill d -s 2024-01-01']) {
      expect((await postCli(CliToken!, command)).status).toBe(500);
    }
    expect(cliCalls).toEqual([]);
    // ...which Airflow 2 does run.
    line = '2';
    expect((await postCli(CliToken!, 'tasks run d t 2024-01-01')).status).toBe(200);
  });

  it('answers stdout and stderr only: no exit code, as MWAA', async () => {
    cliOutput = { stdout: Buffer.from('x'), stderr: Buffer.alloc(0), exitCode: 3, timedOut: false };
    const { CliToken } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    expect(Object.keys((await (await postCli(CliToken!, 'version')).json()) as object).sort()).toEqual(['stderr', 'stdout']);
  });

  it('counts concurrent CLI requests; the peak can be reset', async () => {
    const { CliToken } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    runCli = async () => {
      started += 1;
      await gate;
      return cliOutput;
    };
    const both = [postCli(CliToken!, 'version'), postCli(CliToken!, 'cheat-sheet')];
    while (started < 2) await new Promise((r) => setTimeout(r, 5));
    const during = (await (await fetch(`http://127.0.0.1:${port}/_local/stats`)).json()) as {
      cli: { inFlight: number; maxInFlight: number };
    };
    expect(during.cli).toEqual({ inFlight: 2, maxInFlight: 2 });
    release();
    await Promise.all(both);
    const reset = (await (await fetch(`http://127.0.0.1:${port}/_local/stats/cli-peak`, { method: 'DELETE' })).json()) as { cli: object };
    expect(reset.cli).toEqual({ inFlight: 0, maxInFlight: 0 });
  });

  it('tampered, missing and expired tokens answer 403', async () => {
    const { CliToken } = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    expect((await postCli(`${CliToken}x`, 'version')).status).toBe(403);
    const noAuth = await fetch(`http://127.0.0.1:${port}/aws_mwaa/cli`, { method: 'POST', body: 'version' });
    expect(noAuth.status).toBe(403);
    now += 59_000;
    expect((await postCli(CliToken!, 'version')).status).toBe(200);
    now += 1_000;
    expect((await postCli(CliToken!, 'version')).status).toBe(403);
    expect(cliCalls).toEqual([['version']]);
  });

  it('CreateCliToken for an unknown environment is a ResourceNotFoundException', async () => {
    await expect(client.send(new CreateCliTokenCommand({ Name: 'other' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('health answers at once and reports ready when the environment leaves CREATING', async () => {
    controller.setStatus('CREATING');
    const creating = await fetch(`http://127.0.0.1:${port}/_local/health`);
    expect(creating.status).toBe(200);
    expect(await creating.json()).toEqual({ ok: true, ready: false, status: 'CREATING' });
    controller.setStatus('AVAILABLE');
    const res = await fetch(`http://127.0.0.1:${port}/_local/health`);
    expect(await res.json()).toEqual({ ok: true, ready: true, status: 'AVAILABLE' });
  });

  it('counts requests per operation on /_local/stats', async () => {
    await client.send(new GetEnvironmentCommand({ Name: NAME }));
    await client.send(new CreateCliTokenCommand({ Name: NAME }));
    const stats = (await (await fetch(`http://127.0.0.1:${port}/_local/stats`)).json()) as {
      requests: Record<string, number>;
    };
    expect(stats.requests).toMatchObject({ GetEnvironment: 1, CreateCliToken: 1, UpdateEnvironment: 0, Cli: 0 });
  });
});

describe('web login and the REST pass-through', () => {
  async function login(path: string, token: string): Promise<Response> {
    return fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
  }

  it.each([
    ['2', '/aws_mwaa/login', 'session', '/pluginsv2/aws_mwaa/login'],
    ['3', '/pluginsv2/aws_mwaa/login', '_token', '/aws_mwaa/login'],
  ] as const)('Airflow %s: %s turns a web login token into the real Airflow credential in cookie %s', async (ln, path, cookie, other) => {
    line = ln;
    const out = await client.send(new CreateWebLoginTokenCommand({ Name: NAME }));
    expect(out).toMatchObject({ WebServerHostname: `127.0.0.1:${port}`, AirflowIdentity: 'mwaa-op' });
    expect((await login(other, out.WebToken!)).status).toBe(404);
    const res = await login(path, out.WebToken!);
    expect(res.status).toBe(302);
    expect(res.headers.getSetCookie()).toEqual([`${cookie}=real-credential-1; Path=/; HttpOnly; SameSite=Lax`]);
    // One login per token.
    expect((await login(path, out.WebToken!)).status).toBe(403);
    expect(logins).toBe(1);
    // Where the redirect lands: a client that follows it (Python requests, as MwaaHook and AWS's
    // samples do) reads the cookie from this last answer, so the landing hands it back.
    const landing = await fetch(`http://127.0.0.1:${port}${res.headers.get('location')}`, {
      headers: { cookie: `other=1; ${cookie}=real-credential-1` },
    });
    expect(landing.status).toBe(200);
    expect(landing.headers.getSetCookie()).toEqual([`${cookie}=real-credential-1; Path=/; HttpOnly; SameSite=Lax`]);
    const anonymous = await fetch(`http://127.0.0.1:${port}/`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.getSetCookie()).toEqual([]);
  });

  it('an expired or made-up token is refused without logging in to Airflow', async () => {
    const out = await client.send(new CreateWebLoginTokenCommand({ Name: NAME }));
    expect((await login('/aws_mwaa/login', 'made-up')).status).toBe(403);
    now += 60_000;
    expect((await login('/aws_mwaa/login', out.WebToken!)).status).toBe(403);
    expect(logins).toBe(0);
  });

  it('CreateWebLoginToken answers AccessDeniedException when told to (a role without airflow:CreateWebLoginToken)', async () => {
    await fetch(`http://127.0.0.1:${port}/_local/behaviour`, { method: 'POST', body: JSON.stringify({ webLoginDenied: true }) });
    const error = await client.send(new CreateWebLoginTokenCommand({ Name: NAME })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedException);
    expect((error as Error).message).toContain(`role/${NAME}/Op`);
  });

  it('/api/* goes to Airflow as sent (method, query, credential, body) and comes back as Airflow answered', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/dags/d?update_mask=is_paused`, {
      method: 'PATCH',
      headers: { Cookie: 'session=abc', 'Content-Type': 'application/json', Authorization: 'Bearer jwt' },
      body: '{"is_paused":false}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ answered: '/api/v1/dags/d?update_mask=is_paused' });
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(upstreamRequests[0]).toMatchObject({
      method: 'PATCH',
      url: '/api/v1/dags/d?update_mask=is_paused',
      body: '{"is_paused":false}',
    });
    expect(upstreamRequests[0]!.headers).toMatchObject({ cookie: 'session=abc', authorization: 'Bearer jwt' });
    expect((await fetch(`http://127.0.0.1:${port}/api/v2/missing`)).status).toBe(404);
    expect(counts.RestApi).toBe(2);
  });
});

describe('environment life', () => {
  it('a failed update passes through ROLLING_BACK before UPDATE_FAILED when told to', async () => {
    behaviour.rollingBackMs = 5000;
    stageResult = async () => {
      throw new PluginsRejectedError('PLUGINS_IMPORT_FAILED', 'broken');
    };
    const v = store.put('plugins.zip', 'bad');
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: v }));
    expect((await statusAfterUpdate()).status).toBe('UPDATE_FAILED');
    expect(calls).toEqual(['stage:bad', 'ROLLING_BACK for 5000 ms']);
    expect(controller.snapshot().lastUpdate?.error?.errorCode).toBe('PLUGINS_IMPORT_FAILED');
  });

  it.each(['MAINTENANCE', 'CREATING_SNAPSHOT'])('can be put through %s, refusing updates meanwhile, then back', async (status) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sleeps: number[] = [];
    const passing = new EnvironmentController(controller.snapshot(), {
      store,
      plugins: { stage: stageResult, activate: async () => undefined, discard: async () => undefined },
      checkRequirements: async () => undefined,
      restartAirflow: async () => undefined,
      now: () => now,
      persistPath: join(dir, 'env2.json'),
      onEvent: () => undefined,
      sleep: async (ms) => {
        sleeps.push(ms);
        await gate;
      },
    });
    passing.passThrough(status as 'MAINTENANCE', 3000);
    expect(passing.snapshot().status).toBe(status);
    await expect(passing.update(NAME, { MaxWorkers: 2 })).rejects.toThrow(new RegExp(`is ${status}`));
    release();
    await passing.idle();
    expect(passing.snapshot().status).toBe('AVAILABLE');
    expect(sleeps).toEqual([3000]);
  });

  it('/_local/status validates its input', async () => {
    const bad = await fetch(`http://127.0.0.1:${port}/_local/status`, {
      method: 'POST',
      body: JSON.stringify({ status: 'UPDATING', forMs: 1 }),
    });
    expect(bad.status).toBe(400);
  });

  it('accepts every UpdateEnvironment field MWAA documents, and reports LoggingConfiguration as GetEnvironment does', async () => {
    const body = {
      MaxWebservers: 3,
      MinWebservers: 2,
      MaxWorkers: 4,
      MinWorkers: 1,
      Schedulers: 2,
      EnvironmentClass: 'mw1.medium',
      WebserverAccessMode: 'PRIVATE_ONLY',
      WeeklyMaintenanceWindowStart: 'SUN:03:30',
      WorkerReplacementStrategy: 'GRACEFUL',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/x',
      NetworkConfiguration: { SecurityGroupIds: ['sg-1'] },
      LoggingConfiguration: { TaskLogs: { Enabled: false, LogLevel: 'INFO' }, SchedulerLogs: { Enabled: true, LogLevel: 'WARNING' } },
    };
    const res = await fetch(`http://127.0.0.1:${port}/environments/${NAME}`, { method: 'PATCH', body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    await statusAfterUpdate();
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment).toMatchObject({ MaxWorkers: 4, EnvironmentClass: 'mw1.medium', WebserverAccessMode: 'PRIVATE_ONLY' });
    expect(Environment?.LastUpdate).toMatchObject({ Status: 'SUCCESS' });
    const raw = (await (await fetch(`http://127.0.0.1:${port}/environments/${NAME}`)).json()) as { Environment: Record<string, unknown> };
    expect(raw.Environment).toMatchObject({ MaxWebservers: 3, MinWebservers: 2, LastUpdate: { WorkerReplacementStrategy: 'GRACEFUL' } });
    expect(Environment?.LoggingConfiguration?.TaskLogs).toEqual({ Enabled: false, LogLevel: 'INFO' });
    expect(Environment?.LoggingConfiguration?.SchedulerLogs).toEqual({
      Enabled: true,
      LogLevel: 'WARNING',
      CloudWatchLogGroupArn: `arn:aws:logs:us-east-1:123456789012:log-group:airflow-${NAME}-Scheduler`,
    });
  });

  it('task logging is on by default, with its CloudWatch log group', async () => {
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment?.LoggingConfiguration?.TaskLogs).toEqual({
      Enabled: true,
      LogLevel: 'INFO',
      CloudWatchLogGroupArn: `arn:aws:logs:us-east-1:123456789012:log-group:airflow-${NAME}-Task`,
    });
  });

  it.each([
    [{ WorkerReplacementStrategy: 'SOON' }, /WorkerReplacementStrategy must be one of FORCED, GRACEFUL/],
    [{ EnvironmentClass: 'mw1.huge' }, /EnvironmentClass must be one of/],
    [{ LoggingConfiguration: { TaskLogs: { Enabled: true, LogLevel: 'LOUD' } } }, /TaskLogs.LogLevel must be one of/],
    [{ LoggingConfiguration: { AuditLogs: { Enabled: true, LogLevel: 'INFO' } } }, /AuditLogs is not a log module/],
  ])('refuses %j', async (body, message) => {
    const res = await fetch(`http://127.0.0.1:${port}/environments/${NAME}`, { method: 'PATCH', body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });
});

async function invoke(body: unknown, name = NAME): Promise<WireAnswer> {
  const res = await fetch(`http://127.0.0.1:${port}/restapi/${name}`, { method: 'POST', body: JSON.stringify(body) });
  return wireAnswer('InvokeRestApi', res);
}

async function setBehaviour(body: Record<string, unknown>): Promise<void> {
  expect((await fetch(`http://127.0.0.1:${port}/_local/behaviour`, { method: 'POST', body: JSON.stringify(body) })).status).toBe(200);
}

describe('InvokeRestApi (POST /restapi/{Name}) on the wire', () => {
  it.each([
    ['2', '/api/v1', { cookie: 'session=real-credential-1' }],
    ['3', '/api/v2', { authorization: 'Bearer real-credential-1' }],
  ] as const)('Airflow %s: Path goes to %s with the stack login, query and body, and Airflow answers', async (ln, prefix, credential) => {
    line = ln;
    const answer = await invoke({
      Path: '/dags/d/dagRuns',
      Method: 'POST',
      QueryParameters: { limit: 5, state: ['queued', 'running'] },
      Body: { conf: { a: 1 } },
    });
    expect(answer).toEqual({
      operation: 'InvokeRestApi',
      status: 200,
      errorType: null,
      body: { RestApiStatusCode: 200, RestApiResponse: { answered: `${prefix}/dags/d/dagRuns?limit=5&state=queued&state=running` } },
    });
    expect(upstreamRequests).toHaveLength(1);
    expect(upstreamRequests[0]).toMatchObject({ method: 'POST', body: '{"conf":{"a":1}}' });
    expect(upstreamRequests[0]!.headers).toMatchObject({ ...credential, 'content-type': 'application/json' });
    // The login is kept: a second call logs in no more.
    await invoke({ Path: '/dags', Method: 'GET' });
    expect(logins).toBe(1);
    expect(upstreamRequests[1]).toMatchObject({ method: 'GET', url: `${prefix}/dags`, body: '' });
  });

  it("Airflow's 4xx is a RestApiClientException and its 5xx a RestApiServerException, each with Airflow's status and body (HTTP 400)", async () => {
    expect(await invoke({ Path: '/dags/missing', Method: 'GET' })).toEqual({
      operation: 'InvokeRestApi',
      status: 400,
      errorType: 'RestApiClientException',
      body: { RestApiStatusCode: 404, RestApiResponse: { answered: '/api/v1/dags/missing' } },
    });
    expect(await invoke({ Path: '/boom', Method: 'DELETE' })).toMatchObject({
      status: 400,
      errorType: 'RestApiServerException',
      body: { RestApiStatusCode: 500, RestApiResponse: { answered: '/api/v1/boom' } },
    });
  });

  it.each([
    [
      { Path: `/${'d'.repeat(64)}`, Method: 'GET' },
      "at 'path' failed to satisfy constraint: Member must have length less than or equal to 64",
    ],
    [{ Path: '', Method: 'GET' }, "at 'path' failed to satisfy constraint: Member must have length greater than or equal to 1"],
    [
      { Path: '/dags', Method: 'HEAD' },
      "Value 'HEAD' at 'method' failed to satisfy constraint: Member must satisfy enum value set: [GET, PUT, POST, PATCH, DELETE]",
    ],
    [
      {},
      "2 validation errors detected: Value 'null' at 'path' failed to satisfy constraint: Member must not be null; Value 'null' at 'method'",
    ],
    [
      { Path: '/../../auth/token', Method: 'POST' },
      "at 'path' failed to satisfy constraint: Member must be an Apache Airflow REST API path",
    ],
    [{ Path: '/dags?limit=1', Method: 'GET' }, "at 'path' failed to satisfy constraint: Member must be an Apache Airflow REST API path"],
  ])('refuses %j with ValidationException, before calling Airflow', async (body, message) => {
    const answer = await invoke(body);
    expect(answer).toMatchObject({ status: 400, errorType: 'ValidationException' });
    expect((answer.body as { message: string }).message).toContain(message);
    expect(upstreamRequests).toEqual([]);
  });

  it('an unknown environment is a ResourceNotFoundException', async () => {
    expect(await invoke({ Path: '/dags', Method: 'GET' }, 'nope')).toMatchObject({ status: 404, errorType: 'ResourceNotFoundException' });
  });

  it("when denied, answers the AccessDeniedException Apache's MwaaHook falls back on (Code, and 'Airflow role' in Message)", async () => {
    await setBehaviour({ invokeRestApiDenied: true });
    const answer = await invoke({ Path: '/dags', Method: 'GET' });
    expect(answer).toMatchObject({ status: 403, errorType: 'AccessDeniedException' });
    // hooks/mwaa.py (apache-airflow-providers-amazon 9.34.0): e.response["Error"]["Code"] == "AccessDeniedException"
    // and "Airflow role" in e.response["Error"]["Message"]; botocore reads Message from `message` or `Message`.
    expect((answer.body as { Message: string }).Message).toContain('Airflow role');
    expect(upstreamRequests).toEqual([]);
    await setBehaviour({ invokeRestApiDenied: false });
    expect((await invoke({ Path: '/dags', Method: 'GET' })).status).toBe(200);
  });

  it('an answer later than the deadline or larger than the cap is an InternalServerException (AWS: 10 s, 6 MB)', async () => {
    const started = Date.now();
    const slow = await invoke({ Path: '/slow', Method: 'GET' });
    expect(slow).toMatchObject({ status: 500, errorType: 'InternalServerException' });
    expect((slow.body as { message: string }).message).toContain('did not complete within 0.5 seconds');
    expect(Date.now() - started).toBeLessThan(1_900);
    const huge = await invoke({ Path: '/huge', Method: 'GET' });
    expect(huge).toMatchObject({ status: 500, errorType: 'InternalServerException' });
    expect((huge.body as { message: string }).message).toContain('response exceeds');
  });

  it('logs in again once when Airflow no longer takes the credential', async () => {
    expect(await invoke({ Path: '/expiring', Method: 'GET' })).toMatchObject({ status: 200, body: { RestApiStatusCode: 200 } });
    expect(logins).toBe(2);
    expect(upstreamRequests.map((r) => r.headers.cookie)).toEqual(['session=real-credential-1', 'session=real-credential-2']);
  });
});

describe("every answer as botocore's service model for MWAA describes it", () => {
  const model = withUnknownOperation(readMwaaModel());
  const arn = `arn:aws:airflow:us-east-1:123456789012:environment/${NAME}`;
  const url = (path: string): string => `http://127.0.0.1:${port}${path}`;
  const call = async (operation: string, path: string, init: RequestInit = {}): Promise<WireAnswer> =>
    wireAnswer(operation, await fetch(url(path), init));
  const json = (method: string, body: unknown): RequestInit => ({
    method,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

  it('walks the output and error shapes of every operation the stack answers', async () => {
    const answers: WireAnswer[] = [];
    const add = async (answer: Promise<WireAnswer>, expected: { status: number; errorType?: string }) => {
      const got = await answer;
      expect({ operation: got.operation, status: got.status, errorType: got.errorType }).toEqual({
        operation: got.operation,
        status: expected.status,
        errorType: expected.errorType ?? null,
      });
      answers.push(got);
    };
    const tagged = `/tags/${encodeURIComponent(arn)}`;
    // Tags, then a full update, then a failed one: GetEnvironment then carries every nested structure.
    await add(call('TagResource', tagged, json('POST', { Tags: { team: 'gpu', 'cost-center': '42' } })), { status: 200 });
    await add(call('TagResource', tagged, json('POST', { Tags: { 'bad\u0000key': 'x' } })), {
      status: 400,
      errorType: 'ValidationException',
    });
    await add(call('TagResource', `/tags/${encodeURIComponent(arn.replace(NAME, 'other'))}`, json('POST', { Tags: { a: 'b' } })), {
      status: 404,
      errorType: 'ResourceNotFoundException',
    });
    await add(call('ListTagsForResource', `/tags/${encodeURIComponent('arn:aws:s3:::bucket')}`), {
      status: 400,
      errorType: 'ValidationException',
    });
    await add(call('ListTagsForResource', tagged), { status: 200 });
    const update = {
      AirflowConfigurationOptions: { 'core.default_timezone': 'utc' },
      EnvironmentClass: 'mw1.medium',
      MaxWorkers: 4,
      MinWorkers: 2,
      MaxWebservers: 3,
      MinWebservers: 2,
      Schedulers: 3,
      WebserverAccessMode: 'PUBLIC_ONLY',
      WeeklyMaintenanceWindowStart: 'SUN:03:30',
      WorkerReplacementStrategy: 'GRACEFUL',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/x',
      NetworkConfiguration: { SecurityGroupIds: ['sg-1'] },
      LoggingConfiguration: { SchedulerLogs: { Enabled: true, LogLevel: 'WARNING' } },
    };
    await add(call('UpdateEnvironment', `/environments/${NAME}`, json('PATCH', update)), { status: 200 });
    await statusAfterUpdate();
    await add(call('GetEnvironment', `/environments/${NAME}`), { status: 200 });
    store.put('requirements.txt', 'missing-package');
    await add(call('UpdateEnvironment', `/environments/${NAME}`, json('PATCH', { RequirementsS3Path: 'requirements.txt' })), {
      status: 200,
    });
    await statusAfterUpdate();
    await add(call('GetEnvironment', `/environments/${NAME}`), { status: 200 });
    await add(call('UpdateEnvironment', `/environments/${NAME}`, json('PATCH', { MaxWorkers: 'many' })), {
      status: 400,
      errorType: 'ValidationException',
    });
    await add(call('UpdateEnvironment', '/environments/nope', json('PATCH', { MaxWorkers: 2 })), {
      status: 404,
      errorType: 'ResourceNotFoundException',
    });
    await add(call('GetEnvironment', '/environments/nope'), { status: 404, errorType: 'ResourceNotFoundException' });
    await add(call('ListEnvironments', '/environments'), { status: 200 });
    await add(call('ListEnvironments', '/environments?MaxResults=26'), { status: 400, errorType: 'ValidationException' });
    await add(call('CreateCliToken', `/clitoken/${NAME}`, { method: 'POST' }), { status: 200 });
    await add(call('CreateCliToken', '/clitoken/nope', { method: 'POST' }), { status: 404, errorType: 'ResourceNotFoundException' });
    await add(call('CreateWebLoginToken', `/webtoken/${NAME}`, { method: 'POST' }), { status: 200 });
    await add(call('CreateWebLoginToken', '/webtoken/nope', { method: 'POST' }), { status: 404, errorType: 'ResourceNotFoundException' });
    await setBehaviour({ webLoginDenied: true, invokeRestApiDenied: true });
    await add(call('CreateWebLoginToken', `/webtoken/${NAME}`, { method: 'POST' }), { status: 403, errorType: 'AccessDeniedException' });
    await add(invoke({ Path: '/dags', Method: 'GET' }), { status: 403, errorType: 'AccessDeniedException' });
    await setBehaviour({ webLoginDenied: false, invokeRestApiDenied: false });
    await add(invoke({ Path: '/dags', Method: 'GET', QueryParameters: { limit: 1 } }), { status: 200 });
    await add(invoke({ Path: '/dags/missing', Method: 'GET' }), { status: 400, errorType: 'RestApiClientException' });
    await add(invoke({ Path: '/boom', Method: 'PATCH', Body: {} }), { status: 400, errorType: 'RestApiServerException' });
    await add(invoke({ Path: '/slow', Method: 'GET' }), { status: 500, errorType: 'InternalServerException' });
    await add(invoke({ Path: `/${'x'.repeat(64)}`, Method: 'GET' }), { status: 400, errorType: 'ValidationException' });
    await add(invoke({ Path: '/dags', Method: 'GET' }, 'nope'), { status: 404, errorType: 'ResourceNotFoundException' });
    await add(call('UntagResource', `${tagged}?tagKeys=team&tagKeys=absent`, { method: 'DELETE' }), { status: 200 });
    await add(call('UntagResource', tagged, { method: 'DELETE' }), { status: 400, errorType: 'ValidationException' });
    await add(call('ListTagsForResource', tagged), { status: 200 });
    // No operation claims these: AWS answers UnknownOperationException (errors.ts).
    await add(call('GET /nope', '/nope'), { status: 404, errorType: 'UnknownOperationException' });
    await add(call('POST /environments', '/environments', { method: 'POST' }), { status: 404, errorType: 'UnknownOperationException' });

    const count: WalkCount = { members: 0 };
    const problems = answers.flatMap((answer) => checkAnswer(model, answer, count));
    // The one place our answers break the model, as AWS's own do: GetEnvironment's WebserverUrl is a
    // host name that clients put after https:// (the user guide's samples), never a URL.
    const deviation = /^GetEnvironment\.Environment\.WebserverUrl: does not match \/https:\/\/\.\+\//;
    expect(problems.filter((p) => !deviation.test(p))).toEqual([]);
    expect(problems.filter((p) => deviation.test(p))).toHaveLength(2);

    const operations = [...new Set(answers.map((a) => a.operation).filter((o) => o in model.operations))].sort();
    expect(operations).toEqual(
      [
        'CreateCliToken',
        'CreateWebLoginToken',
        'GetEnvironment',
        'InvokeRestApi',
        'ListEnvironments',
        'ListTagsForResource',
        'TagResource',
        'UntagResource',
        'UpdateEnvironment',
      ].sort(),
    );
    const errors = new Set(answers.filter((a) => a.errorType).map((a) => `${a.operation}!${a.errorType}`));
    // Tags went in, survived, and one came off: the 200s above were real behaviour, not empty answers.
    const lastTags = answers.filter((a) => a.operation === 'ListTagsForResource' && a.status === 200).at(-1)!.body;
    expect(lastTags).toEqual({ Tags: { 'cost-center': '42' } });
    const environment = (
      answers.find((a) => a.operation === 'GetEnvironment' && a.status === 200)!.body as { Environment: { Tags?: unknown } }
    ).Environment;
    expect(environment.Tags).toEqual({ team: 'gpu', 'cost-center': '42' });
    console.log(
      `model walk: ${operations.length} operations, ${answers.length} answers (${errors.size} distinct errors), ${count.members} members checked against botocore ${readMwaaModel().botocore}`,
    );
  });
});

describe('WebserverAccessMode PRIVATE_ONLY', () => {
  it('after UpdateEnvironment, GetEnvironment and both tokens name a web server that accepts and never answers; the API still answers', async () => {
    const publicHost = `127.0.0.1:${port}`;
    expect((await client.send(new GetEnvironmentCommand({ Name: NAME }))).Environment?.WebserverUrl).toBe(publicHost);
    await client.send(new UpdateEnvironmentCommand({ Name: NAME, WebserverAccessMode: 'PRIVATE_ONLY' }));
    expect((await statusAfterUpdate()).status).toBe('AVAILABLE');
    const { Environment } = await client.send(new GetEnvironmentCommand({ Name: NAME }));
    expect(Environment).toMatchObject({ WebserverAccessMode: 'PRIVATE_ONLY', WebserverUrl: privateWeb.hostname, Status: 'AVAILABLE' });
    expect(privateWeb.hostname).not.toBe(publicHost);
    const cli = await client.send(new CreateCliTokenCommand({ Name: NAME }));
    const web = await client.send(new CreateWebLoginTokenCommand({ Name: NAME }));
    expect(cli.CliToken).toBeTruthy();
    expect(web.WebToken).toBeTruthy();
    expect([cli.WebServerHostname, web.WebServerHostname]).toEqual([privateWeb.hostname, privateWeb.hostname]);
    // Connected, the request sent, and nothing back: as a private address behaves from outside its VPC.
    expect(
      await answerWithin(privateWeb.hostname, 300, 'POST /aws_mwaa/cli HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nversion'),
    ).toEqual({ connected: true, received: '' });
    expect(privateWeb.stats().accepted).toBe(1);

    await client.send(new UpdateEnvironmentCommand({ Name: NAME, WebserverAccessMode: 'PUBLIC_ONLY' }));
    await statusAfterUpdate();
    expect((await client.send(new GetEnvironmentCommand({ Name: NAME }))).Environment?.WebserverUrl).toBe(publicHost);
    expect((await client.send(new CreateCliTokenCommand({ Name: NAME }))).WebServerHostname).toBe(publicHost);
  });

  it('the /_local/behaviour switch sets the mode at once, without an update; a value MWAA does not know is refused', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/_local/behaviour`, {
      method: 'POST',
      body: JSON.stringify({ webserverAccessMode: 'PRIVATE_ONLY', rollingBackMs: 5 }),
    });
    expect(await res.json()).toMatchObject({ webserverAccessMode: 'PRIVATE_ONLY', rollingBackMs: 5 });
    expect(controller.snapshot()).toMatchObject({ status: 'AVAILABLE', inertSettings: { WebserverAccessMode: 'PRIVATE_ONLY' } });
    expect((await client.send(new GetEnvironmentCommand({ Name: NAME }))).Environment?.WebserverUrl).toBe(privateWeb.hostname);
    const bad = await fetch(`http://127.0.0.1:${port}/_local/behaviour`, {
      method: 'POST',
      body: JSON.stringify({ webserverAccessMode: 'PRIVATE', rollingBackMs: 7 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/PRIVATE_ONLY, PUBLIC_ONLY, PUBLIC_AND_PRIVATE/);
    // Nothing of a refused request is applied.
    expect(behaviour.rollingBackMs).toBe(5);
    await setBehaviour({ webserverAccessMode: 'PUBLIC_ONLY' });
    expect((await client.send(new GetEnvironmentCommand({ Name: NAME }))).Environment?.WebserverUrl).toBe(`127.0.0.1:${port}`);
  });
});
