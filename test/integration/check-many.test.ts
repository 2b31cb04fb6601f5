/**
 * The runtime check against many servers: 64 loopback addresses served by this test's own sshd
 * processes (never the shared stack's), each a separate target with its own connection.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../src/config/load.js';
import { runRuntimeCheck } from '../../src/runtime-check/index.js';
import { runCli } from './check-cli.js';
import { keygen, makeCheckout, startSshd, type TestSshd } from './check-sshd.js';

const TARGETS = 64;
let sshd: TestSshd;
let dir: string;
let configPath: string;

interface JsonReport {
  ok: boolean;
  servers: Array<{ name: string; host: string; ok: boolean; checks: Array<{ name: string; ok: boolean; ms: number; reason: string }> }>;
}

beforeAll(async () => {
  sshd = await startSshd({ addresses: TARGETS });
  dir = mkdtempSync(join(tmpdir(), 'check-many-'));
  const good = join(dir, 'good');
  const offBranch = join(dir, 'off-branch');
  makeCheckout(good, 'cicd-test', 'cicd_01_etl', 'a: "1.0.0"\nb: 7\nc: true\nd: etl\n');
  makeCheckout(offBranch, 'cicd-test', 'feature_x', 'a: "1.0.0"\nb: 7\nc: true\nd: etl\n');
  // Every server is good except the last, whose checkout is on another branch.
  const servers = sshd.hosts.map((host, i) => {
    const workspace = i === TARGETS - 1 ? offBranch : good;
    return `      - { name: gpu-${String(i + 1).padStart(2, '0')}, host: "${host}", port: ${sshd.port}, workspacePath: "${workspace}", hostPublicKey: "${sshd.hostPublicKey}" }`;
  });
  configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    [
      'environments:',
      '  many:',
      '    mwaa: { environmentName: many, region: us-east-1, bucket: airflow-many }',
      '    secrets: { sshKeyArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf" }',
      '    git: { repoUrl: /srv/git/cicd-test.git, branch: cicd_01_etl }',
      `    ssh: { user: ${sshd.user}, connectTimeoutSeconds: 60, connectRetries: 5 }`,
      '    servers:',
      ...servers,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`check against ${TARGETS} servers`, () => {
  it('checks every server over its own connection and fails only the one off-branch', async () => {
    const logBefore = readFileSync(sshd.log, 'utf8').length;
    const run = await runCli([
      'check',
      '--env',
      'many',
      '--config',
      configPath,
      '--identity-file',
      sshd.clientKeyPath,
      '--json',
      '--concurrency',
      '16',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.ok).toBe(false);
    expect(report.servers).toHaveLength(TARGETS);
    expect(new Set(report.servers.map((s) => s.host)).size).toBe(TARGETS);
    const failed = report.servers.filter((s) => !s.ok);
    expect(failed.map((s) => s.name)).toEqual([`gpu-${TARGETS}`]);
    const checkout = failed[0]?.checks.find((c) => c.name === 'checkout');
    expect(checkout?.reason).toMatch(/is on branch "feature_x" at [0-9a-f]{12}, expected branch "cicd_01_etl"$/);
    for (const server of report.servers) {
      expect(server.checks.map((c) => c.name)).toEqual(['reachable', 'whoami', 'checkout', 'version-file']);
      expect(server.checks.find((c) => c.name === 'version-file')).toMatchObject({ ok: true, reason: 'a="1.0.0" b=7 c=true d="etl"' });
    }
    // No connection was dropped by sshd (MaxStartups) or refused.
    expect(readFileSync(sshd.log, 'utf8').slice(logBefore)).not.toMatch(/drop|refused/i);
  });

  it('prints every host key for first-time setup, without a key of our own', async () => {
    const run = await runCli([
      'check',
      '--env',
      'many',
      '--config',
      configPath,
      '--print-host-keys',
      '--server',
      'gpu-01',
      '--server',
      'gpu-02',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`- name: gpu-01\n  hostPublicKey: ${sshd.hostPublicKey}\n`);
    expect(run.stdout).toContain(`- name: gpu-02\n  hostPublicKey: ${sshd.hostPublicKey}\n`);
    expect(run.stdout).toMatch(/# gpu-01 \(127\.0\.0\.1:\d+\) SHA256:[A-Za-z0-9+/]{43}, matches the config/);
  });

  it('--print-host-keys fails when a server presents another key than the pinned one', async () => {
    const keyPath = join(dir, 'other_host_key');
    keygen(keyPath, 'other');
    const other = readFileSync(`${keyPath}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const changedPath = join(dir, 'changed.yaml');
    // gpu-01 pins a key the server does not have; gpu-02 keeps the right one.
    writeFileSync(
      changedPath,
      readFileSync(configPath, 'utf8').replace(
        `name: gpu-01, host: "127.0.0.1", port: ${sshd.port}, workspacePath: "${join(dir, 'good')}", hostPublicKey: "${sshd.hostPublicKey}"`,
        `name: gpu-01, host: "127.0.0.1", port: ${sshd.port}, workspacePath: "${join(dir, 'good')}", hostPublicKey: "${other}"`,
      ),
    );
    expect(readFileSync(changedPath, 'utf8')).toContain(other);
    const run = await runCli([
      'check',
      '--env',
      'many',
      '--config',
      changedPath,
      '--print-host-keys',
      '--server',
      'gpu-01',
      '--server',
      'gpu-02',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/# gpu-01 \(127\.0\.0\.1:\d+\) SHA256:[A-Za-z0-9+/]{43}, DIFFERS/i);
    expect(run.stdout).toMatch(/# gpu-02 \(127\.0\.0\.2:\d+\) SHA256:[A-Za-z0-9+/]{43}, matches the config/);
  });

  it('keeps at most --concurrency servers in flight, and --quick checks only reachability and whoami', async () => {
    const config = resolveConfig(await readConfigFile({ configPath }), 'many');
    let inFlight = 0;
    let peak = 0;
    const report = await runRuntimeCheck(config, { identityFile: sshd.clientKeyPath, concurrency: 8, quick: true }, (event) => {
      if (event.type === 'server-started') peak = Math.max(peak, ++inFlight);
      if (event.type === 'server-finished') inFlight--;
    });
    expect(peak).toBe(8);
    // The off-branch server passes too: --quick does not look at the checkout.
    expect(report.ok).toBe(true);
    expect(report.servers.every((s) => s.checks.map((c) => c.name).join() === 'reachable,whoami')).toBe(true);
  });

  it('refuses a server that does not offer the pinned key type', async () => {
    const config = resolveConfig(await readConfigFile({ configPath }), 'many');
    const server = config.servers[0] as (typeof config.servers)[number];
    // A well-formed ECDSA key: this sshd has only an ed25519 host key.
    server.hostPublicKey =
      'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=';
    const report = await runRuntimeCheck(config, { identityFile: sshd.clientKeyPath, servers: [server.name] });
    expect(report.servers[0]?.checks[0]?.reason).toMatch(
      /^127\.0\.0\.1:\d+ offers no ecdsa-sha2-nistp256 host key, the type the config pins/,
    );
  });

  it('says clearly, within the timeout, when sshd is not running', async () => {
    await sshd.kill();
    const run = await runCli([
      'check',
      '--env',
      'many',
      '--config',
      configPath,
      '--identity-file',
      sshd.clientKeyPath,
      '--server',
      'gpu-01',
      '--json',
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    const reachable = report.servers[0]?.checks[0];
    expect(reachable?.ok).toBe(false);
    expect(reachable?.reason).toBe(`${sshd.user}@127.0.0.1:${sshd.port}: connection refused (is sshd running and listening on that port?)`);
    // Retries back off but stay inside connectTimeoutSeconds (60 s here).
    expect(reachable?.ms).toBeLessThan(60_000);
  });
});
