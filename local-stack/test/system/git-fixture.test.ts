import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureBareRepo } from '../../src/git-fixture.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('git-fixture-');

describe('git fixture', () => {
  it('creates a bare repo with www/version.yaml on cicd_01_etl and a README on main, once', async () => {
    const bare = join(tmp(), 'git', 'cicd-test.git');
    expect((await ensureBareRepo(bare, 'cicd_01_etl')).created).toBe(true);
    expect((await ensureBareRepo(bare, 'cicd_01_etl')).created).toBe(false);
    const yaml = execFileSync('git', ['--git-dir', bare, 'show', 'cicd_01_etl:www/version.yaml'], { encoding: 'utf8' });
    expect(parse(yaml)).toEqual({ a: '1.4.2', b: 7, c: true, d: 'etl-nightly' });
    const readme = execFileSync('git', ['--git-dir', bare, 'show', 'main:README.md'], { encoding: 'utf8' });
    expect(readme).toContain('cicd-test');
    expect(() => execFileSync('git', ['--git-dir', bare, 'show', 'main:www/version.yaml'], { stdio: 'ignore' })).toThrow();
  });
});
