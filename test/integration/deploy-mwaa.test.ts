/**
 * `deploy` and `check` against the running local stack where MWAA's own behaviour decides the
 * outcome: a trigger Airflow refuses, a run that fails in its first task, task logging on and off,
 * a denied web login (the listed CLI commands take over, one request at a time), and the statuses
 * MWAA passes through on its own (MAINTENANCE, CREATING_SNAPSHOT). The real CLI, as users run it.
 */
import { type Environment, GetEnvironmentCommand, UpdateEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { stackMwaa } from '../support/stack.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneSet, controlPlaneStats, requireLocalStack, resetCliPeak, runDeploy, statsDelta } from './deploy-helpers.js';

const stack = requireLocalStack();
const mwaa = stackMwaa(stack);
const TASK_LOG_GROUP = `arn:aws:logs:${stack.region}:123456789012:log-group:airflow-${stack.environmentName}-Task`;

async function setTaskLogging(enabled: boolean): Promise<void> {
  await mwaa.send(
    new UpdateEnvironmentCommand({
      Name: stack.environmentName,
      LoggingConfiguration: { TaskLogs: { Enabled: enabled, LogLevel: 'INFO' } },
    }),
  );
  await untilEnvironment(
    (env) => env.Status === 'AVAILABLE' && env.LoggingConfiguration?.TaskLogs?.Enabled === enabled,
    'the logging update',
  );
}

/** Polls GetEnvironment every 0.5 s until `done` holds; fails, naming `what`, after 2 minutes. */
async function untilEnvironment(done: (env: Environment) => boolean, what: string): Promise<void> {
  for (let i = 0; i < 240; i += 1) {
    const env = (await mwaa.send(new GetEnvironmentCommand({ Name: stack.environmentName }))).Environment;
    if (env && done(env)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not finish within 2 minutes`);
}

beforeAll(async () => {
  await controlPlaneSet(stack, 'behaviour', { webLoginDenied: false });
  // The standard config's artifacts, so every test below only triggers.
  const out = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (out.code !== 0) throw new Error(`standard deploy failed:\n${out.stderr}`);
});

afterAll(async () => {
  await controlPlaneSet(stack, 'behaviour', { webLoginDenied: false });
  mwaa.destroy();
});

describe(`deploy on Airflow ${stack.airflowLine} as MWAA behaves`, () => {
  it("a trigger Airflow's Params refuse fails the deploy at once with Airflow's message", async () => {
    const marker = `/tmp/mwaa-it-${randomBytes(4).toString('hex')}`;
    const out = await runDeploy(['--env', 'local', '--yes', '--wait', '--conf', `workspace_path=/tmp/w; touch ${marker}`]);
    expect(out.code, out.stdout).toBe(1);
    expect(out.ms).toBeLessThan(60_000);
    expect(out.stderr).toMatch(
      /Airflow did not create a run of gpu_server_cicd_workflow: \S*ParamValidationError: Invalid input for param workspace_path/,
    );
    expect(out.stderr).not.toMatch(/run unknown|triggered/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a GPU server outside the config is refused the same way (the Param lists the configured ones)', async () => {
    const out = await runDeploy(['--env', 'local', '--yes', '--wait', '--conf', 'gpu_server_ip=10.9.9.9']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/ParamValidationError: Invalid input for param gpu_server_ip: '10\.9\.9\.9' is not one of/);
  });

  it('a path the Params refuse never starts a run, and validate_inputs would refuse it the same way', async () => {
    const out = await runDeploy(['--env', 'local', '--yes', '--wait', '--conf', 'workspace_path=/tmp/../etc']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/ParamValidationError: Invalid input for param workspace_path: '\/tmp\/\.\.\/etc' does not match/);
  });

  it("a run that fails in a task prints the task's own error line from its log, and where CloudWatch keeps it", async () => {
    // The Params refuse whatever validate_inputs refuses, so the first failure a trigger can reach
    // is on the server: a workspace that cannot be made.
    const out = await runDeploy(['--env', 'local', '--yes', '--wait', '--json', '--conf', 'workspace_path=/proc/mwaa-it']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/clone_and_checkout_repo(\[\d+\])? failed; the last \d+ lines of its log, try 1:/);
    expect(out.stderr).toMatch(
      /\| .*RuntimeError: preparing the workspace of repository repo failed on server \S+ \(exit 1\): mkdir: cannot create directory .\/proc\/mwaa-it/,
    );
    expect(out.stderr).toContain(`task logs in CloudWatch: ${TASK_LOG_GROUP}`);
    const result = JSON.parse(out.stdout) as {
      runState: string;
      failures: { taskId: string; logTail: string[] }[];
      taskLogGroupArn: string;
    };
    expect(result.runState).toBe('failed');
    expect(result.taskLogGroupArn).toBe(TASK_LOG_GROUP);
    expect(result.failures.map((f) => f.taskId)).toEqual(['clone_and_checkout_repo']);
    expect(
      result.failures[0]!.logTail.filter((line) => /RuntimeError: preparing the workspace of repository repo failed/.test(line)).length,
    ).toBeGreaterThan(0);
  });

  it("a failed task's log from a hostile GPU server reaches the terminal with its escape sequences broken", async () => {
    // A checkout already on the server whose post-checkout hook writes terminal escapes, as a
    // compromised server or repository could: clear the screen, then a fake green success.
    const workspace = mkdtempSync('/tmp/mwaa-it-esc-');
    try {
      const checkout = join(workspace, 'cicd-test');
      execFileSync('git', ['clone', '-q', stack.git.remoteUrl, checkout]);
      const hook = join(checkout, '.git/hooks/post-checkout');
      writeFileSync(hook, "#!/bin/sh\nprintf '\\033[2J\\033[H\\033[32mrun succeeded\\033[0m\\n' >&2\nexit 1\n");
      chmodSync(hook, 0o755);
      const out = await runDeploy(['--env', 'local', '--yes', '--wait', '--conf', `workspace_path=${workspace}`], { NO_COLOR: '1' });
      expect(out.code, out.stderr).toBe(1);
      expect(out.stderr).toMatch(/clone_and_checkout_repo(\[\d+\])? failed; the last \d+ lines of its log, try 1:/);
      // The text is shown, its escapes are not: nothing in the output can drive the terminal.
      expect(out.stderr).toContain('\uFFFD[2J\uFFFD[H\uFFFD[32mrun succeeded\uFFFD[0m');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not get through.
      expect(`${out.stdout}${out.stderr}`).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  });

  it('task logging is on or off as UpdateEnvironment sets it, and GetEnvironment names the log group only when on', async () => {
    await setTaskLogging(false);
    try {
      const off = (await mwaa.send(new GetEnvironmentCommand({ Name: stack.environmentName }))).Environment!;
      expect(off.LoggingConfiguration?.TaskLogs).toEqual({ Enabled: false, LogLevel: 'INFO' });
    } finally {
      await setTaskLogging(true);
    }
    const on = (await mwaa.send(new GetEnvironmentCommand({ Name: stack.environmentName }))).Environment!;
    expect(on.LoggingConfiguration?.TaskLogs?.CloudWatchLogGroupArn).toBe(TASK_LOG_GROUP);
  });

  it('with the web login denied, the listed CLI commands do the work, said once, one request at a time', async () => {
    await controlPlaneSet(stack, 'behaviour', { webLoginDenied: true });
    try {
      const before = await controlPlaneStats(stack);
      await resetCliPeak(stack);
      // --wait runs the runtime check in the same process: deploy and check share the CLI lane.
      const deployed = await runDeploy(['--env', 'local', '--yes', '--wait']);
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(deployed.stderr.match(/Web login to Airflow denied/g)).toHaveLength(1);
      expect(deployed.stdout).toMatch(/4 of 4 Variables match the file/);
      const after = await controlPlaneStats(stack);
      const delta = statsDelta(before, after);
      expect(delta.RestApi).toBe(0);
      expect(delta.Cli).toBeGreaterThanOrEqual(10);
      expect(after.cli.maxInFlight).toBe(1);
    } finally {
      await controlPlaneSet(stack, 'behaviour', { webLoginDenied: false });
    }
  });

  it('MAINTENANCE refuses a deploy, naming why; --wait-for-available waits CREATING_SNAPSHOT out', async () => {
    await controlPlaneSet(stack, 'status', { status: 'MAINTENANCE', forMs: 15_000 });
    try {
      const refused = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
      expect(refused.code).toBe(1);
      // The plan's REFUSED line (stdout) says why; stderr says that nothing was changed.
      expect(refused.stderr).toMatch(/Deploy refused \(environment status\); nothing was changed/);
      expect(refused.stdout).toMatch(
        /is MAINTENANCE \(MWAA is applying maintenance in its weekly maintenance window\), not AVAILABLE\. Wait for it \(deploy --wait-for-available\)/,
      );
    } finally {
      // Whatever the assertions found, the suites after this one need an AVAILABLE environment.
      await untilEnvironment((env) => env.Status === 'AVAILABLE', 'the MAINTENANCE window');
    }
    // Long enough that the deploy, started after it (node, generate, the plan's reads: 15 s and more
    // on a loaded machine), still finds the snapshot going on.
    await controlPlaneSet(stack, 'status', { status: 'CREATING_SNAPSHOT', forMs: 30_000 });
    const waited = await runDeploy(['--env', 'local', '--yes', '--no-trigger', '--wait-for-available']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toMatch(/waiting for the environment to be AVAILABLE: CREATING_SNAPSHOT \(MWAA is snapshotting/);
  });
});
