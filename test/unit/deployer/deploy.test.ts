import { describe, expect, it } from 'vitest';
import { deploy, type DeployOptions, type DeploySettings } from '../../../src/deployer/deploy.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { LockHeldError, acquireLock } from '../../../src/deployer/lock.js';
import type { DeployTarget } from '../../../src/deployer/plan.js';
import { FakeCli, FakeClock, FakeMwaa, FakeS3 } from './fakes.js';
import { SETTINGS, targets } from './helpers.js';

const DEPLOY_SETTINGS: DeploySettings = {
  ...SETTINGS,
  envName: 'local',
  deploymentsPrefix: 'deployments',
  dagId: 'gpu_server_cicd_workflow',
  airflowLine: '2',
  configHash: 'c'.repeat(64),
};

const OPTIONS: DeployOptions = {
  trigger: false,
  timeoutMs: 3_600_000,
  poll: { environmentMs: 1000, dagMs: 1000, runMs: 1000 },
  dagSettleMs: 5000,
  lockTtlMs: 600_000,
};

/** A CLI endpoint whose DAG is parsed, paused, and whose run succeeds after two polls. */
function airflowCli(marker = 'config-cccccccccccc') {
  let runPolls = 0;
  return new FakeCli((argv) => {
    const cmd = argv.slice(0, 2).join(' ');
    if (cmd === 'dags list-import-errors') return { stdout: '[]' };
    if (cmd === 'dags details') {
      // As Airflow 2.10 prints it: the boolean as the string "True", after a log line.
      return {
        stdout: `[2026-11-26T09:00:00.000+0000] {dagbag.py:588} INFO - Filling up the DagBag\n${JSON.stringify([{ dag_id: argv[2], is_paused: 'True', tags: [{ name: 'cicd' }, { name: marker }] }])}\n`,
      };
    }
    if (cmd === 'dags unpause') return { stdout: 'Dag: x, paused: False' };
    if (cmd === 'dags trigger') {
      return { stdout: `some log line\n[{"dag_id": "${argv[2]}", "dag_run_id": "manual__2026-11-26T09:00:00+00:00", "state": "queued"}]\n` };
    }
    if (cmd === 'dags list-runs') {
      runPolls += 1;
      return { stdout: JSON.stringify([{ run_id: 'manual__2026-11-26T09:00:00+00:00', state: runPolls > 2 ? 'success' : 'running' }]) };
    }
    if (cmd === 'tasks states-for-dag-run') {
      return { stdout: JSON.stringify([{ task_id: 'validate_inputs', state: 'success' }, { task_id: 'cleanup_temp_files', state: runPolls > 2 ? 'success' : null }]) };
    }
    return { stderr: `unexpected ${argv.join(' ')}` };
  });
}

function world() {
  const clock = new FakeClock();
  const s3 = new FakeS3();
  const mwaa = new FakeMwaa(clock, { name: 'env-x' });
  const cli = airflowCli();
  const events: DeployEvent[] = [];
  // Record the order of S3 writes and environment status changes in one log.
  const log: string[] = [];
  s3.beforeWrite = (key) => log.push(`write ${key}`);
  mwaa.onStatusChange = (status) => log.push(`env ${status}`);
  const deps = { s3, mwaa, cli, clock, emit: (e: DeployEvent) => events.push(e), who: { user: 'tester', host: 'box', pid: 42 } };
  const run = (t: DeployTarget[] = targets(), options: Partial<DeployOptions> = {}) =>
    deploy(DEPLOY_SETTINGS, t, { ...OPTIONS, ...options }, deps);
  return { clock, s3, mwaa, cli, events, log, deps, run };
}

describe('deploy', () => {
  it('first deploy: plugins+requirements, one update pinning their versions, AVAILABLE, then DAG+config, then a record', async () => {
    const w = world();
    const result = await w.run();
    expect(w.log).toEqual([
      'write deployments/lock.json',
      'write requirements.txt',
      'write plugins.zip',
      'env UPDATING',
      'env AVAILABLE',
      'write dags/gpu_server_cicd_dag.py',
      'write config/local/config.yaml',
      expect.stringMatching(/^write deployments\/records\/2026-11-26T09-00-0\d\.\d{3}Z-[0-9a-f]{12}\.json$/),
    ]);
    const pinnedPlugins = w.s3.objects.get('plugins.zip')![0]!.versionId;
    const pinnedReqs = w.s3.objects.get('requirements.txt')![0]!.versionId;
    expect(w.mwaa.updates).toEqual([
      { plugins: { path: 'plugins.zip', version: pinnedPlugins }, requirements: { path: 'requirements.txt', version: pinnedReqs } },
    ]);
    expect(result.applied).toMatchObject({ writes: 4, updatedEnvironment: true });
    const record = JSON.parse(w.s3.text(result.recordKey!)!);
    expect(record).toMatchObject({
      kind: 'deploy',
      environment: 'local',
      who: { user: 'tester', host: 'box' },
      pins: { plugins: { path: 'plugins.zip', version: pinnedPlugins } },
    });
    expect(record.objects).toHaveLength(4);
    expect(w.s3.text('deployments/lock.json')).toBeUndefined();
  });

  it('second deploy with nothing changed: no S3 write at all, no update, no lock', async () => {
    const w = world();
    await w.run();
    const writesBefore = w.s3.writes.length;
    const result = await w.run();
    expect(result.plan.changes).toBe(0);
    expect(w.s3.writes.length).toBe(writesBefore);
    expect(w.mwaa.updates).toHaveLength(1);
  });

  it('DAG-only change: exactly one upload plus the record, no update', async () => {
    const w = world();
    await w.run();
    w.log.length = 0;
    await w.run(targets({ dag: 'dag v2' }));
    expect(w.log.filter((l) => !l.includes('deployments/'))).toEqual(['write dags/gpu_server_cicd_dag.py']);
    expect(w.mwaa.updates).toHaveLength(1);
  });

  it('UPDATE_FAILED: error carries LastUpdate, DAG not uploaded, lock released, no record', async () => {
    const w = world();
    await w.run();
    w.mwaa.failNextUpdate = 'ModuleNotFoundError: broken_module';
    w.log.length = 0;
    const error = await w.run(targets({ plugins: 'broken', dag: 'dag v2' })).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/UPDATE_FAILED.*broken_module/);
    expect(w.log).toEqual(['write deployments/lock.json', 'write plugins.zip', 'env UPDATING', 'env UPDATE_FAILED']);
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');
    expect(w.s3.text('deployments/lock.json')).toBeUndefined();
  });

  it('a deploy that died after uploading plugins converges with one update and no second upload', async () => {
    const w = world();
    await w.run();
    w.s3.beforeWrite = (key) => {
      w.log.push(`write ${key}`);
      if (key === 'dags/gpu_server_cicd_dag.py') throw new Error('killed');
    };
    // Dies after the update, before the DAG: the next run must not upload plugins again nor update again.
    await expect(w.run(targets({ plugins: 'plugins v2', dag: 'dag v2' }))).rejects.toThrow('killed');
    expect(w.mwaa.updates).toHaveLength(2);
    w.s3.beforeWrite = (key) => w.log.push(`write ${key}`);
    w.log.length = 0;
    await w.run(targets({ plugins: 'plugins v2', dag: 'dag v2' }));
    expect(w.log.filter((l) => !l.includes('deployments/'))).toEqual(['write dags/gpu_server_cicd_dag.py']);
    expect(w.mwaa.updates).toHaveLength(2);
  });

  it('killed between upload and update: the rerun pins the uploaded version without uploading it again', async () => {
    const w = world();
    await w.run();
    const update = w.mwaa.updateEnvironment.bind(w.mwaa);
    w.mwaa.updateEnvironment = async () => {
      throw new Error('killed');
    };
    await expect(w.run(targets({ plugins: 'plugins v2' }))).rejects.toThrow('killed');
    w.mwaa.updateEnvironment = update;
    w.log.length = 0;
    await w.run(targets({ plugins: 'plugins v2' }));
    expect(w.log.filter((l) => !l.includes('deployments/'))).toEqual(['env UPDATING', 'env AVAILABLE']);
    expect(w.mwaa.updates.at(-1)!.plugins?.version).toBe(w.s3.objects.get('plugins.zip')!.at(-1)!.versionId);
  });

  it('rollback copies the previous record’s plugins version back and pins the copy', async () => {
    const w = world();
    await w.run();
    const v1 = w.s3.objects.get('plugins.zip')![0]!.versionId;
    await w.run(targets({ plugins: 'plugins v2' }));
    expect(w.s3.text('plugins.zip')).toBe('plugins v2');
    const result = await w.run(targets({ plugins: 'plugins v2' }), { rollback: true });
    expect(w.s3.text('plugins.zip')).toBe('plugins v1');
    expect(w.s3.calls).toContain(`copy plugins.zip@${v1}`);
    const copied = w.s3.objects.get('plugins.zip')!.at(-1)!.versionId;
    expect(w.mwaa.state.pins.plugins?.version).toBe(copied);
    expect(result.rollbackOf).toMatch(/^deployments\/records\//);
    expect(JSON.parse(w.s3.text(result.recordKey!)!)).toMatchObject({ kind: 'rollback', restored: result.rollbackOf });
  });

  it('a deploy killed before writing its record leaves a reconcile record on the rerun; rollback then goes back one', async () => {
    const w = world();
    await w.run(targets({ dag: 'dag v1' }));
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v2' }));
    w.clock.ms += 1000;
    w.s3.beforeWrite = (key) => {
      if (key.startsWith('deployments/records/')) throw new Error('killed');
    };
    await expect(w.run(targets({ dag: 'dag v3' }))).rejects.toThrow('killed');
    w.s3.beforeWrite = undefined;
    w.clock.ms += 1000;
    const rerun = await w.run(targets({ dag: 'dag v3' }));
    expect(rerun.plan.changes).toBe(0);
    expect(JSON.parse(w.s3.text(rerun.recordKey!)!)).toMatchObject({ kind: 'reconcile' });
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v3' }), { rollback: true });
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v2');
  });

  it('a rollback with an unrecorded live state goes back to the newest record', async () => {
    const w = world();
    await w.run(targets({ dag: 'dag v1' }));
    w.clock.ms += 1000;
    w.s3.beforeWrite = (key) => {
      if (key.startsWith('deployments/records/')) throw new Error('killed');
    };
    await expect(w.run(targets({ dag: 'dag v2' }))).rejects.toThrow('killed');
    w.s3.beforeWrite = undefined;
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v2' }), { rollback: true });
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');
  });

  it('successive rollbacks walk back through history instead of toggling', async () => {
    const w = world();
    for (const version of ['v1', 'v2', 'v3']) {
      await w.run(targets({ dag: `dag ${version}` }));
      w.clock.ms += 1000;
    }
    await w.run(targets({ dag: 'dag v3' }), { rollback: true });
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v2');
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v3' }), { rollback: true });
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');
    w.clock.ms += 1000;
    await expect(w.run(targets({ dag: 'dag v3' }), { rollback: true })).rejects.toThrow(/Nothing to roll back to/);
    // A new deploy after rollbacks: rolling it back returns to the state it replaced.
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v4' }));
    w.clock.ms += 1000;
    await w.run(targets({ dag: 'dag v4' }), { rollback: true });
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');
  });

  it('rollback with a single record says there is nothing to roll back to', async () => {
    const w = world();
    await w.run();
    await expect(w.run(targets(), { rollback: true })).rejects.toThrow(/Nothing to roll back to/);
  });

  it('a held lock stops a deploy before any object write', async () => {
    const w = world();
    await acquireLock(w.s3, { bucket: 'airflow-test', key: 'deployments/lock.json', holder: 'other', pid: 7, host: 'h', now: w.clock.now, ttlMs: 600_000 });
    w.log.length = 0;
    await expect(w.run()).rejects.toBeInstanceOf(LockHeldError);
    expect(w.log).toEqual(['write deployments/lock.json']);
  });

  it('--plan changes nothing', async () => {
    const w = world();
    const result = await w.run(targets(), { planOnly: true });
    expect(result.plan.changes).toBe(5);
    expect(w.s3.writes).toEqual([]);
  });

  it('refuses a busy environment unless told to wait for it', async () => {
    const w = world();
    w.mwaa.state.status = 'UPDATING';
    await expect(w.run()).rejects.toThrow(/UPDATING, not AVAILABLE/);
    w.mwaa.state.status = 'AVAILABLE';
  });

  it('confirm=false aborts with nothing written', async () => {
    const w = world();
    await expect(deploy(DEPLOY_SETTINGS, targets(), OPTIONS, { ...w.deps, confirm: async () => false })).rejects.toThrow(/Aborted/);
    expect(w.s3.writes).toEqual([]);
  });

  it('triggers after the new DAG version is parsed, unpauses it, and follows the run to success', async () => {
    const w = world();
    const result = await w.run(targets(), {
      trigger: true,
      waitForRun: true,
      conf: { note: "it's" },
      dagMarker: 'config-cccccccccccc',
    });
    expect(result).toMatchObject({ runId: 'manual__2026-11-26T09:00:00+00:00', runState: 'success' });
    expect(result.tasks).toEqual([
      { taskId: 'validate_inputs', state: 'success' },
      { taskId: 'cleanup_temp_files', state: 'success' },
    ]);
    const commands = w.cli.commands.map((c) => c.slice(0, 2).join(' '));
    expect(commands.slice(0, 4)).toEqual(['dags list-import-errors', 'dags details', 'dags unpause', 'dags trigger']);
    expect(w.cli.commands[3]).toEqual(['dags', 'trigger', 'gpu_server_cicd_workflow', '-c', '{"note":"it\'s"}', '-o', 'json']);
    expect(w.events.some((e) => e.type === 'run-finished' && e.state === 'success')).toBe(true);
  });

  it('waits while the scheduler still has the old DAG version', async () => {
    const w = world();
    let details = 0;
    w.deps.cli = new FakeCli((argv) => {
      const cmd = argv.slice(0, 2).join(' ');
      if (cmd === 'dags list-import-errors') return { stdout: '[]' };
      if (cmd === 'dags details') {
        details += 1;
        const tag = details >= 3 ? 'config-new' : 'config-old';
        return { stdout: JSON.stringify([{ dag_id: argv[2], is_paused: false, tags: [{ name: tag }] }]) };
      }
      if (cmd === 'dags trigger') return { stdout: '[{"dag_run_id": "manual__x"}]' };
      return {};
    });
    const result = await deploy(DEPLOY_SETTINGS, targets(), { ...OPTIONS, trigger: true, dagMarker: 'config-new' }, w.deps);
    expect(result.runId).toBe('manual__x');
    expect(details).toBe(3);
    expect(w.events.filter((e) => e.type === 'dag-waiting')).toHaveLength(2);
  });

  it('import errors of the new file fail the deploy with the error text', async () => {
    const w = world();
    w.deps.cli = new FakeCli((argv) => {
      const cmd = argv.slice(0, 2).join(' ');
      if (cmd === 'dags list-import-errors') {
        return { stdout: JSON.stringify([{ filepath: '/usr/local/airflow/dags/gpu_server_cicd_dag.py', error: 'SyntaxError: invalid syntax (line 3)' }]), exitCode: 1 };
      }
      if (cmd === 'dags details') return { stderr: 'DAG: gpu_server_cicd_workflow does not exist in dag table' };
      return {};
    });
    await expect(deploy(DEPLOY_SETTINGS, targets(), { ...OPTIONS, trigger: true, dagMarker: 'config-new' }, w.deps)).rejects.toThrow(
      /does not import: \/usr\/local\/airflow\/dags\/gpu_server_cicd_dag.py\nSyntaxError: invalid syntax/,
    );
  });
});
