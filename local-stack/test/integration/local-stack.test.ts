/**
 * The local stack itself, against its real components: OpenSSH sshd (accepts the key stored in
 * moto Secrets Manager, rejects any other), moto S3 (versioned, non-public bucket), the bare git
 * repo, Airflow's config, an idempotent second `up`, and a second stack in a throw-away root
 * (sharing the main stack's venvs, as a second checkout can) running beside the main one through
 * a full up → down lifecycle that must leave the main stack, which the other tests use, untouched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateCliTokenCommand } from '@aws-sdk/client-mwaa';
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { recordedProcesses } from '../../src/down.js';
import { staleJobs } from '../../src/airflow-health.js';
import { recordedRef } from '../../src/liveness.js';
import { isSameProcess, processTree, type ProcessRef } from '../../src/processes.js';
import type { LocalStackState } from '../../src/state.js';
import type { StackStatus } from '../../src/status.js';
import {
  publicKeyBlob,
  requireStack,
  runLocalCli,
  stackFetch,
  stackMwaa,
  stackPython,
  stackS3,
  stackSshKey,
  throwAwayStack,
  type ThrowAwayStack,
} from '../../../test/support/stack.js';

const { Client } = ssh2;

let state: LocalStackState;
let s3: S3Client;
const scratch: string[] = [];

beforeAll(() => {
  state = requireStack();
  s3 = stackS3(state);
});

afterAll(() => {
  s3?.destroy();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Connects with `privateKey`, pinning the stack's host key; runs `command`; resolves its stdout. */
function sshRun(privateKey: string, command: string, hostPublicKey = state.ssh.hostPublicKey): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const client = new Client();
    const expectedHostKey = publicKeyBlob(hostPublicKey);
    client
      .on('ready', () => {
        client.exec(command, (error, stream) => {
          if (error) {
            client.end();
            reject(error);
            return;
          }
          let out = '';
          stream.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
          stream.on('close', () => {
            client.end();
            resolveRun(out);
          });
        });
      })
      .on('error', reject)
      .connect({
        host: state.ssh.host,
        port: state.ssh.port,
        username: state.ssh.user,
        privateKey,
        readyTimeout: 20_000,
        hostVerifier: (key: Buffer) => key.equals(expectedHostKey),
      });
  });
}

describe('sshd (the stand-in GPU server)', () => {
  it('accepts the key stored in Secrets Manager and runs commands as the stack user', async () => {
    const key = await stackSshKey(state);
    expect(key).toMatch(/^-----BEGIN OPENSSH PRIVATE[ ]KEY-----/);
    const out = await sshRun(key, 'whoami');
    expect(out.trim()).toBe(state.ssh.user);
  });

  it('rejects a key that is not authorized', async () => {
    const dir = tmp('local-stack-key-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const other = readFileSync(join(dir, 'other'), 'utf8');
    await expect(sshRun(other, 'whoami')).rejects.toThrow(/authentication methods failed/i);
  });

  it('refuses a client that expects a different host key', async () => {
    const key = await stackSshKey(state);
    const dir = tmp('local-stack-hostkey-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'impostor')]);
    const impostor = readFileSync(join(dir, 'impostor.pub'), 'utf8');
    await expect(sshRun(key, 'whoami', impostor)).rejects.toThrow(/verification failed/i);
  });
});

describe('moto S3', () => {
  it('has the bucket with versioning Enabled and public access blocked', async () => {
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: state.bucket }));
    expect(versioning.Status).toBe('Enabled');
    const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket: state.bucket }));
    expect(block.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
  });

  it('gives each put of the same key a new version id', async () => {
    const key = `local-stack-test/${Date.now()}.txt`;
    const first = await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: 'one' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: 'two' }));
    expect(first.VersionId).toBeTruthy();
    expect(second.VersionId).toBeTruthy();
    expect(second.VersionId).not.toBe(first.VersionId);
  });
});

describe('git fixture and workspace', () => {
  it('serves branch cicd_01_etl with www/version.yaml holding a, b, c, d', () => {
    const text = execFileSync('git', ['--git-dir', state.git.remoteUrl, 'show', `${state.git.branch}:www/version.yaml`], {
      encoding: 'utf8',
    });
    const values = parse(text) as Record<string, unknown>;
    expect(Object.keys(values).sort()).toEqual(['a', 'b', 'c', 'd']);
    const head = execFileSync('git', ['--git-dir', state.git.remoteUrl, 'symbolic-ref', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(head).toBe('refs/heads/main');
    expect(existsSync(state.workspace)).toBe(true);
  });
});

describe('Airflow of the stack', () => {
  it('runs the pinned version with the stack config (no examples, the stack dags folder)', () => {
    // One Python start instead of three `airflow` CLI calls (each costs seconds of imports).
    const probe = [
      'import airflow, json',
      'from airflow.configuration import conf',
      'print(json.dumps({"version": airflow.__version__, "load_examples": conf.getboolean("core", "load_examples"),',
      '  "dags_folder": conf.get("core", "dags_folder"), "executor": conf.get("core", "executor")}))',
    ].join('\n');
    const out = stackPython(state, ['-c', probe]).trim().split('\n').pop() ?? '';
    expect(JSON.parse(out)).toEqual({
      version: state.airflowVersion,
      load_examples: false,
      dags_folder: join(state.airflowHome, 'dags'),
      executor: state.airflowLine === '2' ? 'SequentialExecutor' : 'LocalExecutor',
    });
  });
});

describe('idempotent up', () => {
  it('a second up on the running stack installs nothing, restarts nothing and is fast', () => {
    const before = requireStack();
    const livePids = () => Object.fromEntries(recordedProcesses(before.root).map((p) => [p.name, p.pid]));
    const liveBefore = livePids();
    expect(Object.keys(liveBefore)).toContain('airflow-scheduler');
    const started = Date.now();
    const result = runLocalCli(['local', 'up', '--airflow', before.airflowLine]);
    const seconds = (Date.now() - started) / 1000;
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('everything was already running');
    // A bound, not a speed: a venv rebuilt or a process restarted takes minutes; nothing, seconds
    // (up to about 20 on a loaded 2-core machine).
    expect(seconds).toBeLessThan(60);
    const after = requireStack();
    const pids = (s: LocalStackState) => Object.fromEntries(s.processes.map((p) => [p.name, p.pid]));
    expect(pids(after)).toEqual(pids(before));
    expect(livePids()).toEqual(liveBefore);
    expect(after.endpoints).toEqual(before.endpoints);
    expect(after.secretArn).toBe(before.secretArn);
    expect(after.ssh).toEqual(before.ssh);
  });
});

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
