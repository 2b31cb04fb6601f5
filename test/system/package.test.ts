/**
 * The package as a user gets it: `npm pack`, `npm install <tarball>` into a fresh ES module project
 * and a fresh CommonJS project (from the npm registry, both at once), then `npx mwaa-gpu-cicd`
 * there: init, generate, --help, from any directory; the programmatic API imported (ESM),
 * required (CommonJS) and type-checked against its .d.ts. Needs npm and the registry.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'mwaa-gpu-cicd-pack-'));
const project = join(work, 'project');
const cjsProject = join(work, 'cjs-project');
const nodeTypes = join(repoRoot, 'node_modules/@types');
let tarball = '';
let packed: string[] = [];
const installOutput: Record<string, string> = {};

/** The environment of a user's shell: no npm_* variables of the test runner, no local stack. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('npm_') && key !== 'MWAA_LOCAL_HOME') env[key] = value;
  return env;
}

function npx(args: string[], cwd = project) {
  return spawnSync('npx', ['--no-install', 'mwaa-gpu-cicd', ...args], { cwd, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
}

/** `npm install <tarball>` in `dir`, as a user runs it; resolves with its output, rejects on failure. */
function npmInstall(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: dir,
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`npm install in ${dir} exited ${code}:\n${output}`))));
  });
}

beforeAll(async () => {
  // `npm pack` runs `prepack`: the bundle and the API's declarations.
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: repoRoot,
    env: userEnv(),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info!.filename);
  packed = info!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'a-user-project', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  // No "type": a CommonJS project, as npm init makes one.
  mkdirSync(cjsProject);
  writeFileSync(
    join(cjsProject, 'package.json'),
    `${JSON.stringify({ name: 'a-cjs-project', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  [installOutput.esm, installOutput.cjs] = await Promise.all([npmInstall(project), npmInstall(cjsProject)]);
}, 900_000);

// Two installed projects: tens of thousands of files, slow to remove on a busy machine.
afterAll(() => rmSync(work, { recursive: true, force: true }), 600_000);

describe('the packed package', () => {
  it('holds what the commands need at run time, and nothing else', () => {
    for (const file of [
      'package.json',
      'README.md',
      'dist/cli.js',
      'dist/api.js',
      'dist/api.cjs',
      'dist/control-plane.js',
      'dist/types/src/api.d.ts',
      'templates/dag/gpu_server_cicd_dag.py.hbs',
      'templates/plugins/gpu_ssh_utils.py',
      'templates/requirements/requirements.txt.hbs',
      'config/config.schema.json',
      ...readdirSync(join(repoRoot, 'local-stack/locks')).map((lock) => `local-stack/locks/${lock}`),
      'docs/CI.md',
      'examples/github-actions/mwaa-deploy.yml',
    ]) {
      expect(packed, file).toContain(file);
    }
    expect(
      packed.filter((p) => /^(src|test|bench|scripts|\.local-stack|dist-artifacts|node_modules)\//.test(p) || p.endsWith('.map')),
    ).toEqual([]);
    const installed = join(project, 'node_modules/mwaa-gpu-cicd');
    const armour = ['-----BEGIN', 'PRIVATE KEY-----'];
    for (const path of packed) {
      const text = readFileSync(join(installed, path), 'latin1');
      expect(text.includes(armour[0]!) && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text), path).toBe(false);
    }
  });

  it('is publishable and installs without a lifecycle script of its own', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/mwaa-gpu-cicd/package.json'), 'utf8')) as {
      private?: boolean;
      scripts: Record<string, string>;
      exports: Record<string, Record<string, string>>;
    };
    expect(manifest.private).toBeUndefined();
    // The scripts npm runs in a consumer's install (or lists as unreviewed install scripts).
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts[script], script).toBeUndefined();
    for (const [kind, output] of Object.entries(installOutput)) expect(output, kind).not.toMatch(/mwaa-gpu-cicd@[^\n]*\(/);
    expect(manifest.exports['.']).toEqual({
      types: './dist/types/src/api.d.ts',
      import: './dist/api.js',
      require: './dist/api.cjs',
    });
  });

  it('is required by a CommonJS project, which runs its bin as well', () => {
    const help = npx(['--help'], cjsProject);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*generate[\s\S]*Exit codes:/);
    const init = npx(['init'], cjsProject);
    expect(init.status, init.stderr).toBe(0);
    writeFileSync(
      join(cjsProject, 'use.js'),
      [
        "const { generate, ConfigError, UserError, VERSION } = require('mwaa-gpu-cicd');",
        'async function main() {',
        "  const [dev] = await generate({ env: 'dev', write: false });",
        "  const missing = await generate({ config: 'nowhere.yaml' }).catch((error) => error);",
        '  console.log(VERSION, dev.manifest.environment, dev.files.length, missing instanceof UserError, typeof ConfigError);',
        '}',
        'main().catch((error) => { console.error(error); process.exitCode = 1; });',
        '',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['use.js'], { cwd: cjsProject, env: userEnv(), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    expect(run.stdout).toBe(`${version} dev 9 true function\n`);
    // The README's CommonJS example, exactly as shown.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const example = /From CommonJS[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain("require('mwaa-gpu-cicd')");
    writeFileSync(join(cjsProject, 'readme-example.js'), example!);
    const readmeRun = spawnSync(process.execPath, ['readme-example.js'], { cwd: cjsProject, env: userEnv(), encoding: 'utf8' });
    expect(readmeRun.stderr).toBe('');
    expect(readmeRun.stdout).toBe(`${join(cjsProject, 'dist-artifacts/dev')} 9\n`);
  });

  it('runs as npx mwaa-gpu-cicd: init, generate and --help, with templates found in the package', () => {
    const init = npx(['init']);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain('npx mwaa-gpu-cicd check --env dev --print-host-keys');
    // The schema reference points into the installed package, so it follows upgrades.
    const config = readFileSync(join(project, 'config/config.yaml'), 'utf8');
    expect(config.split('\n')[0]).toBe('# yaml-language-server: $schema=../node_modules/mwaa-gpu-cicd/config/config.schema.json');
    const generate = npx(['generate']);
    expect(generate.status, generate.stderr).toBe(0);
    expect(generate.stdout).toMatch(/^dist-artifacts\/dev\/ \(Airflow 2\.11\.2/);
    expect(readFileSync(join(project, 'dist-artifacts/dev/dags/gpu_server_cicd_dag.py'), 'utf8')).toContain('gpu_server_cicd_workflow');
    expect(existsSync(join(project, 'dist-artifacts/dev/plugins.zip'))).toBe(true);
    const help = npx(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*generate[\s\S]*Exit codes:/);
  });

  it('works from any directory: config and output are relative to where it runs', () => {
    const nested = join(project, 'deep', 'er');
    mkdirSync(nested, { recursive: true });
    expect(npx(['--version'], nested).stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const run = npx(['generate', '--config', '../../config/config.yaml', '--out', 'here'], nested);
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(nested, 'here/dev/manifest.json'))).toBe(true);
  });

  it('exports a typed API that a TypeScript project compiles against and a program runs', () => {
    writeFileSync(
      join(project, 'use.ts'),
      [
        "import { generate, ConfigError, type GenerateResult, type Plan } from 'mwaa-gpu-cicd';",
        'const results: GenerateResult[] = await generate({ env: "dev", write: false });',
        'const names: string[] = results.map((r) => r.manifest.environment);',
        'const changes = (plan: Plan): number => plan.changes;',
        'console.log(JSON.stringify({ names, changes: typeof changes, error: typeof ConfigError }));',
        '',
      ].join('\n'),
    );
    // The README's ES module example, exactly as shown: type-checked only (it talks to AWS).
    const readmeExample = /From an ES module[\s\S]*?```ts\n([\s\S]*?)```/.exec(readFileSync(join(repoRoot, 'README.md'), 'utf8'))?.[1];
    expect(readmeExample).toContain("from 'mwaa-gpu-cicd'");
    writeFileSync(join(project, 'readme-example.ts'), `${readmeExample!}export {};\n`);
    // A type error in the same project shows the declarations are really checked (one tsc run for all).
    writeFileSync(join(project, 'wrong.ts'), "import { generate } from 'mwaa-gpu-cicd';\nawait generate({ env: 42 });\n");
    writeFileSync(
      join(project, 'tsconfig.json'),
      // A Node project has @types/node; this one borrows the repository's.
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          typeRoots: [nodeTypes],
          types: ['node'],
        },
        files: ['use.ts', 'readme-example.ts', 'wrong.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd: project,
      encoding: 'utf8',
    });
    const errors = (tsc.stdout + tsc.stderr).trim().split('\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^wrong\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string \| string\[\] \| undefined'/,
    );
    writeFileSync(
      join(project, 'use.mjs'),
      "import { generate } from 'mwaa-gpu-cicd';\nconst [dev] = await generate({ env: 'dev', write: false });\nconsole.log(dev.manifest.environment, dev.files.length);\n",
    );
    const run = spawnSync(process.execPath, ['use.mjs'], { cwd: project, env: userEnv(), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('dev 9\n');
    // One tsc over the SDK's and Node's declarations: tens of seconds on a busy 2-core machine.
  }, 300_000);
});
