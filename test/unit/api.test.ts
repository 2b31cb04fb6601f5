import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, generate, loadConfig, UserError } from '../../src/api.js';
import { renderScaffold } from '../../src/init/scaffold.js';
import { useTmpDir } from '../support/tmp.js';

const tmp = useTmpDir();

function project(text = renderScaffold({ env: 'dev', schemaRef: null })): string {
  const dir = tmp();
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config/config.yaml'), text);
  return dir;
}

describe('the programmatic API', () => {
  it('generate renders and writes every environment that resolves, relative to cwd', async () => {
    const cwd = project();
    const results = await generate({ cwd });
    expect(results.map((r) => r.env)).toEqual(['dev']);
    expect(results[0]!.dir).toBe(join(cwd, 'dist-artifacts', 'dev'));
    expect(results[0]!.manifest.artifacts.map((a) => a.path)).toContain('plugins.zip');
    expect(existsSync(join(cwd, 'dist-artifacts/dev/manifest.json'))).toBe(true);
  });

  it('generate with write: false renders in memory only', async () => {
    const cwd = project();
    const [dev] = await generate({ cwd, env: 'dev', write: false });
    expect(dev!.dir).toBeUndefined();
    expect(dev!.files.find((f) => f.path === 'dags/gpu_server_cicd_dag.py')!.bytes.toString()).toContain('gpu_server_cicd_workflow');
    expect(existsSync(join(cwd, 'dist-artifacts'))).toBe(false);
  });

  it('throws typed errors with exit codes, never prints or exits', async () => {
    const cwd = project(renderScaffold({ env: 'dev', schemaRef: null }).replace('retries: 1', 'retries: -1'));
    const error = await generate({ cwd }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({ path: 'defaults.dag.retries' });
    const unknown = await loadConfig({ cwd: project(), env: 'prod' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UserError);
    expect((unknown as UserError).exitCode).toBe(2);
    const stack = await generate({ cwd: project(), env: 'local' }).catch((e: unknown) => e);
    expect((stack as Error).message).toMatch(/local stack, which is not up/);
  });
});
