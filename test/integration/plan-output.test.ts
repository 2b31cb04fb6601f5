/**
 * What `deploy --plan` shows against the local stack: the content diff of a DAG-only change (text,
 * Markdown, JSON, and the programmatic API), and a refused plan printed once with its refusals
 * and nothing else, in text and with --json. Also `parse` importing the DAG in the stack's Airflow.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';
import { plan } from '../../src/api.js';
import { importDags } from '../../src/cli/dag-import.js';
import { renderPluginsZip } from '../../src/generator/render-plugins.js';
import { configVariant, explicitStackEnvironment, requireLocalStack, runDeploy } from './deploy-helpers.js';
import { runLocalCli, stackS3 } from '../support/stack.js';

const stack = requireLocalStack();
const s3 = stackS3(stack);
const run = randomUUID().slice(0, 8);
const deployments = `deployments-plan-${run}`;
const DAG_KEY = 'dags/gpu_server_cicd_dag.py';

/** The shipped config's local environment, on this file's own deploy records; `patch` on top. */
function config(patch: Record<string, unknown> = {}): string {
  return configVariant({ 'mwaa.deploymentsPrefix': deployments, 'dag.description': `plan output test ${run}`, ...patch });
}

const base = config();
const dagOnly = config({ 'dag.retries': 3 });

beforeAll(async () => {
  const deployed = await runDeploy(['--env', 'local', '--config', base, '--yes', '--no-trigger']);
  if (deployed.code !== 0) throw new Error(`base deploy failed:\n${deployed.stderr}`);
});

afterAll(async () => {
  // The standard config's artifacts back in place for the suites that follow.
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger']);
  if (restore.code !== 0) throw new Error(`restoring the standard deploy failed:\n${restore.stderr}`);
});

describe('deploy --plan --diff for a DAG-only change', () => {
  it('prints the plan, then a unified diff of the DAG and config against the objects in the bucket, and changes nothing', async () => {
    const out = await runDeploy(['--env', 'local', '--config', dagOnly, '--plan', '--diff', '--detailed-exitcode']);
    expect(out.code, out.stderr).toBe(3);
    const [planText, diffText] = out.stdout.split('\n\n=== ');
    expect(planText).toMatch(/skip +requirements\.txt +unchanged, pinned version /);
    expect(planText).toMatch(/skip +plugins\.zip +unchanged, pinned version /);
    expect(planText).toMatch(/upload +dags\/gpu_server_cicd_dag\.py +changed/);
    expect(planText).toMatch(/2 changes\.$/);
    expect(diffText).toMatch(
      /^dags\/gpu_server_cicd_dag\.py: changed DAG file, against the current object \(version [\w.-]+\)\n--- a\/dags\/gpu_server_cicd_dag\.py\n\+\+\+ b\/dags\/gpu_server_cicd_dag\.py\n@@ /,
    );
    expect(out.stdout).toMatch(/\n-TASK_RETRIES = 0\n(\+DAG_TAGS = .*\n)?\+TASK_RETRIES = 3\n/);
    expect(out.stdout).toMatch(
      /=== config\/local\/config\.yaml: changed resolved config[^\n]*\n[\s\S]*\n- {2}retries: 0\n\+ {2}retries: 3\n/,
    );
    // Only the objects that change are diffed: nothing about plugins.zip or requirements.txt.
    expect(out.stdout.match(/^=== /gm)).toHaveLength(2);
    expect(out.stdout).not.toMatch(/=== (plugins\.zip|requirements\.txt)/);
    // Nothing was written: planning again gives the same plan.
    const again = await runDeploy(['--env', 'local', '--config', dagOnly, '--plan', '--detailed-exitcode']);
    expect(again.code).toBe(3);
  });

  it('as Markdown for a job summary, and as JSON', async () => {
    const markdown = await runDeploy(['--env', 'local', '--config', dagOnly, '--plan', '--diff', '--format', 'markdown']);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout).toMatch(/^### Deploy plan for `local-gpu-cicd` \(local\)\n/);
    expect(markdown.stdout).toContain('| upload | `dags/gpu_server_cicd_dag.py` | changed, ');
    expect(markdown.stdout).toMatch(
      /<details><summary>dags\/gpu_server_cicd_dag\.py: changed DAG file, [^<]*<\/summary>\n\n```diff\n--- a\/dags/,
    );
    const json = await runDeploy(['--env', 'local', '--config', dagOnly, '--plan', '--diff', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { ok: boolean; changes: number; diffs: Array<{ key: string; change: string; diff: string }> };
    expect(doc.ok).toBe(true);
    expect(doc.changes).toBe(2);
    expect(doc.diffs.map((d) => [d.key, d.change])).toEqual([
      [DAG_KEY, 'changed'],
      ['config/local/config.yaml', 'changed'],
    ]);
    expect(doc.diffs[0]!.diff).toContain('+TASK_RETRIES = 3\n');
  });

  it('through the programmatic API', async () => {
    const result = await plan({ env: 'local', config: dagOnly, diff: true, localStackOverlay: () => runningStackOverlay() });
    expect(result.refused).toBe(false);
    expect(result.changes).toBe(2);
    expect(result.diffs?.map((d) => d.key)).toEqual([DAG_KEY, 'config/local/config.yaml']);
  });
});

describe('a refused plan', () => {
  /**
   * An environment that reaches the stack through explicit endpoints (not `localStack: true`),
   * so its Airflow version can differ from the one the environment runs.
   */
  function mismatchConfig(): string {
    return explicitStackEnvironment(stack, 'mismatch', {
      airflowVersion: '2.9.2',
      mwaa: { deploymentsPrefix: deployments },
    });
  }
  const credentials = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

  it('shows each refusal once, never "No changes", and with --json prints the refusals and the plan', async () => {
    const file = mismatchConfig();
    await s3.send(new PutBucketVersioningCommand({ Bucket: stack.bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    try {
      const text = await runDeploy(['--env', 'mismatch', '--config', file, '--plan'], credentials);
      expect(text.code).toBe(1);
      const lines = text.stdout.trimEnd().split('\n');
      expect(lines.filter((l) => l.includes('REFUSED:'))).toHaveLength(2);
      expect(text.stdout).toMatch(/REFUSED: Bucket airflow-local-gpu-cicd has versioning Suspended;.*Run: aws s3api put-bucket-versioning/);
      expect(text.stdout).toMatch(
        new RegExp(
          `REFUSED: Environment ${stack.environmentName} runs Airflow ${stack.airflowVersion.replace(/\./g, '\\.')} but the config targets 2\\.9\\.2`,
        ),
      );
      expect(text.stdout).not.toMatch(/No changes/);
      expect(lines.at(-1)).toMatch(/^Refused: (none of the \d+ changes?|nothing) will be applied until the problems above are fixed\.$/);
      expect(text.stderr).toBe(
        'Deploy refused (bucket versioning, Airflow version); nothing was changed. The REFUSED lines of the plan say what to do.\n',
      );

      const json = await runDeploy(['--env', 'mismatch', '--config', file, '--plan', '--json'], credentials);
      expect(json.code).toBe(1);
      const doc = JSON.parse(json.stdout) as {
        ok: boolean;
        error: { exitCode: number; refusals: Array<{ code: string }>; plan: { actions: unknown[] } };
      };
      expect(doc.ok).toBe(false);
      expect(doc.error.exitCode).toBe(1);
      expect(doc.error.refusals.map((r) => r.code)).toEqual(['versioning', 'airflow-version']);
      expect(doc.error.plan.actions.length).toBeGreaterThan(0);
    } finally {
      await s3.send(new PutBucketVersioningCommand({ Bucket: stack.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    }
  });
});

describe("parse with the local stack's Airflow", () => {
  it('imports the rendered DAG in a real DagBag', () => {
    const out = runLocalCli(['parse', '--env', 'local', '--config', base]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      new RegExp(
        `^ok {4}local: DAG gpu_server_cicd_workflow imports in Airflow ${stack.airflowVersion.replace(/\./g, '\\.')} \\(\\d+ tasks, no import errors\\)\\n$`,
      ),
    );
  });

  it('imports with the python given by --airflow-python or $MWAA_AIRFLOW_PYTHON, without looking at the stack', () => {
    const python = join(stack.venvBin, 'python');
    // No stack venvs where the lookup would look: only the given python can import.
    const env = { ...process.env, MWAA_LOCAL_VENVS: join(base, '..', 'no-venvs-here') };
    const ok = new RegExp(`^ok {4}local: DAG gpu_server_cicd_workflow imports in Airflow ${stack.airflowVersion.replace(/\./g, '\\.')} `);
    const flagged = runLocalCli(['parse', '--env', 'local', '--config', base, '--airflow-python', python], env);
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(flagged.stdout).toMatch(ok);
    expect(flagged.stderr).toContain(`(--airflow-python: ${python})`);
    const variable = runLocalCli(['parse', '--env', 'local', '--config', base], { ...env, MWAA_AIRFLOW_PYTHON: python });
    expect(variable.status, variable.stderr).toBe(0);
    expect(variable.stdout).toMatch(ok);
    expect(variable.stderr).toContain(`(MWAA_AIRFLOW_PYTHON: ${python})`);
  });

  it('reports the import error of a DAG that does not import', async () => {
    const python = join(stack.venvBin, 'python');
    const [broken] = await importDags(python, [
      {
        env: 'broken',
        airflowVersion: stack.airflowVersion,
        dagId: 'gpu_server_cicd_workflow',
        dagFile: { name: 'broken_dag.py', bytes: Buffer.from('from airflow import DAG\nimport module_that_does_not_exist\n') },
        pluginsZip: await renderPluginsZip(),
      },
    ]);
    expect(Object.values(broken!.importErrors).join('\n')).toMatch(/No module named 'module_that_does_not_exist'/);
  });
});
