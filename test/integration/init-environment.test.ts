/**
 * `init --mwaa-environment X` reads X's Airflow version (and region, account, bucket) with
 * GetEnvironment, here from the local stack's control plane, with only the settings `local env`
 * prints (as a user's shell would have them).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { clientEnv } from '../../local-stack/src/client-env.js';
import type { LocalStackState } from '../../local-stack/src/state.js';
import { DEFAULT_AIRFLOW_VERSION } from '../../src/mwaa/versions.js';
import { runCliAsync } from '../support/cli.js';
import { requireStack } from '../support/stack.js';

let state: LocalStackState;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  state = requireStack();
  dir = mkdtempSync(join(tmpdir(), 'init-env-'));
  env = Object.fromEntries(clientEnv(state));
  // The stack's MWAA_LOCAL_HOME would make `local` environments resolve; init needs none of it.
  delete env.MWAA_LOCAL_HOME;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Written {
  defaults: { airflow: { version: string } };
  environments: Record<string, { mwaa: { region: string; accountId: string; bucket: string; environmentName: string } }>;
}

describe('init --mwaa-environment', () => {
  it("writes the environment's own Airflow version, region, account and bucket", async () => {
    const cwd = mkdtempSync(join(dir, 'known-'));
    const run = await runCliAsync(['init', '--env', 'dev', '--mwaa-environment', state.environmentName, '--json'], { cwd, env });
    expect(run.status, run.stderr).toBe(0);
    const written = parseYaml(readFileSync(join(cwd, 'config/config.yaml'), 'utf8')) as Written;
    expect(written.defaults.airflow.version).toBe(state.airflowVersion);
    expect(written.environments.dev!.mwaa).toMatchObject({
      environmentName: state.environmentName,
      region: state.region,
      bucket: state.bucket,
    });
    expect(written.environments.dev!.mwaa.accountId).toMatch(/^\d{12}$/);
    expect(run.stderr).toContain(`runs Airflow ${state.airflowVersion}`);
    const document = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(document).toMatchObject({ ok: true, command: 'init', mwaaEnvironment: { read: true, airflowVersion: state.airflowVersion } });
  });

  it('says why it could not read an environment that does not exist, and writes the default version', async () => {
    const cwd = mkdtempSync(join(dir, 'unknown-'));
    const run = await runCliAsync(['init', '--mwaa-environment', 'no-such-environment'], { cwd, env });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Could not read MWAA environment no-such-environment \(.*(not found|ResourceNotFound|does not exist)/i);
    const written = parseYaml(readFileSync(join(cwd, 'config/config.yaml'), 'utf8')) as Written;
    expect(written.defaults.airflow.version).toBe(DEFAULT_AIRFLOW_VERSION);
  });
});
