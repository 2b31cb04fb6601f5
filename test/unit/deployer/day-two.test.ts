/**
 * The day-two libraries against in-memory fakes: the history of deploy records (old records without
 * an IAM identity included), naming a record for rollback --to, a rollback to any record through the
 * deployer, status (drift is the plan's verdict; Airflow that does not answer is reported), and a
 * run's task logs (latest run, a server by its map index, bounds).
 */
import { describe, expect, it } from 'vitest';
import { deploy, type DeployOptions } from '../../../src/deployer/deploy.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { formatHistory, historyMarkdown, readHistory } from '../../../src/deployer/history.js';
import type { DeployTarget } from '../../../src/deployer/plan.js';
import { findRecord, type KeyedRecord } from '../../../src/deployer/records.js';
import { DEFAULT_LOG_LINES, formatRunLogs, readRunLogs } from '../../../src/deployer/run-logs.js';
import { readStatus } from '../../../src/deployer/status.js';
import { formatStatus, statusMarkdown } from '../../../src/deployer/status-format.js';
import type { AirflowApi, DagRunInfo, TaskInstanceInfo } from '../../../src/mwaa/airflow-api.js';
import { FakeClock, FakeMwaa, FakeS3 } from './fakes.js';
import { DEPLOY_SETTINGS, OPTIONS, targets } from './helpers.js';

const ARN = 'arn:aws:sts::123456789012:assumed-role/deploy/ci-42';

function world() {
  const clock = new FakeClock();
  const s3 = new FakeS3();
  const mwaa = new FakeMwaa(clock, { name: 'env-x' });
  const events: DeployEvent[] = [];
  const who = { user: 'tester', host: 'box', pid: 42 };
  const run = (t: DeployTarget[], options: Partial<DeployOptions> = {}, arn: string | null = ARN) => {
    clock.ms += 60_000;
    return deploy(
      DEPLOY_SETTINGS,
      t,
      { ...OPTIONS, ...options },
      {
        s3,
        mwaa,
        cli: { run: async () => ({ stdout: '', stderr: '' }) },
        airflow: fakeAirflow({}),
        clock,
        emit: (e) => events.push(e),
        who: arn ? { ...who, arn } : who,
      },
    );
  };
  return { clock, s3, mwaa, run };
}

interface FakeAirflowSpec {
  runs?: DagRunInfo[];
  tis?: TaskInstanceInfo[];
  logs?: Record<string, string>;
  paused?: boolean;
  down?: string;
  via?: 'rest' | 'cli';
}

/** An AirflowApi answering from plain data; `down` makes every read fail with that message. */
function fakeAirflow(spec: FakeAirflowSpec, asked: string[] = []): AirflowApi {
  const fail = () => {
    if (spec.down) throw new Error(spec.down);
  };
  return {
    via: () => spec.via ?? 'rest',
    dag: async (dagId) => {
      fail();
      return spec.paused === undefined ? undefined : { dagId, isPaused: spec.paused, tags: [] };
    },
    serializedDagDoc: async () => undefined,
    importErrors: async () => {
      fail();
      return [{ filename: '/usr/local/airflow/dags/other.py', stackTrace: 'not ours' }];
    },
    unpause: async () => undefined,
    dagRun: async (_dagId, runId) => {
      const run = spec.runs?.find((r) => r.runId === runId);
      return run ? { found: true, state: run.state } : { found: false, reason: 'HTTP 404' };
    },
    taskInstances: async () => spec.tis ?? [],
    dagRuns: async (_dagId, limit) => {
      fail();
      return (spec.runs ?? []).slice(0, limit);
    },
    taskLog: async (_dagId, runId, ti, tailBytes) => {
      asked.push(`${runId} ${ti.taskId}[${ti.mapIndex}] ${tailBytes ?? 'default'}`);
      if (spec.via === 'cli') return undefined;
      return spec.logs?.[`${ti.taskId}[${ti.mapIndex}]`];
    },
    variables: async () => new Map(),
  };
}

function keyed(records: Array<{ key: string }>): KeyedRecord[] {
  return records.map((r) => ({ key: r.key, record: {} as KeyedRecord['record'] }));
}

describe('history', () => {
  it('lists the records newest first with who, what changed and versions; an old record without an ARN still reads', async () => {
    const w = world();
    await w.run(targets(), {}, null); // an old record: no ARN
    await w.run(targets({ dag: 'dag v2' }));
    await w.run(targets({ dag: 'dag v2' }), { rollback: true });
    const history = await readHistory(w.s3, { bucket: DEPLOY_SETTINGS.bucket, deploymentsPrefix: 'deployments', envName: 'local' });
    expect(history.entries.map((e) => e.kind)).toEqual(['rollback', 'deploy', 'deploy']);
    const [rollback, second, first] = history.entries;
    expect(first!.who).toEqual({ user: 'tester', host: 'box' });
    expect(second!.who.arn).toBe(ARN);
    expect(second!.changes).toEqual([{ kind: 'dag', key: 'dags/gpu_server_cicd_dag.py', change: 'changed' }]);
    expect(first!.changes.map((c) => c.change)).toEqual(['new', 'new', 'new', 'new']);
    expect(rollback!.restored).toBe(first!.id);
    expect(rollback!.objects.every((o) => o.versionId)).toBe(true);
    expect(history.entries.map((e) => e.newest)).toEqual([true, false, false]);

    const text = formatHistory(history);
    expect(text).toContain(`${rollback!.id}  ROLLBACK to ${first!.id}  (newest)`);
    expect(text).toContain(`who      ${ARN} (tester@box)`);
    expect(text).toContain('who      tester@box (no IAM identity recorded)');
    expect(text).toContain('changed  DAG file changed');
    expect(
      historyMarkdown(history)
        .split('\n')
        .filter((l) => l.startsWith('| `')),
    ).toHaveLength(3);
  });

  it('says so when there are no records', async () => {
    const history = await readHistory(new FakeS3(), { bucket: 'b', deploymentsPrefix: 'deployments', envName: 'local' });
    expect(formatHistory(history)).toMatch(/^No deploy records of local in s3:\/\/b\/deployments\/records\//);
  });
});

describe('findRecord', () => {
  const records = keyed([
    { key: 'deployments/records/2026-12-07T19-52-44.123Z-aaaaaaaaaaaa.json' },
    { key: 'deployments/records/2026-12-07T19-58-01.000Z-bbbbbbbbbbbb.json' },
    { key: 'deployments/records/2026-12-08T08-00-00.000Z-cccccccccccc.json' },
  ]);

  it('takes the key, the id, the hash or a unique prefix', () => {
    expect(findRecord(records, records[0]!.key, 'x').key).toBe(records[0]!.key);
    expect(findRecord(records, '2026-12-07T19-52-44.123Z-aaaaaaaaaaaa', 'x').key).toBe(records[0]!.key);
    expect(findRecord(records, 'bbbbbbbbbbbb', 'x').key).toBe(records[1]!.key);
    expect(findRecord(records, '2026-12-08', 'x').key).toBe(records[2]!.key);
  });

  it('refuses an ambiguous or unknown name, naming the candidates', () => {
    expect(() => findRecord(records, '2026-12-07', 'x')).toThrow(/names 2 deploy records .*give more of the id/);
    expect(() => findRecord(records, 'nope', 's3://b/deployments/records/')).toThrow(
      /No deploy record "nope" in s3:\/\/b\/deployments\/records\/\. Newest: 2026-12-08T08-00-00\.000Z-cccccccccccc/,
    );
  });
});

describe('rollback to a named record', () => {
  it('restores that record, not the one before, and records whom it restored', async () => {
    const w = world();
    await w.run(targets({ plugins: 'plugins v1' }));
    const v1 = w.s3.objects.get('plugins.zip')![0]!.versionId;
    await w.run(targets({ plugins: 'plugins v2' }));
    await w.run(targets({ plugins: 'plugins v3' }));
    const history = await readHistory(w.s3, { bucket: DEPLOY_SETTINGS.bucket, deploymentsPrefix: 'deployments', envName: 'local' });
    const oldest = history.entries.at(-1)!;
    const result = await w.run(targets({ plugins: 'plugins v3' }), { rollback: true, rollbackTo: oldest.id.slice(-12) });
    expect(w.s3.text('plugins.zip')).toBe('plugins v1');
    expect(w.s3.calls).toContain(`copy plugins.zip@${v1}`);
    expect(result.rollbackOf).toBe(oldest.key);
    expect(JSON.parse(w.s3.text(result.recordKey!)!)).toMatchObject({ kind: 'rollback', restored: oldest.key, who: { arn: ARN } });
  });

  it('an unknown record changes nothing', async () => {
    const w = world();
    await w.run(targets());
    const writes = w.s3.writes.length;
    await expect(w.run(targets(), { rollback: true, rollbackTo: 'ffffffffffff' })).rejects.toThrow(/No deploy record "ffffffffffff"/);
    expect(w.s3.writes).toHaveLength(writes);
  });
});

describe('status', () => {
  const input = (t: DeployTarget[]) => ({ settings: { ...DEPLOY_SETTINGS }, targets: t, runs: 5 });
  const runs: DagRunInfo[] = [
    { runId: 'manual__2', state: 'failed', startDate: '2026-12-07T10:00:00Z' },
    { runId: 'manual__1', state: 'success' },
  ];

  it('in sync after a deploy; drift (and which artifact) when generate makes something else; the DAG and its runs', async () => {
    const w = world();
    await w.run(targets());
    const airflow = fakeAirflow({ runs, paused: false });
    const same = await readStatus(input(targets()), { s3: w.s3, mwaa: w.mwaa, airflow });
    expect(same.drift).toBe(false);
    expect(same.artifacts.map((a) => a.state)).toEqual(['in-sync', 'in-sync', 'in-sync', 'in-sync']);
    expect(same.newestRecord).toMatchObject({ kind: 'deploy', describesLive: true, who: { arn: ARN } });
    expect(same.airflow).toMatchObject({ paused: false, importErrors: [], runs });

    const changed = await readStatus(input(targets({ plugins: 'plugins v2', config: 'config v2' })), { s3: w.s3, mwaa: w.mwaa, airflow });
    expect(changed.drift).toBe(true);
    expect(changed.artifacts.filter((a) => a.state !== 'in-sync').map((a) => [a.kind, a.state])).toEqual([
      ['plugins', 'drift'],
      ['config', 'drift'],
    ]);
    const text = formatStatus(changed);
    expect(text).toMatch(/^Environment env-x \(local\): AVAILABLE/);
    expect(text).toContain('Drift: 2 artifacts differ from what generate makes now; deploy --env local --plan shows the change.');
    expect(text).toMatch(/^ {2}manual__2 {2}failed {2}started 2026-12-07T10:00:00Z$/m);
    expect(statusMarkdown(changed)).toContain('| plugins.zip | `plugins.zip` | DRIFT |');
  });

  it('an object changed outside deploy: the newest record no longer describes what runs', async () => {
    const w = world();
    await w.run(targets());
    await w.s3.putObject({ bucket: DEPLOY_SETTINGS.bucket, key: 'config/local/config.yaml', body: Buffer.from('by hand') });
    const report = await readStatus(input(targets()), { s3: w.s3, mwaa: w.mwaa, airflow: fakeAirflow({ runs }) });
    expect(report.newestRecord?.describesLive).toBe(false);
    expect(report.artifacts.find((a) => a.kind === 'config')?.state).toBe('drift');
  });

  it('never deployed: every artifact missing; Airflow that does not answer is reported, not thrown', async () => {
    const w = world();
    const report = await readStatus(input(targets()), {
      s3: w.s3,
      mwaa: w.mwaa,
      airflow: fakeAirflow({ down: 'connect ETIMEDOUT 10.0.0.1:443' }),
    });
    expect(report.artifacts.every((a) => a.state === 'missing')).toBe(true);
    expect(report.newestRecord).toBeUndefined();
    expect(report.airflow).toEqual({ dagId: 'gpu_server_cicd_workflow', error: 'connect ETIMEDOUT 10.0.0.1:443' });
    expect(formatStatus(report)).toContain('DAG gpu_server_cicd_workflow: Airflow did not answer: connect ETIMEDOUT 10.0.0.1:443');
  });
});

describe('run logs', () => {
  const tis: TaskInstanceInfo[] = [
    { taskId: 'validate_inputs', mapIndex: -1, state: 'success', tryNumber: 1 },
    { taskId: 'clone_and_checkout_repo', mapIndex: 0, state: 'success', tryNumber: 1 },
    { taskId: 'clone_and_checkout_repo', mapIndex: 1, state: 'failed', tryNumber: 2 },
    { taskId: 'read_version_yaml', mapIndex: 1, state: 'upstream_failed', tryNumber: 0 },
  ];
  const long = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n');
  const spec: FakeAirflowSpec = {
    runs: [
      { runId: 'manual__new', state: 'failed' },
      { runId: 'manual__old', state: 'success' },
    ],
    tis,
    logs: {
      'validate_inputs[-1]': '[t] INFO - Run targets 2 server(s): gpu-a, gpu-b\n[t] INFO - Done.',
      'clone_and_checkout_repo[0]': 'cloned',
      'clone_and_checkout_repo[1]': long,
    },
  };
  const request = { dagId: 'd', lines: DEFAULT_LOG_LINES, maxBytes: 16 * 1024 * 1024 };

  it('the latest run by default: each task with the end of its log, servers named by map index', async () => {
    const asked: string[] = [];
    const logs = await readRunLogs(fakeAirflow(spec, asked), request);
    expect(logs.runId).toBe('manual__new');
    expect(logs.tasks.map((t) => [t.taskId, t.mapIndex, t.server])).toEqual([
      ['validate_inputs', -1, undefined],
      ['clone_and_checkout_repo', 0, 'gpu-a'],
      ['clone_and_checkout_repo', 1, 'gpu-b'],
      ['read_version_yaml', 1, 'gpu-b'],
    ]);
    const failed = logs.tasks[2]!;
    expect(failed.lines).toHaveLength(DEFAULT_LOG_LINES);
    expect(failed.lines!.at(-1)).toBe('line 499');
    expect(logs.tasks[3]!.note).toBe('no log: it never ran (upstream_failed)');
    // A tail of bytes, never the whole log, for the lines asked.
    expect(asked.filter((a) => a.includes('[1]'))).toEqual(['manual__new clone_and_checkout_repo[1] 204800']);
    const text = formatRunLogs(logs);
    expect(text).toContain('clone_and_checkout_repo[1] (server gpu-b) failed, try 2; the last 200 lines of its log:\n  | line 300');
    expect(text).toContain('clone_and_checkout_repo[0] (server gpu-a) success, try 1; its log (1 lines):\n  | cloned');
  });

  it('--server and --task select; --full reads up to the cap', async () => {
    const asked: string[] = [];
    const logs = await readRunLogs(fakeAirflow(spec, asked), {
      ...request,
      runId: 'manual__new',
      server: 'gpu-b',
      task: 'clone_and_checkout_repo',
      lines: Number.POSITIVE_INFINITY,
    });
    expect(logs.tasks).toHaveLength(1);
    expect(logs.tasks[0]!.lines).toHaveLength(500);
    expect(asked.at(-1)).toBe(`manual__new clone_and_checkout_repo[1] ${16 * 1024 * 1024}`);
  });

  it('refuses what the run does not have, naming what it has', async () => {
    const airflow = fakeAirflow(spec);
    await expect(readRunLogs(airflow, { ...request, server: 'gpu-z' })).rejects.toThrow(
      'Run manual__new did not target a server "gpu-z". It targeted: gpu-a, gpu-b.',
    );
    await expect(readRunLogs(airflow, { ...request, task: 'nope' })).rejects.toThrow(
      /has no task "nope"\. Its tasks: validate_inputs, clone_and_checkout_repo, read_version_yaml\./,
    );
    await expect(readRunLogs(airflow, { ...request, runId: 'manual__gone' })).rejects.toThrow(/No run manual__gone of d: HTTP 404/);
    await expect(readRunLogs(fakeAirflow({}), request)).rejects.toThrow('DAG d has no runs yet');
  });

  it('through the MWAA CLI (web login denied) each task says the CLI serves no logs', async () => {
    const logs = await readRunLogs(fakeAirflow({ ...spec, via: 'cli' }), { ...request, task: 'validate_inputs' });
    expect(logs.tasks[0]!.note).toMatch(/the MWAA CLI, which answers here, does not serve task logs/);
  });
});
