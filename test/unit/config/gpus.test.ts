/** The gpus expectation: where it is set, how a server overrides it, and the errors that name the field. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE';

function configText(defaultsGpus: string, serverLines: string[]): string {
  return [
    'defaults:',
    '  git: { repoUrl: "https://git.example.com/org/cicd-test.git" }',
    ...(defaultsGpus ? [`  gpus: ${defaultsGpus}`] : []),
    'environments:',
    '  dev:',
    '    mwaa: { environmentName: env-dev, region: us-east-1, bucket: airflow-dev-bucket }',
    '    secrets: { sshKeyArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf" }',
    '    servers:',
    ...serverLines.map((extra, i) => `      - { name: gpu-0${i + 1}, host: 10.0.0.${i + 5}, hostPublicKey: "${HOST_KEY}"${extra} }`),
    '',
  ].join('\n');
}

async function load(text: string) {
  const configPath = join(tmp(), 'config.yaml');
  writeFileSync(configPath, text);
  return loadConfig({ configPath, env: 'dev' });
}

async function issues(text: string): Promise<Array<{ path: string; message: string }>> {
  const error = await load(text).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues.map((i) => ({ path: i.path, message: i.message }));
}

describe('gpus in the config', () => {
  it('applies the defaults to every server, with ECC checked unless turned off; a server may replace or drop it', async () => {
    const config = await load(
      configText('{ count: 8, model: "A100|H100", minMemoryMiB: 40000, minDriverVersion: "535.104.05", minCudaVersion: "12.2" }', [
        '',
        ', gpus: { count: 1, mig: enabled, noUncorrectedEcc: false }',
        ', gpus: null',
      ]),
    );
    expect(config.servers.map((s) => s.gpus)).toEqual([
      { count: 8, model: 'A100|H100', minMemoryMiB: 40000, minDriverVersion: '535.104.05', minCudaVersion: '12.2', noUncorrectedEcc: true },
      { count: 1, mig: 'enabled', noUncorrectedEcc: false },
      null,
    ]);
    expect(config).not.toHaveProperty('gpus');
  });

  it('leaves the GPUs unchecked when nothing sets gpus', async () => {
    const config = await load(configText('', ['']));
    expect(config.servers[0]?.gpus).toBeNull();
  });

  it.each([
    ['count: 0', 'defaults.gpus.count', /at least 1; found 0/],
    ['model: "(?i)a100"', 'defaults.gpus.model', /\(\?\.\.\.\) groups/],
    ['model: "A100/80"', 'defaults.gpus.model', /found "\/"/],
    ['model: "A100("', 'defaults.gpus.model', /not a valid regular expression/],
    ['minDriverVersion: "latest"', 'defaults.gpus.minDriverVersion', /driver version such as "535.104.05"/],
    ['minCudaVersion: 12', 'defaults.gpus.minCudaVersion', /./],
    ['mig: on', 'defaults.gpus.mig', /enabled|disabled/],
    ['minMemory: 1', 'defaults.gpus', /minMemory/],
  ])('refuses %s, naming the field', async (field, path, message) => {
    const found = await issues(configText(`{ ${field} }`, ['']));
    const issue = found.find((i) => i.path.startsWith(path));
    expect(issue, JSON.stringify(found)).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it('names the server whose own gpus is wrong', async () => {
    const found = await issues(configText('', ['', ', gpus: { minCudaVersion: "twelve" }']));
    expect(found.map((i) => i.path)).toEqual(['environments.dev.servers[1].gpus.minCudaVersion']);
  });
});
