import { describe, expect, it } from 'vitest';
import { formatElapsed, parseDuration } from '../../../src/deployer/clock.js';
import { logTail, parseTriggerOutput, triggerArgv, waitForRun } from '../../../src/deployer/dag-run.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { parseJsonOutput } from '../../../src/mwaa/cli-output.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { formatPlan, planJson } from '../../../src/deployer/format.js';
import { plan } from '../../../src/deployer/plan.js';
import { recordFingerprint, rollbackTarget, type DeployRecord } from '../../../src/deployer/records.js';
import { parseConf } from '../../../src/cli/commands/deploy.js';
import { FakeClock } from './fakes.js';
import { SETTINGS, targets } from './helpers.js';

describe('parseDuration', () => {
  it.each([
    ['45m', 2_700_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['120', 120_000],
    ['500ms', 500],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'abc', '10x', '5m junk'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(/Invalid duration/));
  it('formats elapsed time', () => {
    expect(formatElapsed(65_000)).toBe('1m05s');
    expect(formatElapsed(9_999)).toBe('9s');
  });
});

describe('parseJsonOutput', () => {
  it('takes the JSON document out of surrounding log lines', () => {
    const stdout = '[2026-11-26 09:00:00] INFO - Filling up the DagBag\n[{"a": 1},\n {"b": [2]}]\nDone.\n';
    expect(parseJsonOutput(stdout)).toEqual([{ a: 1 }, { b: [2] }]);
  });
  it('plain JSON', () => expect(parseJsonOutput(' {"x": true} ')).toEqual({ x: true }));
  it('no JSON at all', () => expect(parseJsonOutput('No data found')).toBeUndefined());
});

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
  const airflow = airflowApi({ line, cli: fake.cli(), ...(rest ? { rest: fake.rest() } : {}) });
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

describe('plan views', () => {
  it('JSON carries a changes count and the table says what happens', () => {
    const p = plan(SETTINGS, targets(), {
      environment: { name: 'env-x', status: 'AVAILABLE', airflowVersion: '2.10.3', pins: {} },
      versioning: 'Enabled',
      current: {},
      pinned: {},
    });
    expect(planJson(p)).toMatchObject({ changes: 5, refusals: [] });
    const text = formatPlan(p, 'env-x');
    expect(text).toMatch(/update-env\s+requirements\.txt@<new version>, plugins\.zip@<new version>/);
    expect(text).toMatch(/5 changes\.\n$/);
  });
});

describe('rollbackTarget', () => {
  const rec = (sha: string): DeployRecord => ({
    formatVersion: 1,
    kind: 'deploy',
    environment: 'e',
    environmentName: 'e',
    at: 't',
    who: { user: 'u', host: 'h' },
    objects: [{ kind: 'plugins', path: 'plugins.zip', key: 'plugins.zip', sha256: sha, size: 1, versionId: `v-${sha}` }],
    pins: {},
  });
  const live = (sha: string) => recordFingerprint(rec(sha).objects);
  it('picks the newest earlier record that differs from what runs', () => {
    const records = [rec('a'), rec('b'), rec('c'), rec('c')].map((record, i) => ({ key: `k${i}`, record }));
    expect(rollbackTarget(records, live('c'))?.key).toBe('k1');
  });
  it('none when all are the same', () => {
    expect(
      rollbackTarget(
        [rec('a'), rec('a')].map((record, i) => ({ key: `k${i}`, record })),
        live('a'),
      ),
    ).toBeUndefined();
  });
});

describe('parseConf', () => {
  it('overrides config conf with --conf pairs; values may contain =', () => {
    expect(parseConf({ a: '1', b: '2' }, ['b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
  });
  it.each(['novalue', '1bad=x', '=x'])('rejects %j', (pair) => expect(() => parseConf({}, [pair])).toThrow(/--conf expects key=value/));
});

describe('formatEvent', () => {
  it('status polls are live lines with elapsed time; results are plain lines', async () => {
    const { formatEvent } = await import('../../../src/deployer/format.js');
    expect(formatEvent({ type: 'environment-status', status: 'UPDATING', elapsedMs: 125_000 })).toEqual({
      text: 'environment UPDATING (an update is being applied) (2m05s)',
      live: true,
    });
    expect(formatEvent({ type: 'environment-status', status: 'ROLLING_BACK', elapsedMs: 1000 })?.text).toBe(
      'environment ROLLING_BACK (an update failed and MWAA is restoring the previous version) (1s)',
    );
    expect(
      formatEvent({
        type: 'run-finished',
        runId: 'r',
        state: 'failed',
        elapsedMs: 1000,
        tasks: [{ taskId: 'a', state: 'failed' }],
        failures: [{ taskId: 'a', tryNumber: 1, logTail: ['x', 'ValueError: boom'] }],
      })?.text,
    ).toBe('run r failed after 1s\n  a  failed\na failed; the last 2 lines of its log, try 1:\n  | x\n  | ValueError: boom');
    expect(formatEvent({ type: 'task-logs', enabled: false })?.text).toMatch(/task logging to CloudWatch is off/);
    expect(formatEvent({ type: 'task-logs', enabled: true, logGroupArn: 'arn:g' })?.text).toBe('task logs in CloudWatch: arn:g');
    expect(formatEvent({ type: 'lock-acquired', key: 'k', takenOverFrom: 'bob (pid 1 on h)' })?.text).toMatch(
      /over from expired holder bob/,
    );
  });
});
