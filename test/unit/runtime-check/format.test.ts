import { describe, expect, it } from 'vitest';
import { formatMs, formatReport, reportJson } from '../../../src/runtime-check/format.js';
import { clean } from '../../../src/util/terminal-text.js';
import type { CheckReport } from '../../../src/runtime-check/report.js';

const report: CheckReport = {
  ok: false,
  mode: 'check',
  durationMs: 1234.5,
  servers: [
    {
      name: 'gpu-01',
      host: '10.0.0.1',
      port: 22,
      ok: true,
      git: { branch: 'cicd_01_etl', commit: 'a'.repeat(40) },
      checks: [
        { name: 'reachable', ok: true, ms: 41.2, reason: 'SSH as ubuntu, host key SHA256:abc matches the pinned key' },
        { name: 'whoami', ok: true, ms: 7, reason: 'ubuntu' },
        { name: 'checkout', ok: true, ms: 7, reason: '/w/cicd-test on cicd_01_etl at aaaaaaaaaaaa' },
        { name: 'version-file', ok: true, ms: 5, reason: 'a="1" b=2' },
        { name: 'variables', ok: true, ms: 900, reason: '2 of 2 Variables match the file' },
      ],
      variables: [
        { fileKey: 'a', key: 'gpu-01__a', fileValue: '1', airflowValue: '1', equal: true },
        { fileKey: 'b', key: 'gpu-01__b', fileValue: '2', airflowValue: '2', equal: true },
      ],
    },
    {
      name: 'gpu-02',
      host: '10.0.0.2',
      port: 2222,
      ok: false,
      checks: [
        { name: 'reachable', ok: true, ms: 40, reason: 'SSH as ubuntu' },
        { name: 'whoami', ok: true, ms: 6, reason: 'ubuntu' },
        { name: 'checkout', ok: false, ms: 6, reason: 'on branch "main", expected branch "cicd_01_etl"' },
        { name: 'version-file', ok: true, ms: 5, reason: 'a="1\u001b[2J" b=3' },
        { name: 'variables', ok: false, ms: 900, reason: 'gpu-02__b differs' },
      ],
      variables: [
        { fileKey: 'a', key: 'gpu-02__a', fileValue: '1\u001b[2J', airflowValue: '1', equal: false },
        { fileKey: 'b', key: 'gpu-02__b', fileValue: '3', airflowValue: null, equal: false },
      ],
    },
  ],
};

describe('formatReport', () => {
  const text = formatReport(report);

  it('prints a table per server with every check, its time and reason', () => {
    expect(text).toContain('PASS  gpu-01  10.0.0.1:22');
    expect(text).toContain('FAIL  gpu-02  10.0.0.2:2222');
    expect(text).toMatch(/ {2}reachable +ok +41 ms +SSH as ubuntu, host key SHA256:abc matches the pinned key\n/);
    expect(text).toMatch(/ {2}checkout +FAIL +6 ms +on branch "main", expected branch "cicd_01_etl"\n/);
  });

  it('prints the Variables diff table', () => {
    expect(text).toContain('Airflow Variables compared with the version file');
    expect(text).toMatch(/gpu-01 +gpu-01__a +"1" +"1" +match/);
    expect(text).toMatch(/gpu-02 +gpu-02__b +"3" +\(not set\) +DIFFERS/);
  });

  it('ends with a summary naming failed servers and their failing checks', () => {
    expect(text.trimEnd().split('\n').pop()).toBe('1 of 2 servers passed in 1235 ms; failed: gpu-02 (checkout, variables).');
  });

  it('never lets control characters from a server reach the terminal', () => {
    expect(text).not.toContain('\u001b');
    expect(text).toContain('\uFFFD[2J');
  });

  it('renders host keys for the config in host-key mode', () => {
    const keys = formatReport({
      ok: false,
      mode: 'host-keys',
      durationMs: 10,
      servers: [
        {
          name: 'gpu-01',
          host: 'h1',
          port: 22,
          ok: true,
          checks: [{ name: 'host-key', ok: true, ms: 3, reason: 'x' }],
          hostKey: { line: 'ssh-ed25519 AAAAC3Nz', fingerprint: 'SHA256:xyz', matchesPinned: null },
        },
        {
          name: 'gpu-02',
          host: 'h2',
          port: 22,
          ok: false,
          checks: [{ name: 'host-key', ok: false, ms: 3, reason: 'h2:22: connection refused' }],
        },
      ],
    });
    expect(keys).toContain('# gpu-01 (h1:22) SHA256:xyz, not pinned yet\n- name: gpu-01\n  hostPublicKey: ssh-ed25519 AAAAC3Nz\n');
    expect(keys).toContain('# gpu-02 (h2:22): h2:22: connection refused');
    expect(keys).toContain('1 of 2 host keys collected.');
  });
});

describe('reportJson', () => {
  it('has the documented shape', () => {
    const json = reportJson(report);
    expect(json.ok).toBe(false);
    expect(json.servers.map((s) => [s.name, s.host, s.ok])).toEqual([
      ['gpu-01', '10.0.0.1', true],
      ['gpu-02', '10.0.0.2', false],
    ]);
    expect(Object.keys(json.servers[0]?.checks[0] ?? {})).toEqual(['name', 'status', 'ok', 'ms', 'reason']);
    expect(json.servers[1]?.checks.map((c) => c.status)).toEqual(['pass', 'pass', 'fail', 'pass', 'fail']);
    expect(json.servers[1]?.variables?.[1]).toEqual({ fileKey: 'b', key: 'gpu-02__b', fileValue: '3', airflowValue: null, equal: false });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

/** A server whose connection failed: the checks that need one are skipped, not failed. */
const unreachable: CheckReport = {
  ok: false,
  mode: 'check',
  durationMs: 3000,
  servers: [
    {
      name: 'gpu-03',
      host: '10.0.0.3',
      port: 22,
      ok: false,
      checks: [
        { name: 'reachable', ok: false, ms: 3000, reason: '10.0.0.3:22: connection timed out' },
        { name: 'whoami', ok: false, ms: 0, reason: 'skipped: not connected' },
        { name: 'checkout', ok: false, ms: 0, reason: 'skipped: not connected' },
        { name: 'version-file', ok: false, ms: 0, reason: 'skipped: not connected' },
        { name: 'variables', ok: false, ms: 0, reason: 'skipped: no valid version file to compare with' },
      ],
    },
  ],
};

describe('skipped checks', () => {
  it('show as skip, not as FAIL: one failure per unreachable server, not five', () => {
    const text = formatReport(unreachable);
    expect(text).toMatch(/ {2}reachable +FAIL +3000 ms +10\.0\.0\.3:22: connection timed out\n/);
    expect(text).toMatch(/ {2}whoami +skip +0 ms +not connected\n/);
    expect(text).toMatch(/ {2}variables +skip +0 ms +no valid version file to compare with\n/);
    expect(text.match(/FAIL/g)).toHaveLength(2); // the server line and reachable
    expect(text.trimEnd().split('\n').pop()).toBe('0 of 1 servers passed in 3000 ms; failed: gpu-03 (reachable).');
  });

  it('have status skip and ok null in JSON', () => {
    const checks = reportJson(unreachable).servers[0]!.checks;
    expect(checks.map((c) => [c.name, c.status, c.ok])).toEqual([
      ['reachable', 'fail', false],
      ['whoami', 'skip', null],
      ['checkout', 'skip', null],
      ['version-file', 'skip', null],
      ['variables', 'skip', null],
    ]);
    expect(checks[1]!.reason).toBe('not connected');
  });

  it('are coloured only when asked', async () => {
    const { ansiStyle } = await import('../../../src/util/style.js');
    const coloured = formatReport(unreachable, ansiStyle);
    expect(coloured).toContain('\u001b[31mFAIL');
    expect(coloured).toContain('\u001b[2mskip');
    expect(formatReport(unreachable)).not.toContain('\u001b');
  });
});

describe('helpers', () => {
  it('formats durations', () => {
    expect(formatMs(0.4)).toBe('0 ms');
    expect(formatMs(999.6)).toBe('1000 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
  });

  it('replaces control characters and flattens line breaks', () => {
    expect(clean('a\nb\tc\u0007d\u009be')).toBe('a b c\uFFFDd\uFFFDe');
  });
});
