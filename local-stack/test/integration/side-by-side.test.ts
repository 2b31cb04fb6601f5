/**
 * A second stack in a throw-away root (sharing the main stack's venvs, as a second checkout can)
 * running beside the main one through a full up → down lifecycle that must leave the main stack,
 * which the other suites use, untouched. What it checks (ports, process accounting, a stop that
 * reaches every process of one stack and none of the other) is the stack's own and the same on
 * both Airflow lines, so npm test runs it on one (scripts/test-all.mjs).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateCliTokenCommand } from '@aws-sdk/client-mwaa';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { staleJobs } from '../../src/airflow-health.js';
import { recordedProcesses } from '../../src/down.js';
import { recordedRef } from '../../src/liveness.js';
import { isSameProcess, processTree, type ProcessRef } from '../../src/processes.js';
import type { LocalStackState } from '../../src/state.js';
import type { StackStatus } from '../../src/status.js';
import {
  requireStack,
  runLocalCli,
  stackFetch,
  stackMwaa,
  stackPython,
  stackS3,
  throwAwayStack,
  type ThrowAwayStack,
} from '../../../test/support/stack.js';

let state: LocalStackState;
let s3: S3Client;

beforeAll(() => {
  state = requireStack();
  s3 = stackS3(state);
});

afterAll(() => s3?.destroy());

describe('a second stack beside this one (another checkout, sharing the venvs)', () => {
  let other: ThrowAwayStack | undefined;
  const mainDagKeys: string[] = [];

  afterEach(async () => {
    // Whatever an assertion interrupted: the second stack is stopped and its root deleted.
    const result = other?.discard();
    other = undefined;
    for (const key of mainDagKeys.splice(0)) await s3.send(new DeleteObjectCommand({ Bucket: state.bucket, Key: key }));
    if (result && result.status !== 0) throw new Error(`local down of the second stack failed:\n${result.stderr}`);
  });

  it('both run Airflow at once (each parses a DAG, each control plane answers the CLI); down stops the second and nothing of the first', async () => {
    const main = requireStack();
    const mainAtStart = stackProcessTree(main.root);
    other = throwAwayStack(main);
    const env = other.env;
    const upResult = runLocalCli(['local', 'up', '--airflow', main.airflowLine], env);
    expect(upResult.status, upResult.stderr).toBe(0);
    expect(upResult.stderr).toMatch(/venv airflow-.*reused/);

    // Right after `up`, `status` accounts for every process, Airflow's included.
    const statusRun = runLocalCli(['local', 'status', '--json'], env);
    expect(statusRun.status, statusRun.stdout + statusRun.stderr).toBe(0);
    const status = JSON.parse(statusRun.stdout) as StackStatus & LocalStackState;
    const airflowNames =
      main.airflowLine === '2'
        ? ['airflow-scheduler', 'airflow-webserver']
        : ['airflow-api-server', 'airflow-dag-processor', 'airflow-scheduler'];
    expect(status.processes.map((p) => p.name).sort()).toEqual(['control-plane', 'moto', 'sshd', ...airflowNames].sort());
    expect(status.processes.every((p) => p.up)).toBe(true);
    expect(status.strays).toEqual([]);
    // Its ports differ from the main stack's: both run side by side.
    expect(status.endpoints.mwaa).not.toBe(main.endpoints.mwaa);
    expect(status.endpoints.s3).not.toBe(main.endpoints.s3);
    expect(status.ssh.port).not.toBe(main.ssh.port);
    expect(status.airflow?.apiPort).not.toBe(main.airflow?.apiPort);
    const second = requireStack(env);

    // Airflow works in both at once: each stack's own scheduler (DAG processor) stores a DAG put
    // into its bucket, and each control plane's CLI lists it.
    const suffix = `${Date.now().toString(36)}_${process.pid}`;
    const dags = { main: `side_by_side_main_${suffix}`, second: `side_by_side_second_${suffix}` };
    mainDagKeys.push(`dags/${dags.main}.py`);
    await Promise.all([putDag(main, dags.main), putDag(second, dags.second)]);
    await Promise.all([dagParsed(main, dags.main), dagParsed(second, dags.second)]);
    expect(dagIds(await mwaaCli(main, 'dags list -o json'))).toContain(dags.main);
    expect(dagIds(await mwaaCli(second, 'dags list -o json'))).toContain(dags.second);
    expect(dagIds(await mwaaCli(second, 'dags list -o json'))).not.toContain(dags.main);

    const otherLine = main.airflowLine === '2' ? '3' : '2';
    const refused = runLocalCli(['local', 'up', '--airflow', otherLine], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/Stop it first: npm run local -- down/);

    // Every process of the second stack, Airflow's forked workers included, must be gone after its
    // down; every process of the main stack that ran from before the second stack came up
    // (so not a short-lived DAG parse or task) must still be the same process.
    const secondTree = stackProcessTree(other.root);
    const mainLongLived = stackProcessTree(main.root).filter((p) =>
      mainAtStart.some((q) => q.pid === p.pid && q.startTime === p.startTime),
    );
    expect(mainLongLived.length).toBeGreaterThanOrEqual(3 + airflowNames.length);
    const downStarted = new Date();
    const downResult = runLocalCli(['local', 'down', '--wipe'], env);
    expect(downResult.status, downResult.stderr).toBe(0);
    expect(secondTree.filter(isSameProcess)).toEqual([]);
    expect(readdirSync(other.root)).toEqual([]);
    expect(mainLongLived.filter((p) => !isSameProcess(p))).toEqual([]);
    const after = runLocalCli(['local', 'status'], env);
    expect(after.status).toBe(1);
    expect(after.stdout).toContain('not up');

    // And the main stack still works: its scheduler heartbeats after the down, its CLI answers.
    expect(requireStack().processes).toEqual(main.processes);
    await heartbeatSince(main, downStarted);
    expect(dagIds(await mwaaCli(main, 'dags list -o json'))).toContain(dags.main);
  });
});

/** Every live process a stack records, with their descendants, by identity. */
function stackProcessTree(root: string): ProcessRef[] {
  return recordedProcesses(root).flatMap((p) => {
    const ref = recordedRef(p);
    return ref ? processTree(ref) : [];
  });
}

async function putDag(stack: LocalStackState, dagId: string): Promise<void> {
  const client = stackS3(stack);
  try {
    const source = [
      'import datetime',
      'try:',
      '    from airflow.sdk import DAG',
      'except ImportError:',
      '    from airflow import DAG',
      // Airflow collects the DAGs a module's globals hold.
      `dag = DAG(dag_id="${dagId}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)`,
      '',
    ].join('\n');
    await client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `dags/${dagId}.py`, Body: source }));
  } finally {
    client.destroy();
  }
}

/** Resolves once the stack's own scheduler (2) or DAG processor (3) stored the DAG in its metadata DB. */
async function dagParsed(stack: LocalStackState, dagId: string): Promise<void> {
  const probe = [
    'import sqlite3, sys',
    'con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)',
    'print(con.execute("select count(*) from serialized_dag where dag_id = ?", (sys.argv[2],)).fetchone()[0])',
  ].join('\n');
  const deadline = Date.now() + 180_000;
  for (;;) {
    const out = stackPython(stack, ['-c', probe, join(stack.airflowHome, 'airflow.db'), dagId]).trim();
    if (out === '1') return;
    if (Date.now() > deadline) throw new Error(`${dagId} was not parsed by the stack at ${stack.root} within 180 s`);
    await sleep(1_000);
  }
}

async function heartbeatSince(stack: LocalStackState, since: Date): Promise<void> {
  const deadline = Date.now() + 60_000;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    missing = await staleJobs({ venvBin: stack.venvBin, airflowHome: stack.airflowHome, line: stack.airflowLine, since });
    if (missing.length === 0) return;
    await sleep(1_000);
  }
  throw new Error(`no heartbeat since ${since.toISOString()} from ${missing.join(', ')} of the stack at ${stack.root}`);
}

/** An Airflow CLI command through the stack's control plane (CreateCliToken, then /aws_mwaa/cli), as MWAA runs it. */
async function mwaaCli(stack: LocalStackState, command: string): Promise<string> {
  const mwaa = stackMwaa(stack);
  try {
    const { CliToken, WebServerHostname } = await mwaa.send(new CreateCliTokenCommand({ Name: stack.environmentName }));
    const res = await stackFetch(stack)(`https://${WebServerHostname}/aws_mwaa/cli`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${CliToken}`, 'Content-Type': 'text/plain' },
      body: command,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${command}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return Buffer.from((JSON.parse(text) as { stdout: string }).stdout, 'base64').toString('utf8');
  } finally {
    mwaa.destroy();
  }
}

/** The dag_ids of `dags list -o json` output (its JSON is the last line that parses). */
function dagIds(stdout: string): string[] {
  for (const line of stdout.trim().split('\n').reverse()) {
    if (!line.startsWith('[')) continue;
    try {
      return (JSON.parse(line) as Array<{ dag_id: string }>).map((d) => d.dag_id);
    } catch {
      // A log line such as "[2026-...] INFO ..." also starts with '['.
    }
  }
  throw new Error(`no JSON in dags list output: ${stdout.slice(0, 300)}`);
}
