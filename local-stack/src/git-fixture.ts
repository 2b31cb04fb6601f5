/**
 * The repository the DAG checks out: a bare repo on disk standing in for the real remote, with
 * `www/version.yaml` on branch cicd_01_etl and a README on main.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './processes.js';

/** The version file the fixture ships; the keys a, b, c, d are part of the project's contract. */
export const FIXTURE_VERSION_YAML = [
  '# Version of the ETL stack deployed on this GPU server.',
  'a: "1.4.2"',
  'b: 7',
  'c: true',
  'd: "etl-nightly"',
  '',
].join('\n');

const GIT_IDENTITY = ['-c', 'user.name=local-stack', '-c', 'user.email=local-stack@localhost', '-c', 'commit.gpgsign=false'];

export async function ensureBareRepo(bareRepo: string, branch: string): Promise<{ created: boolean }> {
  if (existsSync(join(bareRepo, 'HEAD'))) return { created: false };
  const work = mkdtempSync(join(tmpdir(), 'mwaa-local-git-'));
  try {
    const git = (...args: string[]) => run('git', [...GIT_IDENTITY, ...args], { cwd: work });
    await git('init', '-q', '-b', 'main');
    writeFileSync(join(work, 'README.md'), '# cicd-test\n\nFixture repository of the local MWAA stack.\n');
    await git('add', 'README.md');
    await git('commit', '-q', '-m', 'Initial commit');
    await git('checkout', '-q', '-b', branch);
    mkdirSync(join(work, 'www'), { recursive: true });
    writeFileSync(join(work, 'www', 'version.yaml'), FIXTURE_VERSION_YAML);
    await git('add', 'www/version.yaml');
    await git('commit', '-q', '-m', 'Add www/version.yaml');
    await git('checkout', '-q', 'main');
    rmSync(bareRepo, { recursive: true, force: true });
    mkdirSync(join(bareRepo, '..'), { recursive: true });
    await run('git', ['clone', '-q', '--bare', work, bareRepo]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { created: true };
}
