/**
 * Configs that validated but broke something later, refused by the real command
 * (`generate --check`, which validates every environment) with the field and what to do: plain
 * HTTP to a real MWAA web server, a metric dimension the DAG adds itself, a branch git would not
 * accept, and a git remote whose host or user ssh would read as an option.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { repoRoot, runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();
const shipped = readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8');

/** A project whose config is the shipped one with `values` set at their paths. */
function project(values: Array<[Array<string | number>, unknown]>): string {
  const doc = parseDocument(shipped);
  for (const [path, value] of values) doc.setIn(path, value);
  const dir = tmp();
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config/config.yaml'), doc.toString());
  return dir;
}

function check(values: Array<[Array<string | number>, unknown]>) {
  return runCli(['generate', '--check'], { cwd: project(values) });
}

/** The problem lines of a refused config (without the header). */
function problemLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());
}

describe('mwaa.webserverScheme: http only on loopback', () => {
  const scheme: [string[], unknown] = [['environments', 'dev', 'mwaa', 'webserverScheme'], 'http'];

  it('refuses plain HTTP for a real environment, naming the field and what to do', () => {
    const run = check([scheme]);
    expect(run.status, run.stderr).toBe(2);
    expect(problemLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^config\/config\.yaml:\d+:\d+: environments\.dev\.mwaa\.webserverScheme: "http" would send the CLI token, the web login token and the 12-hour session cookie in clear text; .*use https \(the default\): plain HTTP is only for the local stack \(localStack: true\) or an aws\.endpoints\.mwaa on loopback/,
      ),
    ]);
  });

  it('refuses it with an MWAA endpoint that is not on loopback, whatever its form', () => {
    const hosts = ['10.0.0.1', '128.0.0.1', '[::2]', 'localhost.example.com', '127.0.0.1.nip.io', 'mwaa.internal', '[fe80::1]'];
    for (const host of hosts) {
      const run = check([scheme, [['environments', 'dev', 'aws'], { endpoints: { mwaa: `http://${host}:4000` } }]]);
      expect(run.status, host).toBe(2);
      expect(run.stderr, host).toMatch(/environments\.dev\.mwaa\.webserverScheme: "http" would send/);
    }
  });

  it('allows it when aws.endpoints.mwaa is on loopback (the local stack, or a stand-in of it)', () => {
    const random = (n: number) => Math.floor(Math.random() * n);
    const hosts = ['localhost', '[::1]', '127.0.0.1', `127.${random(256)}.${random(256)}.${1 + random(254)}`];
    for (const host of hosts) {
      const run = check([scheme, [['environments', 'dev', 'aws'], { endpoints: { mwaa: `http://${host}:${1024 + random(60000)}` } }]]);
      expect(run.status, `${host}: ${run.stderr}`).toBe(0);
    }
  });
});

describe('monitoring.metrics.dimensions: not the names the DAG adds', () => {
  it.each(['Server', 'Repository'])('refuses a dimension named %s, naming the field and what to do', (name) => {
    const run = check([
      [['environments', 'dev', 'monitoring'], { metrics: { namespace: 'GpuCicd', dimensions: { Environment: 'dev', [name]: 'x' } } }],
    ]);
    expect(run.status, run.stderr).toBe(2);
    expect(problemLines(run.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^config/config\\.yaml:\\d+:\\d+: environments\\.dev\\.monitoring\\.metrics\\.dimensions\\.${name}: "${name}" is a dimension the DAG adds itself \\(Server, Repository\\); CloudWatch refuses a datum that names a dimension twice\\. Rename it`,
        ),
      ),
    ]);
  });

  it('accepts other names, including these in another case', () => {
    const run = check([
      [
        ['environments', 'dev', 'monitoring'],
        { metrics: { namespace: 'GpuCicd', dimensions: { server: 'a', GpuServer: 'b', Repo: 'c' } } },
      ],
    ]);
    expect(run.status, run.stderr).toBe(0);
  });
});

describe('branch: only names git accepts as a branch', () => {
  it('refuses HEAD in git.branch and in repositories[].branch', () => {
    const single = check([[['defaults', 'git', 'branch'], 'HEAD']]);
    expect(single.status, single.stderr).toBe(2);
    expect(single.stderr).toMatch(
      /defaults\.git\.branch: must not be "HEAD": git does not accept it as a branch name \(git check-ref-format --branch\); name the branch to check out/,
    );
    const several = check([
      [['defaults', 'git'], null],
      [['defaults', 'repositories'], [{ name: 'etl', url: 'git@github.com:o/r.git', branch: 'HEAD', checkoutDir: 'etl' }]],
    ]);
    expect(several.status, several.stderr).toBe(2);
    expect(several.stderr).toMatch(/defaults\.repositories\[0\]\.branch: must not be "HEAD"/);
  });
});

describe('git remotes: no host, user or port that ssh would read as an option', () => {
  it.each([
    ['ssh://-oProxyCommand/x.git', 'the host "-oProxyCommand"'],
    ['-utouch@host:path', 'the user "-utouch"'],
  ])('refuses %s with the reason', (url, part) => {
    const run = check([[['defaults', 'git', 'repoUrl'], url]]);
    expect(run.status, run.stderr).toBe(2);
    expect(problemLines(run.stderr)).toEqual([
      expect.stringContaining(
        `defaults.git.repoUrl: ${part} starts with "-", which ssh would read as an option (git refuses such URLs as "strange"); `,
      ),
    ]);
  });
});
