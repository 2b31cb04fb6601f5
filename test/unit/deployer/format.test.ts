import { describe, expect, it } from 'vitest';
import { formatFailures, formatPlan, formatTasks, planJson } from '../../../src/deployer/format.js';
import { formatReport } from '../../../src/runtime-check/format.js';
import { clean } from '../../../src/util/terminal-text.js';
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

describe('text from a GPU server, a git remote or Airflow', () => {
  // C0 (but the newline that separates lines), DEL and C1: what can move the cursor, clear the
  // screen, recolour or retitle a terminal.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not get through.
  const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
  const hostile = [
    '\u001b[2J\u001b[H',
    '\u001b[32mrun succeeded\u001b[0m',
    'progress 10%\rrun succeeded',
    '\u001b]0;owned\u0007',
    '\u009b31m',
    'tab\there',
    'plain line',
  ];

  it('reaches the terminal with every control character replaced, as the check shows it', () => {
    const text = formatFailures([
      { taskId: 'clone_and_checkout_repo\u001b[8m', tryNumber: 1, logTail: hostile },
      { taskId: 'read_version_yaml', tryNumber: 1, logError: 'HTTP 500: \u001b[2Jgone' },
    ]);
    for (const line of text.split('\n')) expect(line, JSON.stringify(line)).not.toMatch(CONTROL);
    for (const line of hostile) expect(text).toContain(`  | ${clean(line)}`);
    expect(text).toContain('run succeeded');
    expect(formatTasks([{ taskId: 'a\u001b[2J', state: 'failed\u0007' }])).not.toMatch(CONTROL);
  });

  it('is cleaned by the one definition the check uses too', () => {
    const random = (n: number) => Math.floor(Math.random() * n);
    for (let i = 0; i < 200; i += 1) {
      const line = Array.from({ length: 1 + random(20) }, () => String.fromCharCode(random(0xa0)))
        .join('')
        .replaceAll('\n', '');
      expect(formatFailures([{ taskId: 't', tryNumber: 0, logTail: [line] }]).split('\n')[1]).toBe(`  | ${clean(line)}`);
    }
    const report = formatReport({
      ok: false,
      mode: 'check',
      durationMs: 1,
      servers: [
        { name: 's', host: 'h', port: 22, ok: false, checks: [{ name: 'version-file', ok: false, ms: 1, reason: hostile.join(' ') }] },
      ],
    });
    expect(report).toContain(clean(hostile.join(' ')));
  });
});
