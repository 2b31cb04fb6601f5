/**
 * Helpers for integration tests that run against the local stack (`npm run local -- up`).
 * Tests fail (never skip) with a clear message when the stack is not up.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createMwaaClient, createS3Client, createSecretsManagerClient } from '../../src/mwaa/clients.js';
import type { MWAAClient } from '@aws-sdk/client-mwaa';
import { mwaaAccess } from '../../src/mwaa/access.js';
import type { AirflowApi } from '../../src/mwaa/airflow-api.js';
import type { AirflowVersion } from '../../src/mwaa/versions.js';
import { recordedProcesses } from '../../local-stack/src/down.js';
import { controlPlaneFetch } from '../../local-stack/src/control-plane-client.js';
import { recordedAlive } from '../../local-stack/src/liveness.js';
import { readStateIfPresent, stackRoot, type LocalStackState } from '../../local-stack/src/state.js';

// The AWS SDK warns that Node 20 support ends in 2027 on every client; that is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** The running stack's state; throws (so the test fails) when the stack is not up. */
export function requireStack(env: NodeJS.ProcessEnv = process.env): LocalStackState {
  const root = stackRoot(env, repoRoot);
  const state = readStateIfPresent(root);
  if (!state) {
    throw new Error(`The local stack is not up (${join(root, 'state.json')} missing). Run: npm run local -- up`);
  }
  // state.json lists what `up` started; control-plane.json the live Airflow processes.
  const down = recordedProcesses(root)
    .filter((p) => !recordedAlive(p))
    .map((p) => `${p.name} (pid ${p.pid})`);
  if (down.length > 0) {
    throw new Error(`The local stack at ${root} is degraded: ${down.join(', ')} not running. Run: npm run local -- up`);
  }
  return state;
}

export function stackS3(state: LocalStackState): S3Client {
  return createS3Client({ endpoint: state.endpoints.s3, region: state.region, localStack: true });
}

export function stackMwaa(state: LocalStackState): MWAAClient {
  return createMwaaClient({ endpoint: state.endpoints.mwaa, region: state.region, localStack: true, ca: stackCa(state) });
}

/** The stack's Airflow (REST through the web login, the CLI token where denied), as the deployer reaches an environment. */
export function stackAirflowApi(state: LocalStackState): AirflowApi {
  return mwaaAccess(stackMwaa(state), {
    environmentName: state.environmentName,
    webserverScheme: state.endpoints.mwaa.startsWith('http:') ? 'http' : 'https',
    airflowVersion: state.airflowVersion as AirflowVersion,
    ca: stackCa(state),
  }).airflow;
}

/** The PEM of the stack's CA (its MWAA endpoint and web server serve HTTPS with a certificate it issued). */
export function stackCa(state: LocalStackState): string | undefined {
  return state.tls ? readFileSync(state.tls.caCert, 'utf8') : undefined;
}

/** fetch for the control plane (its API, its web server, its /_local/ tooling): trusts the stack's CA. */
export function stackFetch(state: LocalStackState): typeof fetch {
  return controlPlaneFetch(state.tls?.caCert);
}

export function stackSecrets(state: LocalStackState): SecretsManagerClient {
  return createSecretsManagerClient({ endpoint: state.endpoints.secretsManager, region: state.region, localStack: true });
}

/** The SSH private key as the DAG gets it: from Secrets Manager by ARN. */
export async function stackSshKey(state: LocalStackState): Promise<string> {
  const client = stackSecrets(state);
  try {
    const secret = await client.send(new GetSecretValueCommand({ SecretId: state.secretArn }));
    if (!secret.SecretString) throw new Error(`secret ${state.secretArn} has no SecretString`);
    return secret.SecretString;
  } finally {
    client.destroy();
  }
}

/** Environment for AWS CLIs/SDKs (awscli, boto3) pointed at the stack's moto. */
export function stackAwsEnv(state: LocalStackState): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: state.endpoints.s3,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: state.region,
  };
}

/** Environment of the stack's Airflow processes (its AIRFLOW_HOME, moto endpoint, venv first on PATH). */
export function stackAirflowEnv(state: LocalStackState): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AIRFLOW__')) env[key] = value;
  return { ...env, ...(state.airflow?.env ?? {}), AIRFLOW_HOME: state.airflowHome, PATH: `${state.venvBin}:${process.env.PATH ?? ''}` };
}

/** Runs an `airflow` command of the stack; returns stdout (which may start with Airflow log lines). */
export function stackAirflow(state: LocalStackState, args: string[]): string {
  return execFileSync(join(state.venvBin, 'airflow'), args, {
    encoding: 'utf8',
    env: stackAirflowEnv(state),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the stack venv's python with the stack's Airflow environment; returns stdout. */
export function stackPython(state: LocalStackState, args: string[]): string {
  return execFileSync(join(state.venvBin, 'python'), args, {
    encoding: 'utf8',
    env: stackAirflowEnv(state),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the built CLI (`node dist/cli.js ...`) synchronously. */
export function runLocalCli(args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
    timeout: 900_000,
  });
}

/**
 * A fresh directory for a throw-away stack root (or other scratch a test's processes run in):
 * under $MWAA_TEST_TMP when `npm test` set it, so its closing stray check sees every process
 * started there, else under the OS temp directory.
 */
export function testScratchDir(prefix: string): string {
  const parent = process.env.MWAA_TEST_TMP || tmpdir();
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, prefix));
}

/**
 * A second stack beside the one the tests use, as a second checkout would have it: its own root,
 * the main stack's venvs (installing them is not what is tested). `discard` stops whatever it
 * runs and deletes its root; call it from afterEach/afterAll so a failed assertion half-way still
 * leaves nothing running.
 */
export interface ThrowAwayStack {
  root: string;
  env: NodeJS.ProcessEnv;
  discard: () => SpawnSyncReturns<string> | undefined;
}

export function throwAwayStack(main: LocalStackState, prefix = 'local-stack-root-'): ThrowAwayStack {
  const root = testScratchDir(prefix);
  const env = { ...process.env, MWAA_LOCAL_HOME: root, MWAA_LOCAL_VENVS: resolve(main.venvBin, '..', '..') };
  return {
    root,
    env,
    discard: () => {
      // `down` finds processes by their records and by the mark every stack process carries, so
      // it also stops what a half-finished `up` started.
      const result = existsSync(root) ? runLocalCli(['local', 'down', '--wipe'], env) : undefined;
      rmSync(root, { recursive: true, force: true });
      return result;
    },
  };
}

/** The raw key blob of "ssh-ed25519 AAAA..." (what ssh2's hostVerifier receives). */
export function publicKeyBlob(line: string): Buffer {
  const [, base64] = line.trim().split(/\s+/);
  if (!base64) throw new Error(`not a public key line: ${line}`);
  return Buffer.from(base64, 'base64');
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
