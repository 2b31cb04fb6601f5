/** The gpus check in the report: its place among the checks, its GPU table in text and its data in --json. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveEnvironment } from '../../../src/config/resolved.js';
import { environmentSchema } from '../../../src/config/schema.js';
import { formatReport, reportJson } from '../../../src/runtime-check/format.js';
import { runRuntimeCheck, type CheckReport } from '../../../src/runtime-check/index.js';
import { readGpus } from '../../../src/runtime-check/nvidia-smi.js';
import { recordedServers } from '../../support/nvidia-smi-fixtures.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir('gpu-report-test-');
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE';

describe('the gpus check', () => {
  it('comes right after whoami, only for servers with an expectation, and is skipped with the connection', async () => {
    const config = resolveEnvironment(
      'unit',
      environmentSchema.parse({
        mwaa: { environmentName: 'unit', region: 'us-east-1', bucket: 'airflow-unit' },
        secrets: { sshKeyArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf' },
        git: { repoUrl: '/srv/git/cicd-test.git' },
        ssh: { connectTimeoutSeconds: 2, connectRetries: 0 },
        gpus: { count: 8 },
        // Port 1 on loopback: nothing listens, so the connection is refused at once.
        servers: [
          { name: 'gpu-01', host: '127.0.0.1', port: 1, hostPublicKey: HOST_KEY },
          { name: 'cpu-01', host: '127.0.0.1', port: 1, hostPublicKey: HOST_KEY, gpus: null },
        ],
      }),
    );
    const keyPath = join(tmp(), 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    const report = await runRuntimeCheck(config, { privateKey: readFileSync(keyPath, 'utf8') });
    expect(report.servers.map((s) => s.checks.map((c) => c.name))).toEqual([
      ['reachable', 'whoami', 'gpus', 'checkout', 'version-file'],
      ['reachable', 'whoami', 'checkout', 'version-file'],
    ]);
    expect(report.servers[0]?.checks[2]?.reason).toBe('skipped: not connected');
  });
});

describe('the report of GPUs', () => {
  const server = recordedServers().find((r) => r.name === 'ecc-errors');
  const reading = server && readGpus(server.query, server.header);
  if (!reading?.ok) throw new Error('the ecc-errors recording does not read');
  const report: CheckReport = {
    ok: false,
    mode: 'check',
    durationMs: 812,
    servers: [
      {
        name: 'gpu-01',
        host: '10.0.0.5',
        port: 22,
        ok: false,
        checks: [
          { name: 'gpus', ok: false, ms: 40, reason: 'GPU 1 (00000000:10:1D.0) has 2 uncorrected ECC errors since the driver loaded' },
        ],
        gpus: reading.value,
      },
    ],
  };

  it('lists each GPU per server in text, saying what the CUDA version is', () => {
    const text = formatReport(report);
    expect(text).toContain("GPUs (CUDA: the newest the driver supports, from nvidia-smi's header; not the installed toolkit)");
    const rows = text.split('\n').filter((line) => line.startsWith('  gpu-01  '));
    expect(rows).toEqual([
      '  gpu-01    0  NVIDIA A100-SXM4-40GB  598 / 40960 MiB  0           disabled  580.126.09 / 13.0  00000000:10:1C.0',
      '  gpu-01    1  NVIDIA A100-SXM4-40GB  602 / 40960 MiB  2           disabled  580.126.09 / 13.0  00000000:10:1D.0',
    ]);
    expect(text.trimEnd().split('\n').pop()).toBe('0 of 1 servers passed in 812 ms; failed: gpu-01 (gpus).');
  });

  it('carries the reading in --json', () => {
    const json = reportJson(report);
    expect(json.servers[0]?.gpus).toEqual(reading.value);
    expect(json.servers[0]?.checks[0]).toMatchObject({ name: 'gpus', status: 'fail', ok: false });
  });
});
