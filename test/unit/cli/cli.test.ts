/**
 * The CLI as users meet it: usage errors, flags that conflict or lack a value, --json on failure,
 * help, completion, colour, --quiet. Runs the bundled dist/cli.js in temp directories.
 */
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();
const shipped = readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8');

/** A project directory holding the shipped config, optionally changed. */
function project(change: (text: string) => string = (t) => t): string {
  const dir = tmp();
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config/config.yaml'), change(shipped));
  cpSync(join(repoRoot, 'config/config.schema.json'), join(dir, 'config/config.schema.json'));
  return dir;
}

describe('usage errors', () => {
  it('a misspelt flag names the flag and the likely one, without a screen of help', () => {
    const run = runCli(['generate', '--evn', 'dev'], { cwd: project() });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('Unknown option --evn. Did you mean --env?\nSee: mwaa-gpu-cicd generate --help\n');
    expect(run.stdout).toBe('');
  });

  it('a misspelt command suggests the command', () => {
    const run = runCli(['genrate']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Unknown command "genrate"\. Did you mean "generate"\?/);
  });

  it('a misspelt action suggests the action', () => {
    const run = runCli(['local', 'stauts']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^action must be one of up, provision, status, down, logs, env; got "stauts"\. Did you mean "status"\?/);
  });

  // Each: arguments, and the message that must come back (exit code 2, before any config is read).
  const refused: Array<[string[], RegExp]> = [
    [['generate', '--env'], /^--env needs a value: an environment name/],
    [['generate', '--env', '--all'], /^--env needs a value/],
    [['generate', '--env', 'prod', '--all'], /^--env and --all cannot be used together: --all already means every environment/],
    [['deploy', '--env', '--plan'], /^--env needs a value/],
    [['deploy', '--env', 'dev', '--plan', '--wait'], /^--plan and --wait cannot be used together: --plan triggers nothing/],
    [['deploy', '--env', 'dev', '--plan', '--yes'], /^--plan and --yes cannot be used together: --plan changes nothing/],
    [['deploy', '--env', 'dev', '--plan', '-y'], /^--plan and --yes cannot be used together/],
    [['deploy', '--env', 'dev', '--json', '--format', 'markdown'], /^--json and --format cannot be used together/],
    [['deploy', '--env', 'dev', '--diff'], /^--diff goes with --plan/],
    [['deploy', '--env', 'dev', '--detailed-exitcode'], /^--detailed-exitcode goes with --plan/],
    [['deploy', '--env', 'dev', '--no-trigger', '--wait'], /^--no-trigger and --wait cannot be used together/],
    [['deploy', '--env', 'dev', '--timeout', '0'], /^--timeout must be longer than 0/],
    [['deploy', '--env', 'dev', '--timeout', 'soon'], /^--timeout: Invalid duration "soon"/],
    [['local', 'status', '--wipe'], /^--wipe goes with `local down`, not `local status`/],
    [['local', 'up', '--lines', '5'], /^--lines goes with `local logs`, not `local up`/],
    [['check', '--env', 'dev', '--concurrency', 'abc'], /^--concurrency expects a whole number from 1 to 1024; got "abc"/],
    [['check', '--env', 'dev', '--concurrency', '0'], /^--concurrency expects a whole number from 1 to 1024; got "0"/],
    [['check', '--env', 'dev', '--quick', '--print-host-keys'], /^--print-host-keys and --quick cannot be combined/],
    [['--quiet', '--verbose', 'generate'], /quiet and verbose are mutually exclusive/],
    [['deploy'], /^--env is required\.\nSee: mwaa-gpu-cicd deploy --help/],
  ];
  it.each(refused)('%j', (args, message) => {
    const run = runCli(args, { cwd: tmp() });
    expect(run.stderr).toMatch(message);
    expect(run.status).toBe(2);
  });

  it('with --json, a usage error is a JSON document on stdout too', () => {
    const run = runCli(['deploy', '--env', 'dev', '--plan', '--wait', '--json'], { cwd: tmp() });
    expect(run.status).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      command: 'deploy',
      error: { message: '--plan and --wait cannot be used together: --plan triggers nothing, so there is no run to wait for', exitCode: 2 },
    });
  });
});

describe('config errors', () => {
  it('an unknown environment suggests the one meant', () => {
    const run = runCli(['generate', '--env', 'Prod', '--out', tmp()], { cwd: project() });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('No environment "Prod" in config/config.yaml. Did you mean "prod"? Known environments: dev, local, prod.\n');
  });

  it('no config file points at init', () => {
    const run = runCli(['generate'], { cwd: tmp() });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^No config file at config\/config\.yaml\. Create one with: npx mwaa-gpu-cicd init/);
  });

  it('with --json, every problem is on stdout with its path and position', () => {
    const cwd = project((t) => t.replace('bucket: airflow-gpu-cicd-dev', 'bukcet: airflow-gpu-cicd-dev'));
    const run = runCli(['generate', '--json', '--out', tmp()], { cwd });
    expect(run.status).toBe(2);
    const document = JSON.parse(run.stdout) as {
      ok: boolean;
      error: { exitCode: number; file: string; issues: Array<{ path: string; message: string; line: number }> };
    };
    expect(document.ok).toBe(false);
    expect(document.error.exitCode).toBe(2);
    expect(document.error.file).toBe('config/config.yaml');
    expect(document.error.issues.map((i) => [i.path, i.message])).toEqual([
      ['environments.dev.mwaa.bucket', 'missing: a value is required here (a string); is "bukcet" a misspelling of it?'],
      ['environments.dev.mwaa.bukcet', 'unknown key; did you mean "bucket"?'],
    ]);
  });
});

describe('generate validates the whole file', () => {
  // dev: 1 problem; prod: 2.
  const broken = (t: string) =>
    t
      .replace('region: us-east-1\n      accountId: "111122223333"', 'region: mars\n      accountId: "111122223333"')
      .replace('host: 10.30.1.21', 'host: "10.30.1.300"')
      .replace('bucket: airflow-gpu-cicd-prod', 'bucket: gpu_cicd_prod');

  it('--all reports the problems of every environment, not only the first', () => {
    const out = join(tmp(), 'out');
    const run = runCli(['generate', '--all', '--out', out], { cwd: project(broken) });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^Invalid configuration \(3 problems\):/);
    expect(run.stderr).toMatch(/environments\.dev\.mwaa\.region: expected an AWS region/);
    expect(run.stderr).toMatch(/environments\.prod\.mwaa\.bucket: /);
    expect(run.stderr).toMatch(/environments\.prod\.servers\[0\]\.host: /);
    expect(existsSync(out)).toBe(false);
  });

  it("--env prod fails while dev is invalid, naming dev's problem", () => {
    const out = join(tmp(), 'out');
    const run = runCli(['generate', '--env', 'prod', '--out', out], {
      cwd: project((t) => t.replace('region: us-east-1\n      accountId: "111122223333"', 'region: mars\n      accountId: "111122223333"')),
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^Invalid configuration \(1 problem\):\n {2}config\/config\.yaml:\d+:\d+: environments\.dev\.mwaa\.region: /,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a problem in defaults is reported once, not once per environment', () => {
    const run = runCli(['generate', '--out', tmp()], {
      cwd: project((t) => t.replace('    retryDelaySeconds: 60', '    retryDelaySeconds: 0')),
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'Invalid configuration (1 problem):\n  config/config.yaml:11:24: defaults.dag.retryDelaySeconds: expected a number greater than 0; found 0\n',
    );
  });
});

describe('generate --check (for CI)', () => {
  it('in a fresh checkout (no dist-artifacts) validates and renders every environment, and passes', () => {
    const cwd = project();
    const run = runCli(['generate', '--check'], { cwd });
    expect(run.stderr).toContain('local: not rendered: Environment "local" takes its servers');
    expect(run.stderr).toContain('dev: valid and rendered; dist-artifacts/dev/ does not exist here, so there is nothing to compare');
    expect(run.stdout).toBe('2 environments valid and rendered (dev, prod).\n');
    expect(run.status).toBe(0);
    expect(existsSync(join(cwd, 'dist-artifacts'))).toBe(false);
  });

  it('fails on a problem in any environment', () => {
    const run = runCli(['generate', '--check'], { cwd: project((t) => t.replace('host: 10.30.1.22', 'host: "10.30.1.999"')) });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/environments\.prod\.servers\[1\]\.host/);
  });

  it('compares the artifacts that exist, and its hint repeats the flags that were used', () => {
    const cwd = project();
    const out = join(tmp(), 'artifacts');
    expect(runCli(['generate', '--env', 'prod', '--out', out], { cwd }).status).toBe(0);
    expect(runCli(['generate', '--check', '--out', out], { cwd }).stdout).toBe(
      `2 environments valid and rendered (dev, prod); ${out} up to date for prod.\n`,
    );
    writeFileSync(join(out, 'prod/requirements.txt'), 'edited by hand\n');
    const stale = runCli(['generate', '--check', '--env', 'prod', '--out', out], { cwd });
    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe(`${out} is stale:\n  prod/requirements.txt\nRun: mwaa-gpu-cicd generate --env prod --out ${out}\n`);
  });

  it('through npm run, the hint is the npm run command', () => {
    const cwd = project();
    const out = join(tmp(), 'artifacts');
    runCli(['generate', '--env', 'dev', '--out', out], { cwd });
    writeFileSync(join(out, 'dev/manifest.json'), '{}\n');
    const stale = runCli(['generate', '--check', '--env', 'dev', '--out', out], {
      cwd,
      env: { npm_lifecycle_event: 'generate', npm_package_name: 'mwaa-gpu-cicd' },
    });
    expect(stale.stderr).toMatch(new RegExp(`Run: npm run generate -- --env dev --out ${out}\\n$`));
  });
});

describe('output', () => {
  it('colour only on request: FORCE_COLOR on, NO_COLOR off, none in a pipe by default', () => {
    const cwd = project();
    const out = tmp();
    expect(runCli(['generate', '--out', out], { cwd }).stdout).not.toContain('\u001b[');
    expect(runCli(['generate', '--out', out], { cwd, env: { FORCE_COLOR: '1' } }).stdout).toContain(`\u001b[1m${out}/dev/\u001b[22m`);
    expect(runCli(['generate', '--out', out], { cwd, env: { FORCE_COLOR: '1', NO_COLOR: '1' } }).stdout).not.toContain('\u001b[');
  });

  it('--quiet leaves only results and errors', () => {
    const cwd = project();
    const loud = runCli(['generate', '--all', '--out', tmp()], { cwd });
    expect(loud.stderr).toMatch(/local: not rendered/);
    const quiet = runCli(['generate', '--all', '--quiet', '--out', tmp()], { cwd });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/prod\/ \(Airflow 2\.11\.2/);
  });

  it('--help shows examples and the exit codes', () => {
    const help = runCli(['deploy', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('mwaa-gpu-cicd deploy --env prod --plan --diff');
    expect(help.stdout).toMatch(
      /Exit codes:\n {2}0 success\n {2}1 failure [^\n]*(\n[^\n]*)?\n {2}2 usage or configuration error\n {2}3 deploy --plan --detailed-exitcode/,
    );
    expect(runCli(['--help']).stdout).toMatch(/Commands:[\s\S]*init[\s\S]*parse[\s\S]*completion/);
  });

  it('prints a shell completion script that completes commands and flags', () => {
    // The default shell is the login shell's ($SHELL), which a CI runner may not set.
    const script = runCli(['completion'], { env: { SHELL: '/bin/bash' } });
    expect(script.status).toBe(0);
    expect(runCli(['completion', 'bash'], { env: { SHELL: undefined } }).stdout).toBe(script.stdout);
    const unnamed = runCli(['completion'], { env: { SHELL: undefined } });
    expect(unnamed.status).toBe(2);
    expect(unnamed.stderr).toContain('Name the shell: mwaa-gpu-cicd completion bash|zsh|fish');
    expect(script.stdout).toContain('complete -o bashdefault -o default -F _mwaa-gpu-cicd_yargs_completions mwaa-gpu-cicd');
    expect(runCli(['--get-yargs-completions', 'mwaa-gpu-cicd', 'de']).stdout.split('\n')).toContain('deploy');
    const flags = runCli(['--get-yargs-completions', 'mwaa-gpu-cicd', 'deploy', '--pl']).stdout.split('\n');
    expect(flags).toEqual(expect.arrayContaining(['--plan', '--diff', '--format', '--profile']));
  });
});

describe('AWS access problems name what this run used', () => {
  const isolated = () => {
    const home = tmp();
    return {
      HOME: home,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: join(home, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
    };
  };

  it('--profile that names no profile says so, instead of a raw CredentialsProviderError', () => {
    const run = runCli(['check', '--env', 'dev', '--profile', 'nope'], { cwd: project(), env: isolated() });
    expect(run.status).toBe(1);
    const [first, hint] = run.stderr.split('\n');
    // No request went out: the credentials are resolved before the endpoint.
    expect(first).toMatch(/^Secrets Manager GetSecretValue failed: CredentialsProviderError: /);
    expect(hint).toMatch(/^AWS_PROFILE is "nope", but no profile of that name is in ~\/\.aws\/config or ~\/\.aws\/credentials/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('--verbose adds the cause the message was made from', () => {
    const run = runCli(['check', '--env', 'dev', '--profile', 'nope', '--verbose'], { cwd: project(), env: isolated() });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/\ncause: CredentialsProviderError: Could not load credentials from any providers\n\s+at /);
  });

  it('no credentials at all says how to provide them', () => {
    const run = runCli(['deploy', '--env', 'dev', '--plan'], { cwd: project(), env: isolated() });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^(S3|MWAA) \w+ failed: CredentialsProviderError: .*\nNo AWS credentials found .*--profile <name>/);
  });
});

describe('check', () => {
  it('prints progress on stderr when it is not a terminal, and skipped checks as skip', async () => {
    // A port nobody listens on: the connection is refused at once.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const cwd = project((t) =>
      t.replace('host: 10.20.1.15', `host: 127.0.0.1\n        port: ${port}`).replace('connectRetries: 3', 'connectRetries: 0'),
    );
    const key = join(tmp(), 'id_rsa');
    writeFileSync(
      key,
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      }).privateKey,
      {
        mode: 0o600,
      },
    );
    const run = runCli(['check', '--env', 'dev', '--identity-file', key], { cwd });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('checking 1 server (1 at a time)...\nFAIL gpu-dev-01: reachable\n');
    expect(run.stdout).toMatch(/ {2}whoami +skip +0 ms +not connected\n/);
    expect(run.stdout.match(/FAIL/g)).toHaveLength(2);
    const json = runCli(['check', '--env', 'dev', '--identity-file', key, '--json'], { cwd });
    expect(json.stderr).toBe('');
    const checks = (JSON.parse(json.stdout) as { servers: Array<{ checks: Array<{ name: string; status: string; ok: boolean | null }> }> })
      .servers[0]!.checks;
    expect(checks.map((c) => `${c.name}:${c.status}`)).toEqual(['reachable:fail', 'whoami:skip', 'checkout:skip', 'version-file:skip']);
  });

  it('--print-host-keys works before any key is pinned: it is how the first pin is made', () => {
    const cwd = project((t) =>
      t
        .replace(/\n {8}hostPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1.*/, '')
        .replace('host: 10.20.1.15', 'host: 127.0.0.1\n        port: 9')
        .replace('connectRetries: 3', 'connectRetries: 0'),
    );
    expect(runCli(['generate', '--env', 'dev', '--out', tmp()], { cwd }).stderr).toMatch(/No host key is pinned for server gpu-dev-01/);
    const run = runCli(['check', '--env', 'dev', '--print-host-keys'], { cwd });
    expect(run.stdout).toMatch(/^# gpu-dev-01 \(127\.0\.0\.1:9\): /);
    expect(run.stdout).toContain('0 of 1 host keys collected.');
  });
});
