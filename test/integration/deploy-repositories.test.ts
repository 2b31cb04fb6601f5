/**
 * A deploy whose config checks out two repositories, against the running local stack: the DAG
 * run succeeds in the real Airflow, each repository's version file becomes its own Variables,
 * and `check --compare-variables` checks both checkouts and both sets of Variables.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { createMwaaCli } from '../../src/mwaa/cli-client.js';
import type { AirflowVersion } from '../../src/mwaa/versions.js';
import { configVariant, requireLocalStack, runCheck, runDeploy } from './deploy-helpers.js';
import { stackFetch, stackMwaa } from '../support/stack.js';

const stack = requireLocalStack();
const mwaa = stackMwaa(stack);
const SECOND = 'it-second-checkout';

const config = configVariant({
  'dag.description': `two repositories ${process.pid}`,
  // The defaults' git block gives way to the list.
  git: null,
  repositories: [
    { name: 'etl', url: stack.git.remoteUrl, branch: stack.git.branch, checkoutDir: 'cicd-test', versionFile: 'www/version.yaml' },
    { name: 'second', url: stack.git.remoteUrl, branch: stack.git.branch, checkoutDir: SECOND, versionFile: 'www/version.yaml' },
  ],
});

afterAll(async () => {
  rmSync(join(stack.workspace, SECOND), { recursive: true, force: true });
  // Put the environment back on the standard config's artifacts for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
});

describe('a config with two repositories', () => {
  it('deploys, runs to success, writes Variables for both, and the check passes on both', async () => {
    const out = await runDeploy(['--env', 'local', '--config', config, '--yes', '--wait', '--json', '--timeout', '8m']);
    expect(out.code, out.stderr).toBe(0);
    expect((JSON.parse(out.stdout) as { runState: string }).runState).toBe('success');

    const versionYaml = parseYaml(
      execFileSync('git', ['--git-dir', stack.git.remoteUrl, 'show', `${stack.git.branch}:www/version.yaml`], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    const cli = createMwaaCli(mwaa, stack.environmentName, 'https', stack.airflowVersion as AirflowVersion, { fetch: stackFetch(stack) });
    for (const repository of ['etl', 'second']) {
      for (const key of ['a', 'b', 'c', 'd']) {
        const got = await cli.run(['variables', 'get', `${repository}__${key}`]);
        expect(got.stdout.trim(), `Variable ${repository}__${key}: ${got.stderr}`).toBe(String(versionYaml[key]));
      }
    }

    const checked = await runCheck(['--env', 'local', '--config', config, '--compare-variables', '--json']);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    const report = JSON.parse(checked.stdout) as {
      servers: Array<{ checks: Array<{ name: string; repository?: string; status: string }> }>;
    };
    expect(report.servers[0]?.checks.map((c) => [c.name, c.repository ?? null, c.status])).toEqual([
      ['reachable', null, 'pass'],
      ['whoami', null, 'pass'],
      ['checkout', 'etl', 'pass'],
      ['version-file', 'etl', 'pass'],
      ['checkout', 'second', 'pass'],
      ['version-file', 'second', 'pass'],
      ['variables', 'etl', 'pass'],
      ['variables', 'second', 'pass'],
    ]);
  });
});
