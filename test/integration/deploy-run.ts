/**
 * One deploy suite's run against the local stack: its own plugins/requirements keys, deployments
 * prefix and DAG description (so it starts from a clean slate), the clients it counts with, and
 * the hooks that check the control plane first and put the standard config's artifacts back last.
 * deploy.test.ts (what depends on the Airflow line) and deploy-convergence.test.ts (locks,
 * refusals, interrupted deploys and rollback: the deployer's own, once) each make one.
 */
import { GetEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { s3Port } from '../../src/deployer/aws-ports.js';
import { stackFetch, stackMwaa, stackS3 } from '../support/stack.js';
import {
  MotoRecorder,
  configVariant,
  controlPlaneStats,
  requireLocalStack,
  runDeploy,
  s3Requests,
  s3Writes,
  statsDelta,
  untilEnvironmentSettled,
} from './deploy-helpers.js';

export const DAG_KEY = 'dags/gpu_server_cicd_dag.py';
/** The example config's DAG id, which every deploy suite runs. */
export const DAG_ID = 'gpu_server_cicd_workflow';

/** What `deploy --json` prints, as these suites read it. */
export interface DeployJson {
  changes: number;
  writes: number;
  updatedEnvironment: boolean;
  objects: { kind: string; key: string; versionId: string }[] | undefined;
  runId: string | null;
  runState: string | null;
  tasks: { taskId: string; state: string; mapIndex?: string }[] | null;
  smoke: { ok: boolean } | null;
  exitCode: number;
}

export function deployJson(stdout: string): DeployJson {
  return JSON.parse(stdout) as DeployJson;
}

export function deployTestRun() {
  const stack = requireLocalStack();
  const run = randomBytes(3).toString('hex');
  const prefix = `it-${run}`;
  const s3 = stackS3(stack);
  const mwaa = stackMwaa(stack);
  const recorder = new MotoRecorder(stack.endpoints.s3);
  const bucket = stack.bucket;
  const deploymentsPrefix = `deployments-${prefix}`;

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

  beforeAll(async () => {
    const res = await stackFetch(stack)(`${stack.endpoints.mwaa}/_local/health`);
    if (res.status !== 200) throw new Error(`control plane not healthy at ${stack.endpoints.mwaa}`);
  });

  afterAll(async () => {
    // Put the environment back on the standard config's artifacts for the suites that follow.
    const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
    if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
  });

  return {
    stack,
    run,
    prefix,
    s3,
    mwaa,
    lockPort: s3Port(s3),
    bucket,
    deploymentsPrefix,
    config,
    environment,
    untilAvailable: () => untilEnvironmentSettled(mwaa, stack.environmentName),
    objectSha,
    measured,
  };
}
