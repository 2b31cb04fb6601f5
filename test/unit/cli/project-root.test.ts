import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../../src/cli/project-root.js';
import { runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

describe('finding the config from a subdirectory', () => {
  it('takes the nearest config above, and stops at the top of a git work tree and at the root', () => {
    const files = new Set(['/p/config/config.yaml', '/p/repo/.git']);
    const exists = (path: string) => files.has(path);
    expect(findProjectRoot('/p/a/b/c', exists)).toBe('/p');
    expect(findProjectRoot('/p', exists)).toBe('/p');
    // /p/repo is a work tree of its own without a config: the search ends there, as git's does.
    expect(findProjectRoot('/p/repo/src', exists)).toBeUndefined();
    expect(findProjectRoot('/elsewhere/x', exists)).toBeUndefined();
  });

  it('generate run two directories down renders into the project, and --out stays where it was typed', () => {
    const root = tmp();
    expect(runCli(['init'], { cwd: root }).status).toBe(0);
    const deep = join(root, 'src/dags');
    mkdirSync(deep, { recursive: true });
    const run = runCli(['generate', '--env', 'dev'], { cwd: deep });
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(root, 'dist-artifacts/dev/manifest.json'))).toBe(true);
    expect(existsSync(join(deep, 'dist-artifacts'))).toBe(false);
    const elsewhere = runCli(['generate', '--env', 'dev', '--out', 'here'], { cwd: deep });
    expect(elsewhere.status, elsewhere.stderr).toBe(0);
    expect(existsSync(join(deep, 'here/dev/manifest.json'))).toBe(true);
  });

  it('says so plainly when there is no config above either', () => {
    const lonely = tmp();
    const run = runCli(['generate', '--env', 'dev'], { cwd: lonely });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/config\/config\.yaml/);
  });
});
