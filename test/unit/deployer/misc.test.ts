import { describe, expect, it } from 'vitest';
import { formatElapsed, parseDuration } from '../../../src/deployer/clock.js';
import { parseJsonOutput, waitForRun } from '../../../src/deployer/dag-run.js';
import { formatPlan, planJson } from '../../../src/deployer/format.js';
import { plan } from '../../../src/deployer/plan.js';
import { recordFingerprint, rollbackTarget, type DeployRecord } from '../../../src/deployer/records.js';
import { parseConf } from '../../../src/cli/commands/deploy.js';
import { FakeCli, FakeClock } from './fakes.js';
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

describe('waitForRun', () => {
  it('exits on failed and reports the failing task', async () => {
    const cli = new FakeCli((argv) =>
      argv[1] === 'list-runs'
        ? { stdout: '[{"run_id": "r1", "state": "failed"}, {"run_id": "r0", "state": "success"}]' }
        : { stdout: '[{"task_id": "test_ssh_connection", "state": "failed"}, {"task_id": "read_version_yaml", "state": "upstream_failed"}]' },
    );
    const result = await waitForRun(cli, { dagId: 'd', runId: 'r1', airflowLine: '2', clock: new FakeClock(), timeoutMs: 1000, pollMs: 100, emit: () => {} });
    expect(result.state).toBe('failed');
    expect(result.tasks[0]).toEqual({ taskId: 'test_ssh_connection', state: 'failed' });
    expect(cli.commands[0]).toEqual(['dags', 'list-runs', '-d', 'd', '-o', 'json']);
  });
  it('Airflow 3 takes the DAG id as a positional argument', async () => {
    const cli = new FakeCli((argv) => (argv[1] === 'list-runs' ? { stdout: '[{"run_id": "r1", "state": "success"}]' } : { stdout: '[]' }));
    await waitForRun(cli, { dagId: 'd', runId: 'r1', airflowLine: '3', clock: new FakeClock(), timeoutMs: 1000, pollMs: 100, emit: () => {} });
    expect(cli.commands[0]).toEqual(['dags', 'list-runs', 'd', '-o', 'json']);
  });
  it('times out while the run is still going', async () => {
    const cli = new FakeCli(() => ({ stdout: '[{"run_id": "r1", "state": "running"}]' }));
    await expect(
      waitForRun(cli, { dagId: 'd', runId: 'r1', airflowLine: '2', clock: new FakeClock(), timeoutMs: 5000, pollMs: 1000, emit: () => {} }),
    ).rejects.toThrow(/Timed out after 5 s waiting for run r1/);
  });
});

describe('plan views', () => {
  it('JSON carries a changes count and the table says what happens', () => {
    const p = plan(SETTINGS, targets(), { environment: { name: 'env-x', status: 'AVAILABLE', airflowVersion: '2.10.3', pins: {} }, versioning: 'Enabled', current: {}, pinned: {} });
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
    expect(rollbackTarget([rec('a'), rec('a')].map((record, i) => ({ key: `k${i}`, record })), live('a'))).toBeUndefined();
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
      text: 'environment UPDATING (2m05s)',
      live: true,
    });
    expect(formatEvent({ type: 'run-finished', runId: 'r', state: 'failed', elapsedMs: 1000, tasks: [{ taskId: 'a', state: 'failed' }] })?.text).toBe(
      'run r failed after 1s\n  a  failed',
    );
    expect(formatEvent({ type: 'lock-acquired', key: 'k', takenOverFrom: 'bob (pid 1 on h)' })?.text).toMatch(/over from expired holder bob/);
  });
});
