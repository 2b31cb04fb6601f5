/**
 * The day-two commands through the built CLI against the local stack, on the stack's Airflow line:
 * two deploys (the second waits for its run), then history, status, logs and rollback read and
 * change what they left. One stack and one pair of deploys serve every test, in order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runningStackOverlay } from '../../local-stack/src/config-overlay.js';
import { history, logs, status } from '../../src/api.js';
import { configVariant, requireLocalStack } from './deploy-helpers.js';
import { runLocalCli } from '../support/stack.js';

/** Each deploy tags the DAG differently: a change of the DAG file and the resolved config only (no environment update). */
const configs = {
  first: configVariant({ 'dag.tags': ['cicd', 'gpu', 'day-two-first'] }),
  second: configVariant({ 'dag.tags': ['cicd', 'gpu', 'day-two-second'] }),
  undeployed: configVariant({ 'dag.tags': ['cicd', 'gpu', 'day-two-never-deployed'] }),
};

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = runLocalCli(args);
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A command's --json envelope; fails with its stderr when it did not succeed. */
function json<T = Record<string, unknown>>(args: string[]): T & { ok: boolean; command: string } {
  const run = cli([...args, '--json']);
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T & { ok: boolean; command: string };
}

interface HistoryJson {
  records: Array<{ id: string; key: string; kind: string; who: { arn?: string; user: string }; restored?: string; objects: unknown[] }>;
}
interface StatusJson {
  drift: boolean;
  environment: { status: string; airflowVersion: string };
  artifacts: Array<{ kind: string; state: string }>;
  airflow: { paused?: boolean; importErrors: unknown[]; runs: Array<{ runId: string; state: string }> };
}

const deployed: { first?: string; second?: string; runId?: string } = {};

describe('day-two operations', () => {
  beforeAll(() => {
    requireLocalStack();
    const first = json<{ record: string }>(['deploy', '--env', 'local', '--config', configs.first, '--yes', '--no-trigger']);
    const second = json<{ record: string; runId: string; runState: string }>([
      'deploy',
      '--env',
      'local',
      '--config',
      configs.second,
      '--yes',
      '--wait',
      '--no-smoke',
    ]);
    expect(second.runState).toBe('success');
    Object.assign(deployed, { first: first.record, second: second.record, runId: second.runId });
  });

  it('history lists both deploys, newest first, each with the caller ARN from STS', () => {
    const history = json<HistoryJson>(['history', '--env', 'local', '--config', configs.second]);
    expect(history.command).toBe('history');
    const [newest, before] = history.records;
    expect([newest?.key, before?.key]).toEqual([deployed.second, deployed.first]);
    for (const record of [newest!, before!]) {
      expect(record.kind).toBe('deploy');
      // moto's answer to GetCallerIdentity for the stack's test credentials.
      expect(record.who.arn).toMatch(/^arn:aws:sts::\d{12}:user\//);
    }
    const text = cli(['history', '--env', 'local', '--config', configs.second]);
    expect(text.stdout).toContain(newest!.id);
    expect(text.stdout).toContain(`who      ${newest!.who.arn}`);
  });

  it('status shows no drift for what was deployed, and drift for a config not deployed', () => {
    const now = json<StatusJson>(['status', '--env', 'local', '--config', configs.second]);
    expect(now.environment.status).toBe('AVAILABLE');
    expect(now.drift).toBe(false);
    expect(now.artifacts.every((a) => a.state === 'in-sync')).toBe(true);
    expect(now.airflow.paused).toBe(false);
    expect(now.airflow.importErrors).toEqual([]);
    expect(now.airflow.runs[0]).toMatchObject({ runId: deployed.runId, state: 'success' });

    const changed = json<StatusJson>(['status', '--env', 'local', '--config', configs.undeployed]);
    expect(changed.drift).toBe(true);
    expect(
      changed.artifacts
        .filter((a) => a.state === 'drift')
        .map((a) => a.kind)
        .sort(),
    ).toEqual(['config', 'dag']);
    const text = cli(['status', '--env', 'local', '--config', configs.undeployed]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Drift: 2 artifacts differ/m);
  });

  it("logs prints the latest run's task logs, and one server's task by its map index", () => {
    const all = cli(['logs', '--env', 'local', '--config', configs.second, '--lines', '30']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(`Run ${deployed.runId} of gpu_server_cicd_workflow: success`);
    // The library's own log line, in the task that logs the run's targets.
    expect(all.stdout).toMatch(/^ {2}\| .*Run targets 1 server\(s\): local-gpu$/m);

    const one = json<{ runId: string; tasks: Array<{ taskId: string; mapIndex: number; server?: string; lines?: string[] }> }>([
      'logs',
      '--env',
      'local',
      '--config',
      configs.second,
      '--server',
      'local-gpu',
      '--task',
      'clone_and_checkout_repo',
      '--run',
      deployed.runId!,
    ]);
    expect(one.tasks).toHaveLength(1);
    expect(one.tasks[0]).toMatchObject({ taskId: 'clone_and_checkout_repo', mapIndex: 0, server: 'local-gpu' });
    expect(one.tasks[0]!.lines!.join('\n')).toMatch(/git/);
  });

  it('the programmatic API reads what the commands print: status, history and logs', async () => {
    const options = { env: 'local', config: configs.second, localStackOverlay: () => runningStackOverlay() };
    const warnings: string[] = [];
    const [now, records, run] = await Promise.all([
      status({ ...options, runs: 1, onWarning: (message) => warnings.push(message) }),
      history(options),
      logs({ ...options, task: 'validate_inputs', lines: 5 }),
    ]);
    expect(now.drift).toBe(false);
    expect(now.environment.status).toBe('AVAILABLE');
    expect(now.airflow).toMatchObject({ paused: false, importErrors: [], runs: [{ runId: deployed.runId, state: 'success' }] });
    expect(records.entries.map((entry) => entry.key).slice(0, 2)).toEqual([deployed.second, deployed.first]);
    expect(run).toMatchObject({ runId: deployed.runId, runState: 'success', lines: 5 });
    expect(run.tasks.map((task) => task.taskId)).toEqual(['validate_inputs']);
    expect(run.tasks[0]!.lines!.length).toBeLessThanOrEqual(5);
    expect(warnings).toEqual([]);
  });

  it('rollback --to the first record restores it; status and history confirm', () => {
    const firstId = deployed
      .first!.split('/')
      .pop()!
      .replace(/\.json$/, '');
    const rollback = cli(['rollback', '--env', 'local', '--config', configs.second, '--to', firstId.slice(-12), '--yes', '--no-trigger']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain('restore');

    expect(json<StatusJson>(['status', '--env', 'local', '--config', configs.first]).drift).toBe(false);
    const [newest] = json<HistoryJson>(['history', '--env', 'local', '--config', configs.first]).records;
    expect(newest).toMatchObject({ kind: 'rollback', restored: firstId });
    expect(newest!.who.arn).toMatch(/^arn:aws:sts::/);
  });

  it('a command of another tool answers with the one that does it here', () => {
    const plan = cli(['plan', '--env', 'local']);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(/What does it: (npx )?mwaa-gpu-cicd deploy --env <env> --plan \(what would change/);
  });
});
