import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot, runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

describe('init', () => {
  it('writes a commented config that validates at once and leads to the first host key pin', () => {
    const cwd = tmp();
    const run = runCli(['init'], { cwd });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Wrote config/config.yaml (environments dev and local).');
    expect(run.stdout).toContain('mwaa-gpu-cicd check --env dev --print-host-keys');
    const text = readFileSync(join(cwd, 'config/config.yaml'), 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=/);
    expect(text).toContain('# TODO: the MWAA source bucket');
    expect((parseYaml(text) as { environments: Record<string, unknown> }).environments).toHaveProperty('dev');
    const generate = runCli(['generate'], { cwd });
    expect(generate.status, generate.stderr).toBe(0);
    expect(existsSync(join(cwd, 'dist-artifacts/dev/dags/gpu_server_cicd_dag.py'))).toBe(true);
  });

  it('fills in what it is given', () => {
    const cwd = tmp();
    const run = runCli(
      [
        'init',
        '--env',
        'prod',
        '--region',
        'eu-west-1',
        '--bucket',
        'airflow-acme-prod',
        '--server',
        '10.1.2.3',
        '--server',
        'gpu2.example.com',
        '--airflow',
        '3.0.6',
      ],
      { cwd },
    );
    expect(run.status, run.stderr).toBe(0);
    const config = parseYaml(readFileSync(join(cwd, 'config/config.yaml'), 'utf8')) as {
      defaults: { airflow: { version: string } };
      environments: { prod: { mwaa: { region: string; bucket: string }; servers: Array<{ host: string }> } };
    };
    expect(config.defaults.airflow.version).toBe('3.0.6');
    expect(config.environments.prod.mwaa).toMatchObject({ region: 'eu-west-1', bucket: 'airflow-acme-prod' });
    expect(config.environments.prod.servers.map((s) => s.host)).toEqual(['10.1.2.3', 'gpu2.example.com']);
    expect(runCli(['generate', '--env', 'prod', '--json'], { cwd }).status).toBe(0);
  });

  it('refuses a value the schema refuses, and writes nothing', () => {
    const cwd = tmp();
    const run = runCli(['init', '--bucket', 'no_such_bucket'], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^The values given make an invalid config; nothing was written:\n {2}environments\.dev\.mwaa\.bucket: /);
    expect(existsSync(join(cwd, 'config'))).toBe(true);
    expect(existsSync(join(cwd, 'config/config.yaml'))).toBe(false);
  });

  it('never overwrites a config unless told to', () => {
    const cwd = tmp();
    expect(runCli(['init'], { cwd }).status).toBe(0);
    writeFileSync(join(cwd, 'config/config.yaml'), '# mine\n');
    const again = runCli(['init'], { cwd });
    expect(again.status).toBe(2);
    expect(again.stderr).toBe('config/config.yaml already exists. Edit it, or pass --force to replace it.\n');
    expect(readFileSync(join(cwd, 'config/config.yaml'), 'utf8')).toBe('# mine\n');
    expect(runCli(['init', '--force'], { cwd }).status).toBe(0);
  });
});

describe('init and what is already there', () => {
  const packageSchema = () => readFileSync(join(repoRoot, 'config/config.schema.json'), 'utf8');

  it('never overwrites a config.schema.json of its own without --force, and then writes nothing at all', () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config/config.schema.json'), '{"mine": true}\n');
    const run = runCli(['init'], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      'config/config.schema.json already exists and differs from the schema of this version. Nothing was written. ' +
        'Move it away, or pass --force to replace it (and the config).\n',
    );
    expect(readFileSync(join(cwd, 'config/config.schema.json'), 'utf8')).toBe('{"mine": true}\n');
    expect(existsSync(join(cwd, 'config/config.yaml'))).toBe(false);
    const forced = runCli(['init', '--force'], { cwd });
    expect(forced.status, forced.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'config/config.schema.json'), 'utf8')).toBe(packageSchema());
  });

  it('leaves an identical config.schema.json as it is', () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config/config.schema.json'), packageSchema());
    const run = runCli(['init'], { cwd });
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(cwd, 'config/config.yaml'))).toBe(true);
  });

  it.each(['config/config.yaml', 'config/config.schema.json'])('never writes through a symlink at %s', (file) => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'config'));
    const victim = join(cwd, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(cwd, file));
    const refused = runCli(['init'], { cwd });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`^${file.replaceAll('.', '\\.')} already exists \\(a symbolic link to ${victim.replaceAll('.', '\\.')}\\)`),
    );
    expect(readlinkSync(join(cwd, file))).toBe(victim);
    // --force replaces the link itself with a file of our own; what it pointed to is untouched.
    const forced = runCli(['init', '--force'], { cwd });
    expect(forced.status, forced.stderr).toBe(0);
    expect(lstatSync(join(cwd, file)).isSymbolicLink()).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('counts a dangling symlink as something there', () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'config'));
    symlinkSync(join(cwd, 'nowhere'), join(cwd, 'config/config.yaml'));
    const run = runCli(['init'], { cwd });
    expect(run.status).toBe(2);
    expect(existsSync(join(cwd, 'nowhere'))).toBe(false);
  });
});

describe('parse without a local Airflow', () => {
  it('validates and renders every environment, and says it imported nothing', () => {
    const cwd = tmp();
    runCli(['init'], { cwd });
    const run = runCli(['parse'], { cwd });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^valid dev: no Airflow 2\.11\.2 here \(give one with --airflow-python or \$MWAA_AIRFLOW_PYTHON, or run `mwaa-gpu-cicd local up` with that line\): validated and rendered only, not imported\n$/,
    );
    expect(run.stderr).toMatch(/local: not rendered/);
    const json = JSON.parse(runCli(['parse', '--json'], { cwd }).stdout) as {
      ok: boolean;
      environments: Array<{ env: string; status: string }>;
    };
    expect(json.ok).toBe(true);
    expect(json.environments.map((e) => [e.env, e.status])).toEqual([['dev', 'rendered']]);
  });

  it('fails on an invalid environment', () => {
    const cwd = tmp();
    runCli(['init'], { cwd });
    const path = join(cwd, 'config/config.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace('retries: 1', 'retries: -1'));
    const run = runCli(['parse'], { cwd });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/defaults\.dag\.retries: expected a number at least 0; found -1/);
  });
});
