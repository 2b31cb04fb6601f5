/**
 * `check` against the running local stack: its sshd (the stand-in GPU server), its moto Secrets
 * Manager (the SSH key) and its MWAA control plane (Variables through the CLI token). Variants use
 * their own config file, workspaces and Variable names, so the shared stack is never disturbed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAwsClients } from '../../src/mwaa/clients.js';
import { loadConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import { createMwaaCli } from '../../src/mwaa/cli-client.js';
import { stackFetch } from '../support/stack.js';
import { readStateIfPresent, stackRoot, type LocalStackState } from '../../local-stack/src/state.js';
import { runRuntimeCheck, type CheckReport, type ServerReport } from '../../src/runtime-check/index.js';
import { runCli } from './check-cli.js';
import { keygen } from './check-sshd.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const ENV = 'variant';
const MAX_BYTES = 4096;

function requireStack(): LocalStackState {
  const state = readStateIfPresent(stackRoot(process.env, repoRoot));
  if (!state)
    throw new Error(`The local stack is not up (${stackRoot(process.env, repoRoot)}/state.json missing). Run: npm run local -- up`);
  return state;
}

let state: LocalStackState;
let dir: string;
let configPath: string;
let config: ResolvedConfig;
/** The version file as the stack's repository holds it. */
let fileValues: Record<string, unknown>;
const savedEnv = { ...process.env };

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** A clone of the stack's bare repository on the configured branch, in a workspace of its own. */
function cloneInto(workspace: string): string {
  mkdirSync(workspace, { recursive: true });
  git(workspace, 'clone', '-q', '--branch', state.git.branch, state.git.remoteUrl, 'cicd-test');
  return join(workspace, 'cicd-test');
}

/** Each variant server: a name and how its workspace is prepared. */
const variants: Record<string, (checkout: string) => void> = {
  good: () => undefined,
  missing: (checkout) => unlinkSync(join(checkout, 'www/version.yaml')),
  'not-mapping': (checkout) => writeFileSync(join(checkout, 'www/version.yaml'), '- a\n- b\n'),
  oversized: (checkout) => writeFileSync(join(checkout, 'www/version.yaml'), `a: 1\nb: 2\nc: 3\nd: 4\n#${'x'.repeat(MAX_BYTES)}\n`),
  bomb: (checkout) =>
    writeFileSync(
      join(checkout, 'www/version.yaml'),
      [
        'x0: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map(
          (name, i) => `x${i + 1}: &${name} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`,
        ),
        'a: 1',
        'b: 2',
        'c: 3',
        'd: 4',
        '',
      ].join('\n'),
    ),
  'python-tag': (checkout) =>
    writeFileSync(join(checkout, 'www/version.yaml'), "a: !!python/object/apply:os.system ['touch /tmp/pwned']\nb: 2\nc: 3\nd: 4\n"),
  branch: (checkout) => git(checkout, 'checkout', '-q', '-b', 'some_other_branch'),
};

function writeVariantConfig(path: string, servers: Array<{ name: string; workspacePath: string; hostPublicKey?: string }>): void {
  const lines = [
    'environments:',
    `  ${ENV}:`,
    // The environment's own version: the line decides how MWAA's web login and REST API are reached.
    `    airflow: { version: "${state.airflowVersion}" }`,
    `    mwaa: { environmentName: ${state.environmentName}, region: ${state.region}, bucket: airflow-check-it }`,
    `    aws: { endpoints: { s3: "${state.endpoints.s3}", secretsManager: "${state.endpoints.secretsManager}", mwaa: "${state.endpoints.mwaa}" }${state.tls ? `, caBundle: "${state.tls.caCert}"` : ''} }`,
    `    secrets: { sshKeyArn: "${state.secretArn}" }`,
    `    ssh: { user: ${state.ssh.user}, connectTimeoutSeconds: 10, connectRetries: 2, commandTimeoutSeconds: 30 }`,
    `    git: { repoUrl: "${state.git.remoteUrl}", branch: ${state.git.branch}, checkoutDir: cicd-test }`,
    '    versionFile:',
    '      path: www/version.yaml',
    `      maxBytes: ${MAX_BYTES}`,
    // Variables of our own: the stack's a, b, c, d belong to the DAG's runs.
    '      variables:',
    ...['a', 'b', 'c', 'd'].map((key) => `        - { key: ${key}, variable: rc_check_${key} }`),
    '    servers:',
    ...servers.map(
      (s) =>
        `      - { name: ${s.name}, host: "${state.ssh.host}", port: ${state.ssh.port}, workspacePath: "${s.workspacePath}", hostPublicKey: "${s.hostPublicKey ?? state.ssh.hostPublicKey}" }`,
    ),
    '',
  ];
  writeFileSync(path, lines.join('\n'));
}

function server(report: CheckReport, name: string): ServerReport {
  const found = report.servers.find((s) => s.name === name);
  if (!found) throw new Error(`no server ${name} in the report`);
  return found;
}

function check(report: CheckReport, serverName: string, name: string) {
  return server(report, serverName).checks.find((c) => c.name === name);
}

/** The --json report, or a failure that shows what the CLI said instead. */
function jsonReport<T>(run: { code: number | null; stdout: string; stderr: string }): T {
  if (!run.stdout.trim().startsWith('{')) throw new Error(`check printed no report (exit ${String(run.code)}):\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** No line of the private key's body may appear anywhere in what the CLI prints. */
function expectNoKeyMaterial(text: string): void {
  const key = readFileSync(state.ssh.clientKeyPath, 'utf8');
  const body = key.split('\n').filter((line) => line && !line.startsWith('-----'));
  expect(body.length).toBeGreaterThan(0);
  for (const line of body) expect(text).not.toContain(line);
  expect(text).not.toContain('PRIVATE KEY');
}

beforeAll(() => {
  state = requireStack();
  // The variant environment is not `localStack: true`, so the SDK takes moto's dummy credentials from here.
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  process.env.AWS_REGION = state.region;
  dir = mkdtempSync(join(tmpdir(), 'check-it-'));
  for (const [name, prepare] of Object.entries(variants)) prepare(cloneInto(join(dir, name)));
  mkdirSync(join(dir, 'no-checkout'));
  fileValues = parse(readFileSync(join(dir, 'good/cicd-test/www/version.yaml'), 'utf8')) as Record<string, unknown>;
  configPath = join(dir, 'config.yaml');
  writeVariantConfig(
    configPath,
    [...Object.keys(variants), 'no-checkout'].map((name) => ({ name, workspacePath: join(dir, name) })),
  );
});

afterAll(() => {
  process.env = savedEnv;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('check --env local (the stack as the config describes it)', () => {
  it('passes every check, with the key from Secrets Manager (moto), and prints no key material', async () => {
    // The DAG clones the repository on its first run; before that, do what it would do.
    const checkout = join(state.workspace, 'cicd-test');
    if (!existsSync(join(checkout, '.git'))) cloneInto(state.workspace);
    const run = await runCli(['check', '--env', 'local', '--json']);
    const report = jsonReport<{
      ok: boolean;
      servers: Array<{ name: string; host: string; ok: boolean; checks: Array<{ name: string; ok: boolean; ms: number; reason: string }> }>;
    }>(run);
    expect(report.servers.map((s) => s.checks.filter((c) => !c.ok))).toEqual([[]]);
    expect(report.ok).toBe(true);
    expect(run.code).toBe(0);
    const [local] = report.servers;
    expect(local?.host).toBe(state.ssh.host);
    expect(local?.checks.map((c) => c.name)).toEqual(['reachable', 'whoami', 'checkout', 'version-file']);
    expect(local?.checks[1]?.reason).toBe(state.ssh.user);
    expect(local?.checks[2]?.reason).toMatch(new RegExp(`on ${state.git.branch} at [0-9a-f]{12}$`));
    expectNoKeyMaterial(run.stdout + run.stderr);

    const human = await runCli(['check', '--env', 'local']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^PASS {2}local-gpu {2}127\.0\.0\.1:\d+\n/);
    // formatMs: "840 ms", or "12.3 s" from ten seconds on (a loaded machine).
    expect(human.stdout).toMatch(/1 of 1 servers passed in (\d+ ms|\d+\.\d s)\.\n$/);
    expectNoKeyMaterial(human.stdout + human.stderr);
  });
});

describe('check variants against the stack sshd', () => {
  let report: CheckReport;

  beforeAll(async () => {
    config = await loadConfig({ configPath, env: ENV });
    report = await runRuntimeCheck(config, { concurrency: 8 });
  });

  it('passes the good workspace', () => {
    expect(server(report, 'good').checks.filter((c) => !c.ok)).toEqual([]);
    const values = Object.entries(fileValues).filter(([k]) => ['a', 'b', 'c', 'd'].includes(k));
    expect(check(report, 'good', 'version-file')?.reason).toBe(values.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' '));
  });

  it.each([
    ['missing', /www\/version\.yaml does not exist$/],
    ['not-mapping', /: expected a mapping of keys to values, found a list$/],
    ['oversized', new RegExp(`www/version\\.yaml is \\d+ bytes, over the limit of ${MAX_BYTES}$`)],
    ['bomb', /: more than 10 aliases$/],
    ['python-tag', /: the tag tag:yaml\.org,2002:python\/object\/apply:os\.system is not allowed \(write plain values\)$/],
  ])('fails the version file check for %s, and only it', (name, reason) => {
    const s = server(report, name);
    expect(s.ok).toBe(false);
    expect(s.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['version-file']);
    expect(check(report, name, 'version-file')?.reason).toMatch(reason);
  });

  it('fails the checkout check on another branch, naming both branches and the commit', () => {
    expect(
      server(report, 'branch')
        .checks.filter((c) => !c.ok)
        .map((c) => c.name),
    ).toEqual(['checkout']);
    expect(check(report, 'branch', 'checkout')?.reason).toMatch(
      new RegExp(`is on branch "some_other_branch" at [0-9a-f]{12}, expected branch "${state.git.branch}"$`),
    );
    expect(server(report, 'branch').git?.branch).toBe('some_other_branch');
  });

  it('fails checkout and version file where there is no checkout', () => {
    expect(
      server(report, 'no-checkout')
        .checks.filter((c) => !c.ok)
        .map((c) => c.name),
    ).toEqual(['checkout', 'version-file']);
    expect(check(report, 'no-checkout', 'checkout')?.reason).toMatch(
      /^no git checkout at .*no-checkout\/cicd-test: fatal: cannot change to/,
    );
  });

  it('refuses a server whose host key differs from the pinned one, before authenticating', async () => {
    const other = join(dir, 'other_host_key');
    keygen(other);
    const pinned = readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const path = join(dir, 'wrong-host-key.yaml');
    writeVariantConfig(path, [{ name: 'good', workspacePath: join(dir, 'good'), hostPublicKey: pinned }]);
    const logBefore = readFileSync(state.ssh.sshdLog, 'utf8').length;
    const wrong = await runRuntimeCheck(await loadConfig({ configPath: path, env: ENV }));
    const reachable = check(wrong, 'good', 'reachable');
    expect(reachable?.ok).toBe(false);
    expect(reachable?.reason).toMatch(
      /^host key mismatch for 127\.0\.0\.1:\d+: the server presented SHA256:\S+, the config pins SHA256:\S+; refusing to connect$/,
    );
    expect(
      server(wrong, 'good')
        .checks.slice(1)
        .every((c) => !c.ok && c.reason === 'skipped: not connected'),
    ).toBe(true);
    // We hung up during key exchange: sshd never saw an authentication attempt.
    expect(readFileSync(state.ssh.sshdLog, 'utf8').slice(logBefore)).not.toMatch(/Accepted publickey|Failed publickey/);
  });

  it('reports a rejected key clearly, with exit code 1 and no key material', async () => {
    const stranger = join(dir, 'stranger_key');
    keygen(stranger);
    const run = await runCli(['check', '--env', ENV, '--config', configPath, '--server', 'good', '--identity-file', stranger, '--json']);
    expect(run.code).toBe(1);
    const json = jsonReport<{ servers: Array<{ checks: Array<{ name: string; ok: boolean; reason: string }> }> }>(run);
    expect(json.servers[0]?.checks[0]?.reason).toMatch(
      new RegExp(
        `^${state.ssh.user}@127\\.0\\.0\\.1:\\d+: the server rejected our key \\(key SHA256:\\S+\\); is its public key in authorized_keys\\?$`,
      ),
    );
    const strangerKey = readFileSync(stranger, 'utf8').split('\n')[2] as string;
    expect(run.stdout + run.stderr).not.toContain(strangerKey);
  });

  it('exits 2 for usage and config errors', async () => {
    const unknown = await runCli(['check', '--env', ENV, '--config', configPath, '--server', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown server "nope"');
    const noEnv = await runCli(['check', '--env', 'absent', '--config', configPath]);
    expect(noEnv.code).toBe(2);
    const combined = await runCli(['check', '--env', ENV, '--config', configPath, '--quick', '--compare-variables']);
    expect(combined.code).toBe(2);
  });
});

describe("check --compare-variables through Airflow's REST API", () => {
  const keys = ['a', 'b', 'c', 'd'].map((k) => `good__rc_check_${k}`);

  afterAll(async () => {
    if (!config) return;
    const cli = createMwaaCli(createAwsClients(config).mwaa, config.mwaa.environmentName, 'https', config.airflow.version, {
      fetch: stackFetch(state),
    });
    for (const key of keys) await cli.run(['variables', 'delete', key]).catch(() => undefined);
  });

  it('shows a diff table and fails when a Variable differs from the file or is missing', async () => {
    const cli = createMwaaCli(createAwsClients(config).mwaa, config.mwaa.environmentName, 'https', config.airflow.version, {
      fetch: stackFetch(state),
    });
    // a and b as the DAG would write them, c different, d absent.
    await cli.run(['variables', 'set', 'good__rc_check_a', String(fileValues.a)]);
    await cli.run(['variables', 'set', 'good__rc_check_b', String(fileValues.b)]);
    await cli.run(['variables', 'set', 'good__rc_check_c', 'not-the-file-value']);
    await cli.run(['variables', 'delete', 'good__rc_check_d']).catch(() => undefined);

    const run = await runCli([
      'check',
      '--env',
      ENV,
      '--config',
      configPath,
      '--server',
      'good',
      '--server',
      'missing',
      '--compare-variables',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Airflow Variables compared with the version file');
    expect(run.stdout).toMatch(
      new RegExp(`good +good__rc_check_a +${JSON.stringify(String(fileValues.a)).replace(/[.]/g, '\\.')} +\\S+ +match`),
    );
    expect(run.stdout).toMatch(/good +good__rc_check_c +\S+ +"not-the-file-value" +DIFFERS/);
    expect(run.stdout).toMatch(/good +good__rc_check_d +\S+ +\(not set\) +DIFFERS/);
    expect(run.stdout).toMatch(
      / {2}variables +FAIL .*good__rc_check_c differs: file .*, Airflow "not-the-file-value"; good__rc_check_d is not set in Airflow/,
    );
    // The server without a valid file is not compared at all.
    expect(run.stdout).toMatch(/ {2}variables +skip +0 ms +no valid version file to compare with/);
    expectNoKeyMaterial(run.stdout + run.stderr);
  });
});
