/**
 * Configs that the schema must refuse because they would make a broken DAG or deploy, and the
 * rules the config shares with the DAG (one definition, the same meaning in JavaScript and Python).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deepMerge } from '../../../src/config/load.js';
import { environmentSchema } from '../../../src/config/schema.js';
import { DAG_METRICS, ITEM_DIMENSIONS } from '../../../src/config/metrics.js';
import { isLoopbackUrl, scheduleProblem } from '../../../src/config/validators.js';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE';
const base = {
  mwaa: { environmentName: 'env-dev', region: 'us-east-1', bucket: 'airflow-dev-bucket' },
  secrets: { sshKeyArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf' },
  git: { repoUrl: 'https://git.example.com/org/cicd-test.git' },
  servers: [{ name: 'gpu-01', host: '10.0.0.5', hostPublicKey: HOST_KEY }],
};

/** Every problem of a config as `dotted.path: message`. */
function problems(overrides: Record<string, unknown>): string[] {
  const result = environmentSchema.safeParse(deepMerge(base, overrides));
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('config rules that keep the DAG and the deploy working', () => {
  it('accepts the base config', () => {
    expect(problems({})).toEqual([]);
  });

  it('refuses workspace paths with "." components or "//" (the DAG would refuse every default run)', () => {
    for (const workspacePath of ['/home/ubuntu/./ws', '/home/ubuntu//ws', '/home/./', '/a/..', '/a/../b', '//', '/.']) {
      const found = problems({ servers: [{ ...base.servers[0], workspacePath }] });
      expect(found, workspacePath).toEqual([expect.stringMatching(/^servers\.0\.workspacePath: expected an absolute path/)]);
    }
    for (const workspacePath of ['/', '/home/ubuntu/ws', '/home/ubuntu/ws/', '/srv/.hidden/x', '/srv/a..b/c', '/x/...']) {
      expect(problems({ servers: [{ ...base.servers[0], workspacePath }] }), workspacePath).toEqual([]);
    }
  });

  it('refuses a cron expression Airflow would refuse', () => {
    expect(problems({ dag: { schedule: '99 99 99 99 99' } })).toEqual([
      expect.stringMatching(/^dag\.schedule: minute field "99": 99 is out of range 0-59/),
    ]);
    expect(problems({ dag: { schedule: '0 2 * * mon-fri' } })).toEqual([]);
    expect(problems({ dag: { schedule: '@continuous', maxActiveRuns: 2 } })).toEqual([
      'dag.maxActiveRuns: must be 1 with schedule @continuous (Airflow refuses more), got 2',
    ]);
  });

  it('refuses one S3 object for two artifacts', () => {
    expect(problems({ mwaa: { pluginsKey: 'x/a.zip', requirementsKey: 'x/a.zip' } })).toEqual([
      'mwaa.pluginsKey: mwaa.pluginsKey names the S3 object "x/a.zip", which mwaa.requirementsKey already names; every artifact needs its own key',
    ]);
    expect(problems({ mwaa: { dagsPrefix: 'dags', pluginsKey: 'dags/gpu_server_cicd_dag.py' } })).toEqual([
      'mwaa.dagsPrefix: mwaa.dagsPrefix names the S3 object "dags/gpu_server_cicd_dag.py", which mwaa.pluginsKey already names; every artifact needs its own key',
    ]);
    const all = 'same/key.py';
    expect(
      problems({ mwaa: { dagsPrefix: 'same', pluginsKey: 'same/gpu_server_cicd_dag.py', requirementsKey: 'same/gpu_server_cicd_dag.py' } }),
    ).toHaveLength(2);
    expect(problems({ mwaa: { pluginsKey: all, requirementsKey: 'requirements.txt' } })).toEqual([]);
  });

  it("refuses a host that is another server's name, naming both servers", () => {
    const found = problems({
      servers: [
        { name: 'gpu-a', host: 'gpu-b', hostPublicKey: HOST_KEY },
        { name: 'gpu-b', host: '10.0.0.6', hostPublicKey: HOST_KEY },
      ],
    });
    expect(found).toEqual([
      'servers.0.host: "gpu-b" is also the name of servers[1], so the DAG\'s gpu_server_ip "gpu-b" would select both servers[1] (gpu-b) and servers[0] (gpu-a); rename one of them',
    ]);
  });

  it('refuses two (server, variable) pairs that write one Airflow Variable', () => {
    const found = problems({
      servers: [
        { name: 'gpu', host: '10.0.0.5', hostPublicKey: HOST_KEY },
        { name: 'gpu__x', host: '10.0.0.6', hostPublicKey: HOST_KEY },
      ],
      versionFile: {
        variables: [
          { key: 'a', variable: 'x__y' },
          { key: 'b', variable: 'y' },
        ],
      },
    });
    expect(found).toEqual([
      'versionFile.variables.1.variable: servers[1].name "gpu__x" with versionFile.variables[1].variable "y" and servers[0].name "gpu" with versionFile.variables[0].variable "x__y" both write the Airflow Variable "gpu__x__y"; rename a server or a variable',
    ]);
  });

  it('refuses Variable keys longer than Airflow allows', () => {
    const variable = 'v'.repeat(245);
    expect(problems({ versionFile: { variables: [{ key: 'a', variable }] } })).toEqual([]);
    const found = problems({
      servers: [
        { name: 'gpu-01', host: '10.0.0.5', hostPublicKey: HOST_KEY },
        { name: 'gpu-02', host: '10.0.0.6', hostPublicKey: HOST_KEY },
      ],
      versionFile: { variables: [{ key: 'a', variable }] },
    });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(
      /^versionFile\.variables\.0\.variable: servers\[0\]\.name "gpu-01" with versionFile\.variables\[0\]\.variable "v+" makes the Airflow Variable key "gpu-01__v+\.\.\." of 253 characters; Airflow allows 250$/,
    );
  });

  it('refuses credentials in the repository URL and names the right way', () => {
    for (const repoUrl of [
      'https://user:token@git.example.com/org/repo.git',
      'https://token@git.example.com/org/repo.git',
      'ssh://git:secret@git.example.com/org/repo.git',
    ]) {
      const found = problems({ git: { repoUrl } });
      expect(found, repoUrl).toHaveLength(1);
      expect(found[0], repoUrl).toMatch(/^git\.repoUrl: must not contain a (user name or )?password/);
      expect(found[0], repoUrl).toMatch(/deploy key/);
    }
    expect(problems({ git: { repoUrl: 'https://token@git.example.com/r.git' } })[0]).toMatch(/credential helper/);
    for (const repoUrl of ['git@github.com:org/repo.git', 'ssh://git@github.com/org/repo.git', 'https://git.example.com/r.git']) {
      expect(problems({ git: { repoUrl } }), repoUrl).toEqual([]);
    }
  });

  it('has no accept-new host key policy: every server is pinned', () => {
    expect(problems({ ssh: { hostKeyPolicy: 'accept-new' } })).toEqual([
      expect.stringMatching(/^ssh\.hostKeyPolicy: expected "strict".*--print-host-keys/),
    ]);
  });
});

describe('what the config refuses so that later steps cannot fail on it', () => {
  it('refuses as a dimension every name the DAG adds per item, taken from the metric table the DAG is given', () => {
    const added = new Set(Object.values(DAG_METRICS).flatMap((metric) => [...metric.itemDimensions]));
    expect([...ITEM_DIMENSIONS].sort()).toEqual([...added].sort());
    expect(ITEM_DIMENSIONS).toEqual(expect.arrayContaining(['Server', 'Repository']));
    for (const name of ITEM_DIMENSIONS) {
      expect(problems({ monitoring: { metrics: { namespace: 'N', dimensions: { [name]: 'x', Environment: 'e' } } } })).toEqual([
        expect.stringMatching(new RegExp(`^monitoring\\.metrics\\.dimensions\\.${name}: "${name}" is a dimension the DAG adds itself`)),
      ]);
    }
  });

  it('takes webserverScheme http only for the local stack or an MWAA endpoint on loopback', () => {
    const http = { mwaa: { ...base.mwaa, webserverScheme: 'http' } };
    expect(problems(http)).toEqual([expect.stringMatching(/^mwaa\.webserverScheme: "http" would send the CLI token/)]);
    expect(problems({ ...http, localStack: true })).toEqual([]);
    expect(problems({ ...http, aws: { endpoints: { mwaa: 'http://127.0.0.1:4010' } } })).toEqual([]);
    expect(problems({ ...http, aws: { endpoints: { mwaa: 'https://airflow.us-east-1.amazonaws.com' } } })).toHaveLength(1);
    expect(problems({ aws: { endpoints: { mwaa: 'http://10.1.1.1:4010' } } })).toEqual([]);
  });

  it('knows loopback as the URL parser normalises it', () => {
    for (const url of [
      'http://localhost:1',
      'http://127.0.0.1',
      'http://127.255.0.9:80',
      'http://[::1]:9',
      'http://0x7f.1:5',
      'http://2130706433/',
    ])
      expect(isLoopbackUrl(url), url).toBe(true);
    for (const url of [
      undefined,
      '',
      'not a url',
      'http://128.0.0.1',
      'http://[::2]',
      'http://localhost.example.com',
      'http://127.0.0.1.nip.io',
      'http://[::ffff:10.0.0.1]',
    ])
      expect(isLoopbackUrl(url), String(url)).toBe(false);
  });
});

describe('schedule', () => {
  const corpus = JSON.parse(readFileSync('test/fixtures/cron-corpus.json', 'utf8')) as {
    cases: Array<{ schedule: string; valid: boolean }>;
  };

  it('accepts and refuses what the corpus says (Airflow checks the same file)', () => {
    expect(corpus.cases.length).toBeGreaterThanOrEqual(60);
    const wrong = corpus.cases.filter((c) => (scheduleProblem(c.schedule) === undefined) !== c.valid);
    expect(wrong).toEqual([]);
  });
});
