import { describe, expect, it } from 'vitest';
import { formatPlan, planJson } from '../../../src/deployer/format.js';
import { plan } from '../../../src/deployer/plan.js';
import { SETTINGS, targets } from './helpers.js';

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
