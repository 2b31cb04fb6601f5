/**
 * MWAA clients we did not write, against the local stack, unmodified and configured only the way
 * AWS documents (`eval "$(node dist/cli.js local env)"`: endpoint and CA-bundle variables):
 * the AWS CLI v1 (pinned, the stack's tools venv) with curl for the CLI endpoint, boto3 as a user
 * script, Apache's MwaaHook (InvokeRestApi and the web login) and MwaaTriggerDagRunOperator in a
 * DAG on the stack that triggers our DAG and waits for it. The README's commands for them run here
 * exactly as written. One deploy (idempotent: a no-op when the standard config is already there).
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellJoin } from '../../src/util/shell-quote.js';
import { repoRoot, requireStack, stackS3, testScratchDir } from '../support/stack.js';
import { runDeploy } from './deploy-helpers.js';
import { DAG_ID } from './deploy-run.js';

const stack = requireStack();
const line = stack.airflowLine;
const cli = join(repoRoot, 'dist', 'cli.js');
const WAIT_DAG = 'mwaa_trigger_and_wait';
const WAIT_KEY = `dags/${WAIT_DAG}.py`;
const DRIVER = join(repoRoot, 'test/python/clients/mwaa_clients.py');
const python = join(stack.venvBin, 'python');
const host = new URL(stack.endpoints.mwaa).host;
/** Short run ids: the operator's polling path /dags/<dag>/dagRuns/<run id> must stay within 64 characters. */
const run = `tp${randomBytes(3).toString('hex')}`;
const s3 = stackS3(stack);
/** The run MwaaTriggerDagRunOperator makes of our DAG, and what it is given. */
const operatorRunId = `${run}-op`;
const logicalDate = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
const operatorParams = { env_name: stack.environmentName, dag_id: DAG_ID, run_id: operatorRunId, logical_date: logicalDate };
/** The stack's Airflow environment (state.airflow.env: what its scheduler's tasks get), and nothing of this shell's AWS settings. */
const stackAirflowEnv: NodeJS.ProcessEnv = {
  PATH: `${stack.venvBin}:${process.env.PATH ?? ''}`,
  HOME: process.env.HOME,
  ...stack.airflow?.env,
};
let operatorDone: Promise<Ran> | undefined;
// MwaaHook imports Airflow, which needs a home: a scratch one, as a user's own Airflow would be.
const userAirflowHome = testScratchDir('third-party-airflow-home-');

/** A bare environment: the stack's location and nothing of this machine's AWS or CA settings. */
const bare: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AIRFLOW_HOME: userAirflowHome,
  MWAA_LOCAL_HOME: stack.root,
  ...(process.env.MWAA_LOCAL_VENVS ? { MWAA_LOCAL_VENVS: process.env.MWAA_LOCAL_VENVS } : {}),
};

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `script` in bash (strict mode), in the repository, in the bare environment. */
function inBash(script: string, timeoutMs = 120_000): Ran {
  const result = spawnSync('bash', ['-c', `set -euo pipefail\n${script}`], {
    env: bare,
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `script` in bash, in the repository, after `eval "$(node dist/cli.js local env)"`. */
function afterEval(script: string, timeoutMs = 120_000): Ran {
  return inBash(evalThen(script), timeoutMs);
}

/**
 * `script` after the stack's settings. A failed command substitution inside `eval` would leave
 * `eval ""`, which succeeds: the settings are captured first, so that failure ends the script.
 */
function evalThen(script: string): string {
  return `settings="$(${shellJoin([process.execPath, cli, 'local', 'env'])})" || exit 99\neval "$settings"\n${script}`;
}

/** A program run in the background (killed past its deadline), so that other tests run meanwhile. */
function inBackground(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { env, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * A client's JSON answer, read as the tests assert it: each member is checked by an expectation,
 * so a wrong shape fails there.
 */
// biome-ignore lint/suspicious/noExplicitAny: answers of clients we did not write, judged member by member below.
type Answer = Record<string, any>;

/** The driver's JSON (its last line: Airflow may log before it). */
function driver(args: string[], timeoutMs = 120_000): Answer {
  const out = afterEval(shellJoin([python, DRIVER, ...args]), timeoutMs);
  expect(out.code, out.stderr.slice(-3000)).toBe(0);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Answer;
}

function aws(args: string): Answer {
  const out = afterEval(`"$MWAA_LOCAL_AWS_CLI" ${args}`);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout);
}

/** The bash block under the README's section on third-party clients, as a user copies it. */
function readmeBlock(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('Third-party MWAA clients against the local stack\n'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no bash block under "Third-party MWAA clients against the local stack"');
  return block;
}

/** DAG ids Airflow lists, through InvokeRestApi with the AWS CLI. */
function listedDags(): string[] {
  return (
    aws(`mwaa invoke-rest-api --name ${shellJoin([stack.environmentName])} --path /dags --method GET`).RestApiResponse.dags as {
      dag_id: string;
    }[]
  ).map((d) => d.dag_id);
}

beforeAll(async () => {
  // Our DAG as the standard config deploys it (nothing to do when a suite before did it).
  const deployed = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (deployed.code !== 0) throw new Error(`deploy --env local failed:\n${deployed.stderr}`);
  // The user's DAG with the operator, deployed as a user deploys a DAG: into the bucket's dags/.
  await s3.send(
    new PutObjectCommand({
      Bucket: stack.bucket,
      Key: WAIT_KEY,
      Body: readFileSync(join(repoRoot, 'test/python/clients/mwaa_trigger_and_wait_dag.py')),
    }),
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    const ids = listedDags();
    if (ids.includes(DAG_ID) && ids.includes(WAIT_DAG)) break;
    if (Date.now() > deadline) throw new Error(`Airflow lists ${JSON.stringify(ids)} after 180 s: ${DAG_ID} or ${WAIT_DAG} missing`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  // The operator's wait is mostly our DAG's run in the scheduler: it starts now and the other
  // tests run meanwhile (the runs MwaaHook triggers wait behind it: the DAG allows one active run).
  operatorDone = startOperator();
});

/** The user's DAG with MwaaTriggerDagRunOperator, run on the stack (bounded: 300 s). */
function startOperator(): Promise<Ran> {
  if (line === '3') {
    // Triggered through MWAA's API (MwaaHook); the stack's scheduler runs it on its LocalExecutor.
    const args = [DRIVER, 'trigger-and-wait', stack.environmentName, WAIT_DAG, JSON.stringify(operatorParams), '240'];
    return inBackground('bash', ['-c', `set -euo pipefail\n${evalThen(shellJoin([python, ...args]))}`], bare, 300_000);
  }
  // Airflow 2's SequentialExecutor (SQLite) runs one task at a time and blocks the scheduler while
  // it runs: a task that waits for another run there would wait forever (MWAA runs Celery). So the
  // operator's task runs as `airflow tasks test` in the stack's Airflow environment, and the
  // scheduler runs our DAG.
  const args = ['tasks', 'test', WAIT_DAG, 'trigger_and_wait', logicalDate, '-t', JSON.stringify(operatorParams)];
  return inBackground(join(stack.venvBin, 'airflow'), args, stackAirflowEnv, 300_000);
}

afterAll(async () => {
  // The DAG folder follows the bucket: the user's DAG goes with its object.
  await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: WAIT_KEY }));
  s3.destroy();
  rmSync(userAirflowHome, { recursive: true, force: true });
});

describe(`third-party MWAA clients against the local stack (Airflow ${stack.airflowVersion})`, () => {
  it("the README's AWS CLI and curl commands run as written and reach Airflow over HTTPS", () => {
    // As written, with nothing before it: the block's own `eval` must set up everything after it.
    const out = inBash(readmeBlock());
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`"${stack.environmentName}"`);
    expect(out.stdout).toContain(`AVAILABLE\t${stack.airflowVersion}\t${host}`);
    // The CLI endpoint's base64 stdout, decoded: `dags list -o json` names our DAG.
    expect(out.stdout).toContain(`{"dag_id": "${DAG_ID}", `);
    // invoke-rest-api's DAG ids.
    expect(out.stdout).toMatch(new RegExp(`^\\s+"${DAG_ID}",?$`, 'm'));
  });

  it('the AWS CLI v1 (pinned) answers get-environment, list-environments, the CLI token, the web login token and invoke-rest-api', () => {
    // One shell: each command's JSON after a line of its own name.
    const commands = {
      version: '--version',
      environment: `mwaa get-environment --name ${shellJoin([stack.environmentName])}`,
      list: 'mwaa list-environments',
      cliToken: `mwaa create-cli-token --name ${shellJoin([stack.environmentName])}`,
      webToken: `mwaa create-web-login-token --name ${shellJoin([stack.environmentName])}`,
      rest: `mwaa invoke-rest-api --name ${shellJoin([stack.environmentName])} --path /dags --method GET`,
    };
    const out = afterEval(
      Object.entries(commands)
        .map(([name, args]) => `echo '>>> ${name}'\n"$MWAA_LOCAL_AWS_CLI" ${args} 2>&1`)
        .join('\n'),
    );
    expect(out.code, out.stdout + out.stderr).toBe(0);
    const text = Object.fromEntries(
      out.stdout
        .split(/^>>> /m)
        .slice(1)
        .map((chunk) => [chunk.slice(0, chunk.indexOf('\n')), chunk.slice(chunk.indexOf('\n') + 1)]),
    ) as Record<keyof typeof commands, string>;
    const json = (name: keyof typeof commands): Answer => JSON.parse(text[name]) as Answer;

    expect(text.version).toMatch(/^aws-cli\/1\.46\.3 /);
    expect(json('environment').Environment).toMatchObject({
      Name: stack.environmentName,
      Status: 'AVAILABLE',
      AirflowVersion: stack.airflowVersion,
      WebserverUrl: host,
    });
    expect(json('list').Environments).toContain(stack.environmentName);
    // (The README's block, run by the test above, takes such a token to the CLI endpoint with curl.)
    expect(Object.keys(json('cliToken')).sort()).toEqual(['CliToken', 'WebServerHostname']);
    expect(json('cliToken').WebServerHostname).toBe(host);
    expect(json('webToken')).toMatchObject({ WebServerHostname: host, WebToken: expect.stringMatching(/^\S{20,}$/) });
    const rest = json('rest');
    expect(rest.RestApiStatusCode).toBe(200);
    expect((rest.RestApiResponse.dags as { dag_id: string }[]).map((d) => d.dag_id)).toEqual(expect.arrayContaining([DAG_ID, WAIT_DAG]));
  });

  it('boto3, as a user script, reads the environment, runs a CLI command over HTTPS and calls InvokeRestApi', () => {
    const out = driver(['boto3', stack.environmentName, DAG_ID]);
    expect(out.get_environment).toEqual({
      Name: stack.environmentName,
      Status: 'AVAILABLE',
      AirflowVersion: stack.airflowVersion,
      WebserverUrl: host,
    });
    expect(out.cli.status).toBe(200);
    expect(out.cli.keys).toEqual(['stderr', 'stdout']);
    expect(out.cli.stdout).toContain(`"dag_id": "${DAG_ID}"`);
    expect(out.invoke_rest_api).toEqual({ status: 200, dag_ids: [DAG_ID] });
    expect(out.invoke_rest_api_404).toEqual({ code: 'RestApiClientException', status: 404 });
  });

  it("Apache's MwaaHook lists DAGs and triggers our DAG through InvokeRestApi and the web login; a default run id's path is refused as MWAA does", () => {
    const out = driver(['hook', stack.environmentName, DAG_ID, line, run]);
    expect(out.list_invoke_rest_api).toEqual({ status: 200, dag_ids: [DAG_ID] });
    expect(out.list_web_login).toEqual({ status: 200, dag_ids: [DAG_ID] });
    for (const [how, id] of [
      ['invoke_rest_api', `${run}-invokere`],
      ['web_login', `${run}-weblogin`],
    ] as const) {
      expect(out[`trigger_${how}`], how).toEqual({ status: 200, dag_run_id: id, state: 'queued' });
      // Airflow's own API has the run; deleted again (204), it answers 404.
      expect(out[`get_${how}`], how).toEqual({ status: 200, dag_run_id: id });
      expect(out[`delete_${how}`], how).toEqual({ status: 204 });
      expect(out[`after_delete_${how}`], how).toEqual({ code: 'RestApiClientException', status: 404 });
    }
    // What MwaaTriggerDagRunOperator would poll with a default run id (manual__<timestamp>).
    expect(out.long_path.length).toBeGreaterThan(64);
    expect(out.long_path.code).toBe('ValidationException');
    expect(out.long_path.message).toMatch(/at 'path' failed to satisfy constraint: Member must have length less than or equal to 64/);
  });

  it('MwaaTriggerDagRunOperator in a DAG on the stack triggers our DAG with a short run id and waits for its success', async () => {
    const done = await operatorDone!;
    const output = `${done.stdout.slice(-3000)}\n${done.stderr.slice(-3000)}`;
    expect(done.code, output).toBe(0);
    if (line === '3') {
      const waited = JSON.parse(done.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(waited).toMatchObject({ status: 200, dag_run_id: `${operatorRunId}-w`, state: 'success' });
    } else {
      // The operator said what it waited for (its log line, "DAG run" on 9.22.0, "Dag run" on 9.34.0).
      expect(output).toMatch(new RegExp(`Waiting for Dag run ${operatorRunId} of Dag ${DAG_ID} to complete`, 'i'));
    }
    // Our DAG's run, as Airflow's API (through MwaaHook) and its metadata DB (`airflow dags state`) see it.
    expect(driver(['run-state', stack.environmentName, DAG_ID, operatorRunId])).toEqual({
      status: 200,
      dag_run_id: operatorRunId,
      state: 'success',
    });
    const state = spawnSync(join(stack.venvBin, 'airflow'), ['dags', 'state', DAG_ID, logicalDate], {
      env: stackAirflowEnv,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(state.stdout.trim().split('\n').at(-1), state.stderr).toBe('success');
  });
});
