import { describe, expect, it } from 'vitest';
import { dagTimingOptions, logTail, parseTriggerOutput, triggerArgv, waitForRun } from '../../../src/deployer/dag-run.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { newestOfLine } from '../../../src/mwaa/versions.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { FakeClock } from './fakes.js';

function runWorld(line: '2' | '3', states: string[], rest = true) {
  const fake = new FakeAirflow(line);
  fake.onTrigger = () => ({
    states,
    tis: [
      { task_id: 'test_ssh_connection', state: 'failed', map_index: 0, try_number: 2, log: 'connecting\nRuntimeError: ssh refused' },
      { task_id: 'read_version_yaml', state: 'upstream_failed', map_index: -1, try_number: 0 },
    ],
  });
  const runId = fake.trigger('d', {}).run!.run_id;
  const airflow = airflowApi({ version: newestOfLine(line), cli: fake.cli(), ...(rest ? { rest: fake.rest() } : {}) });
  const wait = (timeoutMs = 1000) =>
    waitForRun(airflow, { dagId: 'd', runId, clock: new FakeClock(), timeoutMs, pollMs: 1000, emit: () => {} });
  return { fake, wait };
}

describe('waitForRun', () => {
  it.each(['2', '3'] as const)('Airflow %s over REST: exits on failed with the failing task and its log', async (line) => {
    const { fake, wait } = runWorld(line, ['failed']);
    const result = await wait();
    expect(result.state).toBe('failed');
    expect(result.tasks).toEqual([
      { taskId: 'test_ssh_connection', state: 'failed', mapIndex: '0' },
      { taskId: 'read_version_yaml', state: 'upstream_failed' },
    ]);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ taskId: 'test_ssh_connection', mapIndex: '0', tryNumber: 2 });
    expect(result.failures[0]!.logTail!.at(-1)).toMatch(/RuntimeError: ssh refused$/);
    expect(fake.requests).toContain(
      'GET /dags/d/dagRuns/manual__2026-11-26T09%3A00%3A00%2B00%3A00/taskInstances/test_ssh_connection/logs/2',
    );
    expect(fake.commands).toEqual([]);
  });
  it.each([
    ['2', ['dags', 'list-runs', '-d', 'd', '-o', 'json']],
    ['3', ['dags', 'list-runs', 'd', '-o', 'json']],
  ] as const)('Airflow %s through the CLI: `%j`, and no log (the CLI serves none)', async (line, argv) => {
    const { fake, wait } = runWorld(line, ['failed'], false);
    const result = await wait();
    expect(fake.commands[0]).toEqual(argv);
    expect(result.failures[0]).toEqual({ taskId: 'test_ssh_connection', mapIndex: '0', tryNumber: 0 });
  });
  it('times out while the run is still going', async () => {
    const { wait } = runWorld('2', ['running']);
    await expect(wait(5000)).rejects.toThrow(/Timed out after 5 s waiting for run manual__\S+ of d \(state running\)/);
  });
});

describe('trigger', () => {
  it('Airflow 3 passes --logical-date as MWAA samples do (UTC, whole seconds); Airflow 2 no date', () => {
    const now = Date.parse('2026-11-26T09:15:42.789Z');
    expect(triggerArgv('d', { a: '1' }, '3', now)).toEqual([
      'dags',
      'trigger',
      'd',
      '-c',
      '{"a":"1"}',
      '--logical-date',
      '2026-11-26T09:15:42Z',
      '-o',
      'json',
    ]);
    expect(triggerArgv('d', {}, '2', now)).toEqual(['dags', 'trigger', 'd', '-c', '{}', '-o', 'json']);
  });
  it('reads the run id from the one JSON row, around log lines', () => {
    const stdout =
      '[2026-11-26T09:00:00] INFO - creating dag run\n[{"dag_id": "d", "dag_run_id": "manual__2026-11-26T09:00:00+00:00", "state": "queued"}]\n';
    expect(parseTriggerOutput('d', { stdout, stderr: '' })).toBe('manual__2026-11-26T09:00:00+00:00');
  });
  it('no run row: fails with the exception line the traceback ends with, never a run id scraped from logs', () => {
    const out = {
      stdout: 'INFO - creating dag run ... run_id=manual__2026-11-26T09:00:00+00:00\n',
      stderr:
        'Traceback (most recent call last):\n  File "x", line 1\nairflow.sdk.definitions.param.ParamValidationError: Invalid input for param workspace_path: bad\n',
    };
    expect(() => parseTriggerOutput('d', out)).toThrow(
      'Airflow did not create a run of d: airflow.sdk.definitions.param.ParamValidationError: Invalid input for param workspace_path: bad',
    );
  });
  it('a refusal without a traceback shows the last stderr line', () => {
    expect(() => parseTriggerOutput('d', { stdout: '', stderr: 'Dag id d not found in DagModel\n' })).toThrow(
      /: Dag id d not found in DagModel$/,
    );
  });
});

describe('logTail', () => {
  it('keeps the last lines, trailing blank lines dropped', () => {
    expect(logTail('a\nb\nc\n\n', 2)).toEqual(['b', 'c']);
    expect(logTail('only', 40)).toEqual(['only']);
  });
});

describe("the environment's DAG timings", () => {
  it('reads the options that set them as Airflow does (integers), on either line, and nothing else', () => {
    expect(dagTimingOptions(undefined)).toEqual({});
    expect(dagTimingOptions({ 'core.dag_concurrency': '4' })).toEqual({});
    expect(
      dagTimingOptions({
        'core.min_serialized_dag_fetch_interval': ' 30 ',
        'core.min_serialized_dag_update_interval': '5',
        'scheduler.min_file_process_interval': '60',
      }),
    ).toEqual({ fetchIntervalS: 30, updateIntervalS: 5, fileProcessIntervalS: 60 });
    expect(dagTimingOptions({ 'dag_processor.min_file_process_interval': '12' })).toEqual({ fileProcessIntervalS: 12 });
    // Airflow reads them with getint: anything else stops Airflow itself.
    for (const odd of ['', 'ten', '-1', '1e3', '2.5']) {
      expect(dagTimingOptions({ 'core.min_serialized_dag_fetch_interval': odd })).toEqual({});
    }
  });
});
