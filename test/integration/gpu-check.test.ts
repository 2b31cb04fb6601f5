/**
 * GPU readiness against the local stack: two servers on the stack's sshd (127.0.0.2 and 127.0.0.3),
 * whose stand-in nvidia-smi plays recorded outputs of real GPUs: two A100s, and a GPU fallen off the
 * bus. The DAG, deployed and run in the stack's Airflow, fails the lost server's branch at
 * check_gpus with nvidia-smi's words while the good server's branch runs through; then `check`
 * passes the good server (its GPUs listed) and fails the lost one with the same reason.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { playGpuRecording } from '../../local-stack/src/gpu-stand-in.js';
import type { LocalStackState } from '../../local-stack/src/state.js';
import { NVIDIA_SMI_FIXTURES } from '../support/nvidia-smi-fixtures.js';
import { requireStack } from '../support/stack.js';
import { repoRoot, runCheck, runDeploy } from './deploy-helpers.js';

const ENV = 'gpus';
const GOOD = { name: 'gpu-good', host: '127.0.0.2', recording: 'a100-40gb' };
const LOST = { name: 'gpu-lost', host: '127.0.0.3', recording: 'gpu-lost' };
const LOST_REASON = 'a GPU has fallen off the bus: 0000:02:00.0 (GPU is lost. Reboot the system to recover this GPU)';

let stack: LocalStackState;
let dir: string;
let configPath: string;
// The environment is not `localStack: true`: the SDK takes moto's dummy credentials from here.
const awsEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

beforeAll(() => {
  stack = requireStack();
  dir = mkdtempSync(join(tmpdir(), 'gpu-check-it-'));
  const run = Date.now().toString(36);
  const doc = parseDocument(readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8'));
  doc.setIn(['environments', ENV], {
    airflow: { version: stack.airflowVersion },
    mwaa: {
      environmentName: stack.environmentName,
      region: stack.region,
      accountId: '123456789012',
      bucket: stack.bucket,
      // Records of this file's own; the standard DAG's file is replaced, as every deploy suite does.
      deploymentsPrefix: `deployments-gpus-${run}`,
      ...(stack.endpoints.mwaa.startsWith('http:') ? { webserverScheme: 'http' } : {}),
    },
    aws: { endpoints: stack.endpoints, ...(stack.tls ? { caBundle: stack.tls.caCert } : {}) },
    secrets: { sshKeyArn: stack.secretArn },
    ssh: { user: stack.ssh.user, connectRetries: 2, commandTimeoutSeconds: 60 },
    dag: { retries: 0 },
    // One repository, only checked out (no version file): the fewest tasks after check_gpus.
    git: null,
    repositories: [{ name: 'app', url: stack.git.remoteUrl, branch: stack.git.branch, checkoutDir: 'cicd-test' }],
    // Two A100s with a driver that supports CUDA 12 or newer; uncorrected ECC errors fail (the default).
    gpus: { count: 2, model: 'A100', minMemoryMiB: 40000, minCudaVersion: '12.0' },
    servers: [GOOD, LOST].map((server) => {
      const workspacePath = join(dir, server.name);
      mkdirSync(workspacePath);
      return { name: server.name, host: server.host, port: stack.ssh.port, workspacePath, hostPublicKey: stack.ssh.hostPublicKey };
    }),
  });
  configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, doc.toString());
  for (const server of [GOOD, LOST]) playGpuRecording(stack.ssh.sshdConfig, server.host, join(NVIDIA_SMI_FIXTURES, server.recording));
});

afterAll(() => {
  if (stack) for (const server of [GOOD, LOST]) playGpuRecording(stack.ssh.sshdConfig, server.host, null);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface DeployJson {
  runState?: string;
  tasks?: Array<{ taskId: string; mapIndex?: string; state: string }>;
  failures?: Array<{ taskId: string; mapIndex?: string; logTail?: string[] }>;
}

describe('GPU readiness on the local stack', () => {
  it("fails the lost server's branch of the DAG at check_gpus, with the reason, and runs the good one through", async () => {
    const deployed = await runDeploy(['--env', ENV, '--config', configPath, '--yes', '--wait', '--no-smoke', '--json'], awsEnv);
    const result = JSON.parse(deployed.stdout) as DeployJson;
    expect(result.runState, deployed.stderr).toBe('failed');
    // The servers are mapped in config order: map index 0 is gpu-good, 1 is gpu-lost.
    const state = (task: string, index: string) => result.tasks?.find((t) => t.taskId === task && t.mapIndex === index)?.state;
    expect(['0', '1'].map((i) => state('check_gpus', i))).toEqual(['success', 'failed']);
    expect(['0', '1'].map((i) => state('clone_and_checkout_repo', i))).toEqual(['success', 'upstream_failed']);
    expect(result.failures?.map((f) => [f.taskId, f.mapIndex])).toEqual([['check_gpus', '1']]);
    expect(result.failures?.[0]?.logTail?.join('\n')).toContain(`GPUs of server ${LOST.name}: ${LOST_REASON}`);
  }, 300_000);

  it('check passes the good server with its GPUs listed and fails the lost one with the reason', async () => {
    const args = ['--env', ENV, '--config', configPath, '--identity-file', stack.ssh.clientKeyPath];
    const [json, text] = await Promise.all([runCheck([...args, '--json'], awsEnv), runCheck(args, awsEnv)]);
    expect(json.code, json.stderr).toBe(1);
    const { servers } = JSON.parse(json.stdout) as {
      servers: Array<{
        name: string;
        ok: boolean;
        checks: Array<{ name: string; status: string; reason: string }>;
        gpus?: { gpus: unknown[] };
      }>;
    };
    const [good, lost] = [GOOD, LOST].map((s) => servers.find((server) => server.name === s.name));
    expect(good?.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(good?.checks.find((c) => c.name === 'gpus')?.reason).toBe(
      "2 x NVIDIA A100-SXM4-40GB, driver 580.126.09, CUDA 13.0 (driver's supported)",
    );
    expect(good?.gpus?.gpus).toHaveLength(2);
    expect(lost?.ok).toBe(false);
    expect(lost?.checks.find((c) => c.name === 'gpus')).toMatchObject({ status: 'fail', reason: LOST_REASON });
    // Text: each GPU of the good server in the table, and the lost server named with its failed check.
    expect(text.stdout).toMatch(/^ {2}gpu-good {4}1 {2}NVIDIA A100-SXM4-40GB {2}602 \/ 40960 MiB/m);
    expect(text.stdout).toMatch(/^ {2}gpus +FAIL +\d+ ms {2}a GPU has fallen off the bus: /m);
    expect(text.stdout.trimEnd().split('\n').pop()).toMatch(/^1 of 2 servers passed in .*; failed: gpu-lost \(gpus, checkout\)\.$/);
  }, 120_000);
});
