import { describe, expect, it } from 'vitest';
import { deploy, type DeployOptions } from '../../../src/deployer/deploy.js';
import { dagTimingOptions } from '../../../src/deployer/dag-run.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { LockHeldError, acquireLock } from '../../../src/deployer/lock.js';
import type { DeployTarget } from '../../../src/deployer/plan.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { newestOfLine, type AirflowLine } from '../../../src/mwaa/versions.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { FakeClock, FakeMwaa, FakeS3 } from './fakes.js';
import { DEPLOY_SETTINGS, OPTIONS, targets } from './helpers.js';

const MARKER = 'config-cccccccccccc';

/** An Airflow whose DAG is parsed (with this deploy's marker) and paused, as MWAA leaves new DAGs. */
function fakeAirflow(line: AirflowLine = '2', marker = MARKER): FakeAirflow {
  const airflow = new FakeAirflow(line);
  airflow.dags.set('gpu_server_cicd_workflow', { is_paused: true, tags: ['cicd', marker] });
  return airflow;
}

function world(line: AirflowLine = '2', rest = true) {
  const clock = new FakeClock();
  const s3 = new FakeS3();
  const mwaa = new FakeMwaa(clock, { name: 'env-x' });
  const fake = fakeAirflow(line);
  const cli = fake.cli();
  const notices: string[] = [];
  const airflow = airflowApi({
    version: newestOfLine(line),
    cli,
    ...(rest ? { rest: fake.rest() } : {}),
    onFallback: (m) => notices.push(m),
  });
  const events: DeployEvent[] = [];
  // Record the order of S3 writes and environment status changes in one log.
  const log: string[] = [];
  s3.beforeWrite = (key) => log.push(`write ${key}`);
  mwaa.onStatusChange = (status) => log.push(`env ${status}`);
  const deps = { s3, mwaa, cli, airflow, clock, emit: (e: DeployEvent) => events.push(e), who: { user: 'tester', host: 'box', pid: 42 } };
  const settings = { ...DEPLOY_SETTINGS, airflowLine: line };
  const run = (t: DeployTarget[] = targets(), options: Partial<DeployOptions> = {}) =>
    deploy(settings, t, { ...OPTIONS, ...options }, deps);
  return { clock, s3, mwaa, fake, events, log, deps, run, notices };
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
    await acquireLock(w.s3, {
      bucket: 'airflow-test',
      key: 'deployments/lock.json',
      holder: 'other',
      pid: 7,
      host: 'h',
      now: w.clock.now,
      ttlMs: 600_000,
    });
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
    await expect(w.run()).rejects.toThrow(/is UPDATING .*, not AVAILABLE/);
    w.mwaa.state.status = 'AVAILABLE';
  });

  it('does not wait on PENDING even when told to wait: it says what the environment needs instead', async () => {
    const w = world();
    w.mwaa.state.status = 'PENDING';
    const started = w.clock.now();
    const error = await w.run(targets(), { waitForAvailable: true, timeoutMs: 3_600_000 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/is PENDING \(MWAA paused its creation until the VPC endpoints it needs exist/);
    expect((error as Error).message).toMatch(/Create the VPC endpoints/);
    expect(w.clock.now() - started).toBe(0);
    expect(w.mwaa.statusLog.length).toBeLessThanOrEqual(1);
    expect(w.events.some((e) => e.type === 'waiting-for-available')).toBe(false);
    expect(w.s3.writes).toEqual([]);
  });

  it('confirm=false aborts with nothing written', async () => {
    const w = world();
    await expect(deploy(DEPLOY_SETTINGS, targets(), OPTIONS, { ...w.deps, confirm: async () => false })).rejects.toThrow(/Aborted/);
    expect(w.s3.writes).toEqual([]);
  });

  const TRIGGER: Partial<DeployOptions> = { trigger: true, waitForRun: true, conf: { note: "it's" }, dagMarker: MARKER };

  it.each(['2', '3'] as const)(
    'Airflow %s: waits for the new version over REST, unpauses, triggers through the CLI token, follows the run to success',
    async (line) => {
      const w = world(line);
      const result = await w.run(targets(), TRIGGER);
      expect(result).toMatchObject({ runState: 'success', tasks: [{ taskId: 'validate_inputs', state: 'success' }] });
      expect(result.runId).toMatch(/^manual__/);
      // The CLI carries the trigger only; everything structured is REST.
      expect(w.fake.commands).toEqual([
        line === '2'
          ? ['dags', 'trigger', 'gpu_server_cicd_workflow', '-c', '{"note":"it\'s"}', '-o', 'json']
          : [
              'dags',
              'trigger',
              'gpu_server_cicd_workflow',
              '-c',
              '{"note":"it\'s"}',
              '--logical-date',
              expect.stringMatching(/^2026-11-26T09:\d\d:\d\dZ$/),
              '-o',
              'json',
            ],
      ]);
      // The tags, then the stored DAG's docs: both carry the marker.
      expect(w.fake.requests.slice(0, 4)).toEqual([
        'GET /importErrors',
        'GET /dags/gpu_server_cicd_workflow',
        'GET /dags/gpu_server_cicd_workflow/details',
        'PATCH /dags/gpu_server_cicd_workflow',
      ]);
      expect(w.fake.dags.get('gpu_server_cicd_workflow')?.is_paused).toBe(false);
      expect(w.events.some((e) => e.type === 'run-finished' && e.state === 'success')).toBe(true);
      expect(w.notices).toEqual([]);
    },
  );

  it.each(['2', '3'] as const)('Airflow %s: with the web login denied, the listed CLI commands do the reads, said once', async (line) => {
    const w = world(line);
    w.fake.webLoginDenied = true;
    const result = await w.run(targets(), TRIGGER);
    expect(result.runState).toBe('success');
    expect(w.notices).toHaveLength(1);
    expect(w.notices[0]).toMatch(/Web login to Airflow denied.*CLI commands instead/);
    const commands = w.fake.commands.map((c) => c.slice(0, 2).join(' '));
    expect(commands.slice(0, 4)).toEqual(['dags list-import-errors', 'dags list', 'dags unpause', 'dags trigger']);
    expect(commands).toContain('dags list-runs');
  });

  /** A world whose DAG shows the new tags on the third read, and `storedLag` reads later the stored DAG's docs. */
  function newVersionWorld(line: AirflowLine, storedLag = 0, rest = true) {
    const w = world(line, rest);
    const dagEntry = w.fake.dags.get('gpu_server_cicd_workflow')!;
    dagEntry.tags = ['config-old'];
    dagEntry.doc_md = 'Build: config-old';
    let reads = 0;
    const dag = w.deps.airflow.dag;
    w.deps.airflow = {
      ...w.deps.airflow,
      dag: async (id) => {
        reads += 1;
        if (reads === 3) dagEntry.tags = [MARKER];
        if (reads === 3 + storedLag) dagEntry.doc_md = `Build: ${MARKER}`;
        return dag(id);
      },
    };
    const at: Partial<Record<DeployEvent['type'], number>> = {};
    w.deps.emit = (e) => {
      at[e.type] = w.clock.now();
      return w.events.push(e);
    };
    return { ...w, at, reads: () => reads };
  }

  it.each([
    ['2', undefined, 11_000],
    ['2', { 'core.min_serialized_dag_fetch_interval': '30' }, 31_000],
    ['3', undefined, 0],
  ] as const)('Airflow %s (options %j): waits for the new DAG, then %i ms more before the trigger', async (line, options, delayMs) => {
    const w = newVersionWorld(line);
    if (options) w.mwaa.state.dagTimings = dagTimingOptions(options);
    const result = await w.run(targets(), { trigger: true, dagMarker: MARKER });
    expect(result.runId).toMatch(/^manual__/);
    expect(w.reads()).toBe(3);
    const waits = w.events.filter((e) => e.type === 'dag-waiting');
    expect(waits).toHaveLength(delayMs > 0 ? 3 : 2);
    if (delayMs > 0) expect(waits[2]).toMatchObject({ detail: expect.stringMatching(/^the scheduler to read it \(Airflow 2 caches/) });
    expect(w.at.triggered! - w.at['dag-ready']!).toBe(delayMs);
  });

  it.each(['2', '3'] as const)('Airflow %s: the new tags are not enough while the stored DAG is still the old one', async (line) => {
    const w = newVersionWorld(line, 2);
    await w.run(targets(), { trigger: true, dagMarker: MARKER });
    expect(w.reads()).toBe(5);
    const details = w.events.flatMap((e) => (e.type === 'dag-waiting' ? [e.detail] : []));
    expect(details.slice(0, 4)).toEqual([
      'the new DAG version to be parsed',
      'the new DAG version to be parsed',
      expect.stringMatching(/^Airflow to store the new DAG/),
      expect.stringMatching(/^Airflow to store the new DAG/),
    ]);
  });

  it.each([
    ['2', 71_000],
    ['3', 60_000],
  ] as const)(
    'Airflow %s through the CLI, which cannot see the stored DAG: waits until a parse must have stored it (%i ms)',
    async (line, delayMs) => {
      const w = newVersionWorld(line, 0, false);
      await w.run(targets(), { trigger: true, dagMarker: MARKER });
      expect(w.at.triggered! - w.at['dag-ready']!).toBe(delayMs);
      expect(w.events.filter((e) => e.type === 'dag-waiting').at(-1)).toMatchObject({
        detail: expect.stringMatching(/^Airflow to store the new DAG \(at most every 30 s, parsing every 30 s\)/),
      });
    },
  );

  it('Airflow 2: no wait for the scheduler when the deploy did not change the DAG', async () => {
    const w = world('2');
    await w.run(targets(), {});
    w.events.length = 0;
    const result = await w.run(targets(), { trigger: true });
    expect(result.runId).toMatch(/^manual__/);
    expect(w.events.filter((e) => e.type === 'dag-waiting')).toEqual([]);
  });

  it('import errors of the new file fail the deploy with the error text', async () => {
    const w = world();
    w.fake.dags.clear();
    w.fake.importErrors = [
      { filename: '/usr/local/airflow/dags/gpu_server_cicd_dag.py', stack_trace: 'SyntaxError: invalid syntax (line 3)' },
    ];
    await expect(w.run(targets(), { trigger: true, dagMarker: MARKER })).rejects.toThrow(
      /does not import: \/usr\/local\/airflow\/dags\/gpu_server_cicd_dag.py\nSyntaxError: invalid syntax/,
    );
  });

  it.each(['2', '3'] as const)('Airflow %s: a trigger Airflow refuses fails at once with its own message, no waiting', async (line) => {
    const w = world(line);
    w.fake.onTrigger = () => ({ refuse: 'airflow.exceptions.ParamValidationError: Invalid input for param workspace_path: bad' });
    const error = await w.run(targets(), TRIGGER).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'Airflow did not create a run of gpu_server_cicd_workflow: airflow.exceptions.ParamValidationError: Invalid input for param workspace_path: bad',
    );
    expect(w.events.filter((e) => e.type === 'run-status')).toEqual([]);
  });

  it('a failed run comes back with each failed task and the last 40 lines of its log, and where CloudWatch keeps it', async () => {
    const w = world('3');
    w.mwaa.state.taskLogs = { enabled: true, cloudWatchLogGroupArn: 'arn:aws:logs:us-east-1:1:log-group:airflow-env-x-Task' };
    const log = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join('\n');
    w.fake.onTrigger = () => ({
      states: ['running', 'failed'],
      tis: [
        {
          task_id: 'validate_inputs',
          state: 'failed',
          map_index: -1,
          try_number: 1,
          log: `${log}\nAirflowFailException: workspace_path: bad`,
        },
        { task_id: 'retrieve_ssh_key', state: 'upstream_failed', map_index: -1, try_number: 0 },
      ],
    });
    const result = await w.run(targets(), TRIGGER);
    expect(result.runState).toBe('failed');
    expect(result.failures).toHaveLength(1);
    expect(result.failures![0]).toMatchObject({ taskId: 'validate_inputs', tryNumber: 1 });
    expect(result.failures![0]!.logTail).toHaveLength(40);
    expect(result.failures![0]!.logTail!.at(-1)).toMatch(/AirflowFailException: workspace_path: bad$/);
    expect(result.taskLogGroupArn).toBe('arn:aws:logs:us-east-1:1:log-group:airflow-env-x-Task');
    expect(w.events.find((e) => e.type === 'task-logs')).toEqual({ type: 'task-logs', enabled: true, logGroupArn: result.taskLogGroupArn });
  });

  it('with task logging off, the failed run says so and names no log group', async () => {
    const w = world('2');
    w.mwaa.state.taskLogs = { enabled: false };
    w.fake.onTrigger = () => ({
      states: ['failed'],
      tis: [{ task_id: 'validate_inputs', state: 'failed', map_index: -1, try_number: 1, log: 'ValueError: x' }],
    });
    const result = await w.run(targets(), TRIGGER);
    expect(result.failures![0]!.logTail).toEqual(['ValueError: x']);
    expect(result.taskLogGroupArn).toBeUndefined();
    expect(w.events.find((e) => e.type === 'task-logs')).toEqual({ type: 'task-logs', enabled: false });
  });

  it('a run Airflow does not know fails the wait on the second poll, naming why', async () => {
    const w = world();
    w.fake.onTrigger = () => ({ states: ['queued'], tis: [] });
    const airflow = w.deps.airflow;
    w.deps.airflow = { ...airflow, dagRun: (dagId) => airflow.dagRun(dagId, 'manual__not-there') };
    const error = await w.run(targets(), TRIGGER).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^Run manual__\S+ of gpu_server_cicd_workflow does not exist \(asked 2 times\): .*not found/);
    expect(w.events.filter((e) => e.type === 'run-status')).toHaveLength(1);
  });
});
