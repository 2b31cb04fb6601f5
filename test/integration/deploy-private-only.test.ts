/**
 * `deploy` and `check` against the local stack with its environment PRIVATE_ONLY, set by
 * UpdateEnvironment as on MWAA: GetEnvironment's WebserverUrl (and the tokens' hostname) then lead
 * to a listener that accepts and never answers, as a private web server does from outside its VPC,
 * while the MWAA API, S3 and Secrets Manager answer. The deploy uploads and pins (counted at moto
 * and at the control plane), then its trigger gives up within its bound with one message naming
 * the access mode and --no-trigger; `deploy --no-trigger` then succeeds and `check` passes. This run
 * uses its own requirements key, deployments prefix and DAG description; afterwards the
 * environment is public again and back on the standard config's artifacts.
 */
import { CreateCliTokenCommand, CreateWebLoginTokenCommand, GetEnvironmentCommand, UpdateEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliCommand,
  configVariant,
  controlPlaneSet,
  controlPlaneStats,
  MotoRecorder,
  repoRoot,
  requireLocalStack,
  runCheck,
  runDeploy,
  s3Writes,
  statsDelta,
  untilEnvironmentSettled,
} from './deploy-helpers.js';
import { stackMwaa } from '../support/stack.js';
import { answerWithin } from '../support/answer-within.js';

const stack = requireLocalStack();
const mwaa = stackMwaa(stack);
const run = randomBytes(3).toString('hex');
const prefix = `private-${run}`;
const deploymentsPrefix = `deployments-${prefix}`;
const recorder = new MotoRecorder(stack.endpoints.s3);
const publicHost = new URL(stack.endpoints.mwaa).host;

/**
 * The bounds this run sets (README, "Limits and timeouts"). The listener completes the TCP
 * handshake and never the TLS one, which is cut by the web server request's deadline, or by Node's
 * fetch connect timeout (10 s) if sooner.
 */
const CONNECT_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 5;
const WEB_CONNECT_S = 10;
const TRIGGER_BOUND_MS = Math.min(WEB_CONNECT_S, REQUEST_TIMEOUT_S) * 1000;
/** Asking MWAA for a web login token, and the process ending, on a loaded 2-core machine. */
const SLACK_MS = 10_000;
const BOUNDS = { MWAA_GPU_CICD_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S), MWAA_GPU_CICD_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S) };

const config = configVariant({
  'mwaa.requirementsKey': `${prefix}/requirements.txt`,
  'mwaa.deploymentsPrefix': deploymentsPrefix,
  'dag.description': `PRIVATE_ONLY integration test ${run}`,
});

async function environment() {
  return (await mwaa.send(new GetEnvironmentCommand({ Name: stack.environmentName }))).Environment!;
}

function untilSettled(): Promise<void> {
  return untilEnvironmentSettled(mwaa, stack.environmentName);
}

/** `deploy` with each stderr line stamped when it arrived. */
function deployStamped(args: string[]) {
  const started = performance.now();
  const child = spawn(process.execPath, [...cliCommand(), 'deploy', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...BOUNDS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let buffer = '';
  const lines: Array<{ at: number; text: string }> = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const text of parts) lines.push({ at: performance.now(), text });
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string; lines: typeof lines; endedAt: number; started: number }>(
    (resolveRun) =>
      child.on('close', (code) => {
        if (buffer) lines.push({ at: performance.now(), text: buffer });
        resolveRun({ code, stdout, stderr: lines.map((l) => l.text).join('\n'), lines, endedAt: performance.now(), started });
      }),
  );
}

beforeAll(async () => {
  await untilSettled();
  // check reads the checkout that the DAG's run makes; when no suite ran the DAG yet, make it as
  // clone_and_checkout_repo does (a later run fetches into it) rather than wait out a whole run.
  const checkout = join(stack.workspace, 'cicd-test');
  if (!existsSync(join(checkout, '.git'))) {
    execFileSync('git', ['clone', '-q', '--branch', stack.git.branch, stack.git.remoteUrl, checkout]);
  }
  // As on MWAA: an update of the access mode (no restart: nothing Airflow reads changes).
  await mwaa.send(new UpdateEnvironmentCommand({ Name: stack.environmentName, WebserverAccessMode: 'PRIVATE_ONLY' }));
  await untilSettled();
}, 900_000);

afterAll(async () => {
  await controlPlaneSet(stack, 'behaviour', { webserverAccessMode: 'PUBLIC_ONLY' });
  await untilSettled();
  // Put the environment back on the standard config's artifacts for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
  mwaa.destroy();
}, 600_000);

describe('a PRIVATE_ONLY environment, deployed to from outside its VPC', () => {
  it('GetEnvironment and both tokens name the private web server, which accepts and never answers; the API answers', async () => {
    const env = await environment();
    expect(env).toMatchObject({ Status: 'AVAILABLE', WebserverAccessMode: 'PRIVATE_ONLY' });
    expect(env.WebserverUrl).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(env.WebserverUrl).not.toBe(publicHost);
    const cli = await mwaa.send(new CreateCliTokenCommand({ Name: stack.environmentName }));
    const web = await mwaa.send(new CreateWebLoginTokenCommand({ Name: stack.environmentName }));
    expect(cli.CliToken && web.WebToken).toBeTruthy();
    expect([cli.WebServerHostname, web.WebServerHostname]).toEqual([env.WebserverUrl, env.WebserverUrl]);
    expect(await answerWithin(env.WebserverUrl!, 1_000)).toEqual({ connected: true, received: '' });
  });

  it('deploy --plan notes that the trigger needs the VPC', async () => {
    const plan = await runDeploy(['--env', 'local', '--config', config, '--plan'], BOUNDS);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(
      /note: Environment \S+ is PRIVATE_ONLY \(WebserverAccessMode\): the trigger reaches its web server only from inside its VPC/,
    );
  });

  it('deploy uploads and pins, then its trigger gives up within its bound naming the access mode and --no-trigger', async () => {
    const privateHost = (await environment()).WebserverUrl!;
    const before = await controlPlaneStats(stack);
    await recorder.start();
    let writes: string[] = [];
    let out: Awaited<ReturnType<typeof deployStamped>>;
    try {
      out = await deployStamped(['--env', 'local', '--config', config, '--yes', '--json']);
    } finally {
      writes = s3Writes(await recorder.stop(), stack.bucket);
    }
    const calls = statsDelta(before, await controlPlaneStats(stack));
    expect(out.code, out.stderr).toBe(1);

    // The S3 and environment part happened, at the servers.
    expect(writes).toEqual(
      expect.arrayContaining([
        `PUT ${prefix}/requirements.txt`,
        'PUT dags/gpu_server_cicd_dag.py',
        `DELETE ${deploymentsPrefix}/lock.json`,
      ]),
    );
    expect(calls.UpdateEnvironment).toBe(1);
    expect(calls.CreateWebLoginToken).toBe(1);
    // Nothing reached the web server: no CLI command, no login, no REST call.
    expect([calls.Cli, calls.WebLogin, calls.RestApi]).toEqual([0, 0, 0]);
    const env = await environment();
    expect(env.Status).toBe('AVAILABLE');
    expect(env.RequirementsS3Path).toBe(`${prefix}/requirements.txt`);

    // One error document with the facts; the message on stderr is the same.
    const document = JSON.parse(out.stdout) as { ok: boolean; error: Record<string, unknown> & { message: string } };
    expect(document.ok).toBe(false);
    expect(document.error).toMatchObject({
      exitCode: 1,
      service: 'Airflow web server',
      endpoint: privateHost,
      webserverAccessMode: 'PRIVATE_ONLY',
      trigger: 'not reached',
      deploy: { environmentUpdate: 'finished', updateStatus: 'AVAILABLE', lock: { released: true } },
    });
    const written = (document.error.deploy as { written: Array<{ key: string; versionId?: string }> }).written;
    expect(written.find((w) => w.key === `${prefix}/requirements.txt`)?.versionId).toBe(env.RequirementsS3ObjectVersion);
    const message = document.error.message;
    expect(message.split('\n')[0]).toBe(
      `The trigger could not reach the Airflow web server at ${privateHost} (POST ${stack.airflowLine === '2' ? '/aws_mwaa/login' : '/pluginsv2/aws_mwaa/login'}: ` +
        `did not answer within ${REQUEST_TIMEOUT_S} s (the deadline of each request; MWAA_GPU_CICD_REQUEST_TIMEOUT changes it)).`,
    );
    expect(message).toContain("The environment's WebserverAccessMode is PRIVATE_ONLY");
    expect(message).toMatch(/The deploy itself is done: uploaded .*; the environment update finished \(AVAILABLE\);/);
    expect(message).toContain('deploy with --no-trigger');
    expect(out.stderr).toContain(message);

    // From the end of the S3 and environment part (the lock released) to the exit: one web request's bound.
    const released = out.lines.find((l) => l.text.startsWith(`lock ${deploymentsPrefix}/lock.json released`));
    expect(released, out.stderr).toBeDefined();
    const triggerMs = out.endedAt - released!.at;
    expect(triggerMs).toBeGreaterThanOrEqual(TRIGGER_BOUND_MS - 500);
    expect(triggerMs).toBeLessThan(TRIGGER_BOUND_MS + SLACK_MS);
  }, 600_000);

  it('deploy --no-trigger then succeeds with nothing left to do, and check passes', async () => {
    const again = await runDeploy(['--env', 'local', '--config', config, '--yes', '--no-trigger', '--json'], BOUNDS);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { changes: number }).changes).toBe(0);
    const check = await runCheck(['--env', 'local', '--config', config], BOUNDS);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 300_000);

  it('check --compare-variables gives the same reason for the Variables part, within its bound', async () => {
    const check = await runCheck(['--env', 'local', '--config', config, '--compare-variables', '--json'], BOUNDS);
    expect(check.code, check.stderr).toBe(1);
    const report = JSON.parse(check.stdout) as {
      servers: Array<{ checks: Array<{ name: string; ok: boolean; reason: string; ms: number }> }>;
    };
    const checks = report.servers[0]!.checks;
    expect(checks.filter((c) => c.name !== 'variables').every((c) => c.ok)).toBe(true);
    const variables = checks.find((c) => c.name === 'variables')!;
    expect(variables.ok).toBe(false);
    expect(variables.reason).toContain('WebserverAccessMode is PRIVATE_ONLY');
    expect(variables.reason).toContain('run check without --compare-variables');
    expect(variables.ms).toBeLessThan(TRIGGER_BOUND_MS + SLACK_MS);
  }, 300_000);
});
