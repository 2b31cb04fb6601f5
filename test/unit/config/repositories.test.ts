/**
 * Several repositories: the `repositories` list, the `git` shorthand as a list of one, and the
 * one Variable naming rule that the generator and the runtime check share.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deepMerge } from '../../../src/config/load.js';
import { resolveEnvironment } from '../../../src/config/resolved.js';
import { environmentSchema } from '../../../src/config/schema.js';
import { variableKey } from '../../../src/config/variables.js';
import { dagContext } from '../../../src/generator/render-dag.js';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE';
const URL = 'git@github.com:org/cicd-test.git';
const base = {
  mwaa: { environmentName: 'env-dev', region: 'us-east-1', bucket: 'airflow-dev-bucket' },
  secrets: { sshKeyArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf' },
  servers: [{ name: 'gpu-01', host: '10.0.0.5', hostPublicKey: HOST_KEY }],
};
const twoServers = [
  { name: 'gpu-01', host: '10.0.0.5', hostPublicKey: HOST_KEY },
  { name: 'gpu-02', host: '10.0.0.6', hostPublicKey: HOST_KEY },
];
const twoRepositories = [
  { name: 'etl', url: URL, branch: 'cicd_01_etl', checkoutDir: 'cicd-test', versionFile: 'www/version.yaml' },
  { name: 'models', url: 'https://git.example.com/org/models.git', branch: 'main', checkoutDir: 'models', versionFile: 'VERSION.yaml' },
];

function parse(overrides: Record<string, unknown>) {
  return environmentSchema.safeParse(deepMerge(base, overrides));
}

function resolved(overrides: Record<string, unknown>) {
  const result = parse(overrides);
  if (!result.success) throw new Error(result.error.message);
  return resolveEnvironment('t', result.data);
}

function problems(overrides: Record<string, unknown>): string[] {
  const result = parse(overrides);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

/** The Variable names the DAG gets, per server and repository. */
function dagVariables(overrides: Record<string, unknown>) {
  return dagContext(resolved(overrides)).servers.map((server) =>
    Object.fromEntries(Object.entries(server.variables).map(([name, mappings]) => [name, mappings.map((m) => m.variable)])),
  );
}

describe('the git shorthand', () => {
  const shorthand = { git: { repoUrl: URL, branch: 'cicd_01_etl', checkoutDir: 'cicd-test' } };
  const asList = {
    repositories: [{ name: 'repo', url: URL, branch: 'cicd_01_etl', checkoutDir: 'cicd-test', versionFile: 'www/version.yaml' }],
  };

  it('is a list of one repository named "repo" with the top-level version file', () => {
    expect(resolved(shorthand).repositories).toEqual([
      {
        name: 'repo',
        url: URL,
        branch: 'cicd_01_etl',
        checkoutDir: 'cicd-test',
        remoteName: 'origin',
        versionFile: {
          path: 'www/version.yaml',
          maxBytes: 65_536,
          variables: [
            { key: 'a', variable: 'a', type: 'scalar' },
            { key: 'b', variable: 'b', type: 'scalar' },
            { key: 'c', variable: 'c', type: 'scalar' },
            { key: 'd', variable: 'd', type: 'scalar' },
          ],
        },
      },
    ]);
  });

  it('keeps the Variable names of today, and a list of one gives the same DAG config', () => {
    expect(dagVariables(shorthand)).toEqual([{ repo: ['a', 'b', 'c', 'd'] }]);
    expect(dagVariables({ ...shorthand, servers: twoServers })).toEqual([
      { repo: ['gpu-01__a', 'gpu-01__b', 'gpu-01__c', 'gpu-01__d'] },
      { repo: ['gpu-02__a', 'gpu-02__b', 'gpu-02__c', 'gpu-02__d'] },
    ]);
    for (const servers of [base.servers, twoServers]) {
      const { repositories: a, servers: sa } = dagContext(resolved({ ...shorthand, servers }));
      const { repositories: b, servers: sb } = dagContext(resolved({ ...asList, servers }));
      expect(b).toEqual(a);
      expect(sb).toEqual(sa);
    }
  });

  it('cannot be combined with a repositories list, except as null over defaults', () => {
    expect(problems({ ...shorthand, repositories: twoRepositories })).toEqual([
      'repositories: set either git (one repository) or repositories, not both; in an environment whose defaults set git, add `git: null`',
    ]);
    expect(problems({ git: null, repositories: twoRepositories })).toEqual([]);
    expect(problems({})).toEqual([
      'repositories: expected the repositories to check out: a repositories list, or the git block for one repository',
    ]);
  });
});

describe('several repositories', () => {
  it('name Variables per repository only when several name a version file', () => {
    expect(dagVariables({ repositories: twoRepositories })).toEqual([
      { etl: ['etl__a', 'etl__b', 'etl__c', 'etl__d'], models: ['models__a', 'models__b', 'models__c', 'models__d'] },
    ]);
    expect(dagVariables({ repositories: twoRepositories, servers: twoServers })[1]).toEqual({
      etl: ['gpu-02__etl__a', 'gpu-02__etl__b', 'gpu-02__etl__c', 'gpu-02__etl__d'],
      models: ['gpu-02__models__a', 'gpu-02__models__b', 'gpu-02__models__c', 'gpu-02__models__d'],
    });
    // A repository without a version file is only checked out: the other keeps the plain names.
    const codeOnly = [twoRepositories[0], { ...twoRepositories[1], versionFile: undefined }];
    expect(dagVariables({ repositories: codeOnly })).toEqual([{ etl: ['a', 'b', 'c', 'd'] }]);
    const config = resolved({ repositories: codeOnly });
    expect(variableKey(config, 'gpu-01', 'etl', 'a')).toBe('a');
  });

  it('take their own variables and size limit, or the top-level ones', () => {
    const config = resolved({
      versionFile: { maxBytes: 1000 },
      repositories: [
        twoRepositories[0],
        {
          ...twoRepositories[1],
          versionFile: { path: 'v.yaml', maxBytes: 2000, variables: [{ key: 'model', variable: 'model_version' }] },
        },
      ],
    });
    expect(config.repositories.map((r) => [r.versionFile?.maxBytes, r.versionFile?.variables.map((v) => v.variable)])).toEqual([
      [1000, ['a', 'b', 'c', 'd']],
      [2000, ['model_version']],
    ]);
    expect(dagContext(config).repositories.map((r) => [r.name, r.tasks.clone, r.tasks.read, r.tasks.update])).toEqual([
      ['etl', 'clone_etl', 'read_version_etl', 'update_variables_etl'],
      ['models', 'clone_models', 'read_version_models', 'update_variables_models'],
    ]);
  });

  it('need unique names and checkout directories that do not overlap', () => {
    expect(problems({ repositories: [twoRepositories[0], { ...twoRepositories[1], name: 'etl' }] })).toEqual([
      'repositories.1.name: duplicate repository name "etl" (also repositories[0])',
    ]);
    for (const checkoutDir of ['cicd-test', 'cicd-test/sub']) {
      expect(problems({ repositories: [twoRepositories[0], { ...twoRepositories[1], checkoutDir }] })).toEqual([
        `repositories.1.checkoutDir: "${checkoutDir}" and the checkoutDir "cicd-test" of repository "etl" overlap; every repository needs its own directory`,
      ]);
    }
    expect(problems({ repositories: [twoRepositories[0], { ...twoRepositories[1], checkoutDir: 'cicd-test2' }] })).toEqual([]);
  });

  it('refuse unsafe names, URLs with credentials, bad branches and paths out of the workspace', () => {
    const one = (change: Record<string, unknown>) => problems({ repositories: [{ ...twoRepositories[0], ...change }] });
    for (const name of ['Etl', 'a__b', '-a', 'a-', 'a b', '', 'x'.repeat(41)]) {
      expect(one({ name }), name).toEqual([expect.stringMatching(/^repositories\.0\.name: /)]);
    }
    expect(one({ url: 'https://user:token@git.example.com/org/repo.git' })).toEqual([
      expect.stringMatching(/^repositories\.0\.url: must not contain a user name or password/),
    ]);
    expect(one({ branch: 'a..b' })).toEqual(['repositories.0.branch: must not contain ".."']);
    for (const checkoutDir of ['../x', 'a/../b', '/abs', '.', 'a/./b', 'a//b', 'a;b']) {
      expect(one({ checkoutDir }), checkoutDir).toEqual([expect.stringMatching(/^repositories\.0\.checkoutDir: /)]);
    }
    expect(one({ versionFile: '../version.yaml' })).toHaveLength(1);
    expect(one({ checkoutDir: 'repos/etl', versionFile: 'www/version.yaml' })).toEqual([]);
  });

  it('refuse two (server, repository, variable) that write one Variable, and keys over 250 characters', () => {
    const found = problems({
      servers: [
        { name: 'gpu', host: '10.0.0.5', hostPublicKey: HOST_KEY },
        { name: 'gpu__etl', host: '10.0.0.6', hostPublicKey: HOST_KEY },
      ],
      repositories: [
        { ...twoRepositories[0], versionFile: { path: 'v.yaml', variables: [{ key: 'a', variable: 'models__a' }] } },
        { ...twoRepositories[1], versionFile: { path: 'v.yaml', variables: [{ key: 'a', variable: 'a' }] } },
      ],
    });
    expect(found).toEqual([
      'repositories.1.versionFile.variables.0.variable: servers[1].name "gpu__etl" with repositories[1].name "models" and ' +
        'repositories.1.versionFile.variables[0].variable "a" and servers[0].name "gpu" with repositories[0].name "etl" and ' +
        'repositories.0.versionFile.variables[0].variable "models__a" both write the Airflow Variable "gpu__etl__models__a"; ' +
        'rename a server, repository or a variable',
    ]);
    const variable = 'v'.repeat(240);
    const long = problems({
      repositories: [{ ...twoRepositories[0], name: 'e'.repeat(20) }, twoRepositories[1]],
      versionFile: { variables: [{ key: 'a', variable }] },
    });
    expect(long).toEqual([
      expect.stringMatching(
        /^versionFile\.variables\.0\.variable: servers\[0\]\.name "gpu-01" with repositories\[0\]\.name "e+" and versionFile\.variables\[0\]\.variable "v+" makes the Airflow Variable key "e+__v+\.\.\." of 262 characters; Airflow allows 250$/,
      ),
    ]);
  });

  it('refuse a duplicate Variable within one repository mapping', () => {
    expect(
      problems({
        repositories: [
          {
            ...twoRepositories[0],
            versionFile: {
              path: 'v.yaml',
              variables: [
                { key: 'a', variable: 'x' },
                { key: 'b', variable: 'x' },
              ],
            },
          },
        ],
      }),
    ).toEqual(['repositories.0.versionFile.variables.1.variable: duplicate Airflow Variable "x"']);
  });

  it('bound the tasks of the DAG that run at once', () => {
    expect(resolved({ repositories: twoRepositories }).dag.maxActiveTasks).toBe(16);
    expect(problems({ repositories: twoRepositories, dag: { maxActiveTasks: 0 } })).toHaveLength(1);
  });
});

describe('the README example of two repositories', () => {
  it('is a valid config and gives the Variable names it shows', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /Two repositories, each with a version file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const example = parseYaml(block as string) as Record<string, unknown>;
    expect(dagVariables({ git: { repoUrl: URL }, ...example })).toEqual([
      { etl: ['etl__a', 'etl__b', 'etl__c', 'etl__d'], models: ['models__model_version'] },
    ]);
  });
});
