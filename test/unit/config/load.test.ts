import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, readConfigFile, resolveConfig, environmentNames, deepMerge } from '../../../src/config/load.js';
import { variableKey } from '../../../src/config/variables.js';
import { ConfigError } from '../../../src/errors.js';
import { useTmpDir } from '../../support/tmp.js';

const shipped = readFileSync('config/config.yaml', 'utf8');
const tmp = useTmpDir();

function writeConfig(text: string): string {
  const dir = tmp();
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  return path;
}

async function issuesOf(text: string, env = 'dev'): Promise<ConfigError> {
  const configPath = writeConfig(text);
  try {
    await loadConfig({ configPath, env });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const validEnv = `
  dev:
    mwaa: { environmentName: env-dev, region: us-east-1, bucket: airflow-dev-bucket }
    secrets: { sshKeyArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf" }
    servers:
      - name: gpu-01
        host: 10.0.0.5
        hostPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE
`;
const base = `defaults:\n  git: { repoUrl: "https://git.example.com/org/cicd-test.git" }\nenvironments:${validEnv}`;

describe('the shipped config', () => {
  it('resolves every environment but the stack-backed one without a stack', async () => {
    const file = await readConfigFile();
    expect(environmentNames(file)).toEqual(['dev', 'local', 'prod']);
    const dev = resolveConfig(file, 'dev');
    expect(dev.dag.id).toBe('gpu_server_cicd_workflow');
    expect(dev.repositories).toMatchObject([{ name: 'repo', branch: 'cicd_01_etl', checkoutDir: 'cicd-test' }]);
    expect(dev.ssh.user).toBe('ubuntu');
    expect(dev.servers[0]).toMatchObject({ port: 22, user: 'ubuntu', workspacePath: '/home/ubuntu/workspace' });
    expect(dev.airflow).toEqual({ version: '2.11.2', pythonVersion: '3.12', line: '2' });
    expect(dev.versionFile.variables.map((v) => v.variable)).toEqual(['a', 'b', 'c', 'd']);
    const prod = resolveConfig(file, 'prod');
    expect(prod.dag.retries).toBe(2);
    expect(prod.dag.tags).toEqual(['cicd', 'gpu']);
    expect(prod.servers).toHaveLength(2);
    expect(() => resolveConfig(file, 'local', { localStackOverlay: () => undefined })).toThrow(
      /local stack, which is not up.*npx mwaa-gpu-cicd local up/,
    );
    expect(() => resolveConfig(file, 'nope')).toThrow(/No environment "nope".*dev, local, prod/);
  });

  it('names Variables per server only when there are several', async () => {
    const file = await readConfigFile();
    expect(variableKey(resolveConfig(file, 'dev'), 'gpu-dev-01', 'repo', 'a')).toBe('a');
    expect(variableKey(resolveConfig(file, 'prod'), 'gpu-prod-02', 'repo', 'a')).toBe('gpu-prod-02__a');
  });

  it('derives the Python version from the Airflow version as MWAA pairs them', async () => {
    const configPath = writeConfig(base.replace('defaults:', 'defaults:\n  airflow: { version: "3.0.6" }'));
    const config = await loadConfig({ configPath, env: 'dev' });
    expect(config.airflow).toEqual({ version: '3.0.6', pythonVersion: '3.12', line: '3' });
  });
});

describe('deepMerge', () => {
  it('merges objects, replaces lists and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null })).toEqual({ a: { b: 1, c: [3] }, d: null });
  });
});

// Each case: a change to a valid config, and the path + line the error must name.
const invalidCases: Array<{ name: string; text: string; path: string; line: number; message: RegExp }> = [
  {
    name: 'bad host',
    text: base.replace('host: 10.0.0.5', 'host: 999.1.1.1'),
    path: 'environments.dev.servers[0].host',
    line: 9,
    message: /expected an IPv4\/IPv6 address or hostname; found "999.1.1.1"/,
  },
  {
    name: 'relative workspace',
    text: base.replace('host: 10.0.0.5', 'host: 10.0.0.5\n        workspacePath: home/ubuntu'),
    path: 'environments.dev.servers[0].workspacePath',
    line: 10,
    message: /absolute path/,
  },
  {
    name: 'workspace with shell metacharacters',
    text: base.replace('host: 10.0.0.5', 'host: 10.0.0.5\n        workspacePath: "/tmp/$(reboot)"'),
    path: 'environments.dev.servers[0].workspacePath',
    line: 10,
    message: /absolute path/,
  },
  {
    name: 'branch against check-ref-format',
    text: base
      .replace('defaults:\n', 'defaults:\n  git: { repoUrl: "https://git.example.com/x.git", branch: "feature..x" }\n')
      .replace('  git: { repoUrl: "https://git.example.com/org/cicd-test.git" }\n', ''),
    path: 'defaults.git.branch',
    line: 2,
    message: /must not contain "\.\."/,
  },
  {
    name: 'ARN of another service',
    text: base.replace('arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf', 'arn:aws:s3:::bucket'),
    path: 'environments.dev.secrets.sshKeyArn',
    line: 6,
    message: /Secrets Manager ARN/,
  },
  {
    name: 'bucket without the MWAA prefix',
    text: base.replace('airflow-dev-bucket', 'dev-bucket'),
    path: 'environments.dev.mwaa.bucket',
    line: 5,
    message: /start with "airflow-"/,
  },
  {
    name: 'unknown key',
    text: base.replace('    servers:', '    sever: 1\n    servers:'),
    path: 'environments.dev.sever',
    line: 7,
    message: /unknown key/,
  },
  {
    name: 'Airflow version MWAA does not run',
    text: base.replace('defaults:', 'defaults:\n  airflow: { version: "2.4.3" }'),
    path: 'defaults.airflow.version',
    line: 2,
    message: /2\.10\.3/,
  },
  {
    name: 'Variable key Airflow rejects',
    text: base.replace('defaults:', 'defaults:\n  versionFile: { variables: [ { key: a, variable: "a b" } ] }'),
    path: 'defaults.versionFile.variables[0].variable',
    line: 2,
    message: /Airflow Variable key/,
  },
  {
    name: 'the removed accept-new host key policy',
    text: base.replace('defaults:', 'defaults:\n  ssh: { hostKeyPolicy: accept-new }'),
    path: 'defaults.ssh.hostKeyPolicy',
    line: 2,
    message: /--print-host-keys/,
  },
  {
    name: 'DAG id with a space',
    text: base.replace('defaults:', 'defaults:\n  dag: { id: "my dag" }'),
    path: 'defaults.dag.id',
    line: 2,
    message: /DAG id/,
  },
  {
    name: 'missing required section',
    text: base.replace(/\n {4}secrets: .*/, ''),
    path: 'environments.dev.secrets',
    line: 4,
    message: /required/,
  },
  {
    name: 'wrong type',
    text: base.replace('defaults:', 'defaults:\n  ssh: { port: "twenty-two" }'),
    path: 'defaults.ssh.port',
    line: 2,
    message: /expected a number; found "twenty-two"/,
  },
  {
    name: 'duplicate server names',
    text: base.replace(
      '    servers:\n',
      '    servers:\n      - { name: gpu-01, host: 10.0.0.6, hostPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE" }\n',
    ),
    path: 'environments.dev.servers[1].name',
    line: 9,
    message: /duplicate server name/,
  },
  {
    name: 'YAML syntax',
    text: base.replace('    servers:', '    servers: [\n'),
    path: '',
    line: 7, // the line of the "[" left open, as PyYAML reports it
    message: /YAML/,
  },
  {
    name: 'custom tag',
    text: base.replace('host: 10.0.0.5', 'host: !!python/object:os.system "id"'),
    path: '',
    line: 9,
    message: /YAML/,
  },
];

describe('invalid configs', () => {
  it.each(invalidCases)('$name', async ({ text, path, line, message }) => {
    const error = await issuesOf(text);
    const issue = error.issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    expect(issue?.line).toBe(line);
    expect(issue?.message).toMatch(message);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`config.yaml:${line}:`);
  });

  it('reports every problem at once', async () => {
    const text = base
      .replace('host: 10.0.0.5', 'host: "bad host"')
      .replace('airflow-dev-bucket', 'Bad_Bucket')
      .replace('region: us-east-1', 'region: mars');
    const error = await issuesOf(text);
    expect(error.issues.map((i) => i.path)).toEqual([
      'environments.dev.mwaa.region',
      'environments.dev.mwaa.bucket',
      'environments.dev.servers[0].host',
    ]);
    expect(error.message).toMatch(/^Invalid configuration \(3 problems\)/);
  });

  it('bounds aliases (billion laughs)', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i += 1)
      bomb.push(
        `l${i}: &l${i} [${Array(9)
          .fill(i === 1 ? '*a' : `*l${i - 1}`)
          .join(',')}]`,
      );
    const error = await issuesOf(`${bomb.join('\n')}\n${base}`);
    expect(error.message).toMatch(/alias|Excessive/i);
  });
});

describe('the JSON Schema file', () => {
  it('is up to date with the zod schema (run: npm run schema)', async () => {
    const { serializeJsonSchema } = await import('../../../src/config/json-schema.js');
    expect(readFileSync('config/config.schema.json', 'utf8')).toBe(serializeJsonSchema());
  });

  it('is referenced from the shipped config', () => {
    expect(shipped.split('\n')[0]).toBe('# yaml-language-server: $schema=./config.schema.json');
  });
});

describe('reading the file', () => {
  it('refuses an endless file (/dev/zero) after reading at most the size limit', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const error = await readConfigFile({ configPath: '/dev/zero' }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      '/dev/zero is larger than 1048576 bytes; a config file is a few kilobytes. Is --config the right file?',
    );
    expect(error).toMatchObject({ exitCode: 2 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('messages in the words of the file, not of the validator', () => {
  const messageAt = async (text: string, path: string) => (await issuesOf(text)).issues.find((i) => i.path === path)?.message;

  it('limits read as what the field needs', async () => {
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  dag: { retryDelaySeconds: 0 }'), 'defaults.dag.retryDelaySeconds')).toBe(
      'expected a number greater than 0; found 0',
    );
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  dag: { retries: 11 }'), 'defaults.dag.retries')).toBe(
      'expected a number at most 10; found 11',
    );
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  dag: { maxActiveRuns: 1.5 }'), 'defaults.dag.maxActiveRuns')).toBe(
      'expected a whole number; found 1.5',
    );
  });

  it('a missing section says what goes there', async () => {
    expect(await messageAt(base.replace(/\n {4}secrets: .*/, ''), 'environments.dev.secrets')).toBe(
      'missing: a value is required here (a mapping of key: value pairs)',
    );
  });

  it('an unquoted version that YAML reads as a number gets a hint to quote it', async () => {
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  airflow: { version: 2.10 }'), 'defaults.airflow.version')).toMatch(
      /; found 2\.1; YAML reads the unquoted 2\.10 as the number 2\.1: quote it, "2\.10"/,
    );
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  mwaa: { accountId: 012345678901 }'), 'defaults.mwaa.accountId')).toMatch(
      /quote it, "012345678901"/,
    );
  });

  it('a misspelt key or value gets a "did you mean"', async () => {
    expect(await messageAt(base.replace('bucket: airflow-dev-bucket', 'bukcet: airflow-dev-bucket'), 'environments.dev.mwaa.bukcet')).toBe(
      'unknown key; did you mean "bucket"?',
    );
    expect(
      await messageAt(base.replace('defaults:', 'defaults:\n  mwaa: { webserverScheme: htps }'), 'defaults.mwaa.webserverScheme'),
    ).toMatch(/expected one of "https", "http"; found "htps"; did you mean "https"\?/);
    expect(await messageAt(base.replace('defaults:', 'defaults:\n  gti: {}'), 'defaults.gti')).toBe('unknown key; did you mean "git"?');
  });

  it('an unknown key far from any known one lists the keys allowed there', async () => {
    expect(await messageAt(base.replace('    servers:', '    zzzzzzzz: 1\n    servers:'), 'environments.dev.zzzzzzzz')).toMatch(
      /^unknown key; remove it or check its spelling\. Allowed here: localStack, dag, airflow, mwaa, aws, ssh, secrets, servers, git, repositories, versionFile, gpus, monitoring\.$/,
    );
  });

  it('one missing "]" is one problem, not a cascade', async () => {
    const text = `${base}\n  prod:\n    dag:\n      tags: [a, b\n      retries: 1\n      owner: x\n      description: y\n`;
    const error = await issuesOf(text);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.message).toMatch(/^YAML: the \[ \.\.\. \] list that starts here is not closed with "\]"/);
    expect(error.issues[0]?.message).toMatch(/\(\d+ more YAML errors? after it, probably caused by it: fix this one first\)$/);
  });

  it('duplicate keys are each reported', async () => {
    const error = await issuesOf(base.replace('region: us-east-1', 'region: us-east-1, region: eu-west-1'));
    expect(error.issues.map((i) => i.message)).toContain('YAML: this key appears twice in the same mapping; keep one');
  });

  it('a missing file points at init', async () => {
    await expect(readConfigFile({ configPath: join(tmp(), 'none.yaml') })).rejects.toThrow(/Create one with: npx mwaa-gpu-cicd init/);
  });
});
