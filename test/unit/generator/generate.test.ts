import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import { generateEnvironment, staleFiles, writeEnvironment } from '../../../src/generator/generate.js';
import { readDirectoryFiles } from '../../../src/generator/writer.js';
import { dagLibrary } from '../../../src/generator/render-dag-library.js';
import { renderRequirements } from '../../../src/generator/render-requirements.js';
import { AIRFLOW_CONSTRAINT_URL, airflowConstraintUrl, mwaaSeesConstraint } from '../../../src/mwaa/requirements.js';
import { MWAA_AIRFLOW_VERSIONS } from '../../../src/mwaa/versions.js';
import { useTmpDir } from '../../support/tmp.js';

const repo = resolve('.');
// The bundled CLI, as `npm run generate` runs it (built by the global setup).
const cli = join(repo, 'dist/cli.js');
const tmp = useTmpDir();

async function generated(env: string) {
  return generateEnvironment(resolveConfig(await readConfigFile(), env), '0.0.0-test');
}

function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; umask?: string } = {}) {
  const command = `umask ${options.umask ?? '022'} && exec "$0" "$@"`;
  return spawnSync('sh', ['-c', command, process.execPath, cli, ...args], {
    cwd: options.cwd ?? repo,
    env: { ...process.env, MWAA_LOCAL_HOME: join(tmp(), 'no-stack'), ...options.env },
    encoding: 'utf8',
  });
}

function hashes(dir: string): Record<string, string> {
  const out = execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8' }).trim().split('\n').sort();
  return Object.fromEntries(out.map((path) => [path.slice(dir.length + 1), createHash('sha256').update(readFileSync(path)).digest('hex')]));
}

describe('generateEnvironment', () => {
  it('renders the artifacts and a manifest that describes them', async () => {
    const { files, manifest } = await generated('dev');
    const library = dagLibrary();
    const libraryFiles = [`dags/${library.package}.zip`];
    expect(files.map((f) => f.path)).toEqual([
      'config/config.yaml',
      ...libraryFiles,
      'dags/gpu_server_cicd_dag.py',
      'iam/deploy-role-policy.json',
      'iam/execution-role-secrets-policy.json',
      'iam/plan-policy.json',
      'manifest.json',
      'plugins.zip',
      'requirements.txt',
    ]);
    expect(manifest.artifacts.map((a) => [a.path, a.kind, a.s3Key])).toEqual([
      ['config/config.yaml', 'config', 'config/dev/config.yaml'],
      ...libraryFiles.map((path) => [path, 'dagLibrary', path]),
      ['dags/gpu_server_cicd_dag.py', 'dag', 'dags/gpu_server_cicd_dag.py'],
      ['iam/deploy-role-policy.json', 'iam', null],
      ['iam/execution-role-secrets-policy.json', 'iam', null],
      ['iam/plan-policy.json', 'iam', null],
      ['plugins.zip', 'plugins', 'plugins.zip'],
      ['requirements.txt', 'requirements', 'requirements.txt'],
    ]);
    for (const entry of manifest.artifacts) {
      const bytes = files.find((f) => f.path === entry.path)!.bytes;
      expect(entry.size).toBe(bytes.length);
      expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    const text = files.find((f) => f.path === 'manifest.json')!.bytes.toString();
    expect(text).not.toMatch(/20\d\d-\d\d-\d\dT/);
    expect(manifest).toMatchObject({
      formatVersion: 1,
      environment: 'dev',
      airflowVersion: '2.11.2',
      dagBuild: { library: library.package, librarySha256: library.sha256 },
    });
  });

  it('renders requirements.txt with the MWAA constraint line', async () => {
    const { files } = await generated('dev');
    expect(files.find((f) => f.path === 'requirements.txt')!.bytes.toString()).toMatchSnapshot();
  });

  it('names the constraint file in the form MWAA sees, for every Airflow version MWAA runs', async () => {
    const file = await readConfigFile({ cwd: repo });
    for (const [airflow, python] of Object.entries(MWAA_AIRFLOW_VERSIONS)) {
      const config = resolveConfig({ ...file, defaults: { ...file.defaults, airflow: { version: airflow } } }, 'dev');
      const text = renderRequirements(config);
      expect(mwaaSeesConstraint(text), airflow).toBe(true);
      const constraintLines = text.split('\n').filter((line) => /^\s*(-c|--constraint)/.test(line));
      expect(constraintLines, airflow).toEqual([`--constraint "${airflowConstraintUrl(airflow, python)}"`]);
      expect(airflowConstraintUrl(airflow, python)).toMatch(AIRFLOW_CONSTRAINT_URL);
    }
  });

  it('renders the resolved config', async () => {
    const { files } = await generated('prod');
    expect(files.find((f) => f.path === 'config/config.yaml')!.bytes.toString()).toMatchSnapshot();
  });

  it('keeps plugins.zip byte-identical when only the config changes', async () => {
    const dev = await generated('dev');
    const prod = await generated('prod');
    const zip = (g: typeof dev) => g.files.find((f) => f.path === 'plugins.zip')!.bytes;
    expect(zip(dev).equals(zip(prod))).toBe(true);
  });
});

describe('writing', () => {
  it('replaces the environment directory whole and removes stale files', async () => {
    const out = tmp();
    const g = await generated('dev');
    await writeEnvironment(out, g);
    writeFileSync(join(out, 'dev', 'leftover.txt'), 'x');
    expect(await staleFiles(out, g)).toEqual(['leftover.txt']);
    await writeEnvironment(out, g);
    expect((await readDirectoryFiles(join(out, 'dev'))).map((f) => f.path)).toEqual(g.files.map((f) => f.path));
    expect(await staleFiles(out, g)).toEqual([]);
  });
});

describe('npm run generate (the CLI)', () => {
  it('gives identical bytes whatever the time zone, umask, file mtimes and working directory', () => {
    const first = join(tmp(), 'out');
    const second = join(tmp(), 'out');
    const config = join(repo, 'config/config.yaml');
    const a = runCli(['generate', '--all', '--config', config, '--out', first], { env: { TZ: 'UTC' }, umask: '022' });
    expect(a.status, a.stderr).toBe(0);
    // Touch the templates so any mtime leaking into the zip would show; then put their times back
    // (a source dated in the future would look newer than every build: scripts/ensure-built.mjs).
    const touched = ['templates/plugins/gpu_ssh_utils.py', 'templates/plugins/aws_secrets_utils.py'];
    const times = touched.map((file) => statSync(file));
    const future = new Date('2031-05-05T05:05:05Z');
    let b: ReturnType<typeof runCli>;
    try {
      for (const file of touched) utimesSync(file, future, future);
      b = runCli(['generate', '--all', '--config', config, '--out', second], {
        cwd: tmp(),
        env: { TZ: 'Pacific/Kiritimati', LANG: 'tr_TR.UTF-8' },
        umask: '077',
      });
    } finally {
      for (const [i, file] of touched.entries()) utimesSync(file, times[i]!.atime, times[i]!.mtime);
    }
    expect(b.status, b.stderr).toBe(0);
    const ha = hashes(first);
    expect(Object.keys(ha)).toContain('prod/plugins.zip');
    expect(hashes(second)).toEqual(ha);
  });

  it('reports every config problem, exits 2 and leaves the previous artifacts untouched', () => {
    const dir = tmp();
    const out = join(dir, 'out');
    cpSync('config/config.yaml', join(dir, 'config.yaml'));
    cpSync('config/config.schema.json', join(dir, 'config.schema.json'));
    expect(runCli(['generate', '--env', 'prod', '--config', join(dir, 'config.yaml'), '--out', out]).status).toBe(0);
    const before = hashes(out);
    const broken = readFileSync(join(dir, 'config.yaml'), 'utf8')
      .replace('host: 10.30.1.21', 'host: "10.30.1.300"')
      .replace('bucket: airflow-gpu-cicd-prod', 'bucket: gpu_cicd_prod');
    writeFileSync(join(dir, 'config.yaml'), broken);
    const result = runCli(['generate', '--env', 'prod', '--config', join(dir, 'config.yaml'), '--out', out]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/Invalid configuration \(2 problems\)/);
    expect(result.stderr).toMatch(/config\.yaml:\d+:\d+: environments\.prod\.mwaa\.bucket: .*found "gpu_cicd_prod"/);
    expect(result.stderr).toMatch(
      /config\.yaml:\d+:\d+: environments\.prod\.servers\[0\]\.host: expected an IPv4\/IPv6 address or hostname; found "10\.30\.1\.300"/,
    );
    expect(hashes(out)).toEqual(before);
  });

  it('--check exits 1 when dist-artifacts is stale and 0 when it is current or absent', () => {
    const out = join(tmp(), 'out');
    expect(runCli(['generate', '--env', 'dev', '--out', out, '--check']).status).toBe(0);
    expect(runCli(['generate', '--env', 'dev', '--out', out]).status).toBe(0);
    expect(runCli(['generate', '--env', 'dev', '--out', out, '--check']).status).toBe(0);
    writeFileSync(join(out, 'dev', 'plugins.zip'), 'not the zip');
    const stale = runCli(['generate', '--env', 'dev', '--out', out, '--check']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/dev\/plugins\.zip/);
  });

  it('ends quietly when the reader of its output goes away (generate | head -1)', () => {
    const result = spawnSync('sh', ['-c', '"$0" "$1" generate --env dev --out "$2" | head -1', process.execPath, cli, tmp()], {
      cwd: repo,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toHaveLength(2);
  });

  it('--json prints the manifest', () => {
    const result = runCli(['generate', '--env', 'dev', '--out', join(tmp(), 'out'), '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      command: 'generate',
      environments: [{ environment: 'dev', formatVersion: 1 }],
    });
  });
});

describe('what a DAG-only change touches', () => {
  it('changes the DAG and config but neither plugins.zip nor requirements.txt', async () => {
    const file = await readConfigFile();
    const dev = resolveConfig(file, 'dev');
    const before = await generateEnvironment(dev, '0.0.0-test');
    const after = await generateEnvironment({ ...dev, dag: { ...dev.dag, retries: dev.dag.retries + 1 } }, '0.0.0-test');
    const sha = (g: typeof before, path: string) => g.manifest.artifacts.find((a) => a.path === path)!.sha256;
    expect(sha(after, 'plugins.zip')).toBe(sha(before, 'plugins.zip'));
    expect(sha(after, 'requirements.txt')).toBe(sha(before, 'requirements.txt'));
    expect(sha(after, 'dags/gpu_server_cicd_dag.py')).not.toBe(sha(before, 'dags/gpu_server_cicd_dag.py'));
    expect(sha(after, 'config/config.yaml')).not.toBe(sha(before, 'config/config.yaml'));
  });
});
