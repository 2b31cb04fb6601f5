import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { identityCommand, interpretIdentity, interpretWhoami } from '../../../src/runtime-check/server-check.js';

const sha = 'f'.repeat(40);
const dir = mkdtempSync(join(tmpdir(), "identity test 'quoted' "));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A repository at `repo` on branch cicd_01_etl with one commit. */
function repoWithOneCommit(repo: string): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  execFileSync('git', ['init', '-q', '-b', 'cicd_01_etl', repo], { env });
  execFileSync('git', ['-C', repo, 'commit', '-q', '--allow-empty', '-m', 'x'], { env });
  return repo;
}

describe('identityCommand', () => {
  it('runs whoami and one git rev-parse on a path a shell could misread', () => {
    const repo = repoWithOneCommit(join(dir, 'cicd $(touch pwned) test'));
    const commit = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();

    const command = identityCommand(repo);
    expect(command).toBe(`whoami && git -C '${repo.replaceAll("'", `'"'"'`)}' rev-parse HEAD --abbrev-ref HEAD`);
    const stdout = execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8', cwd: dir });
    const user = execFileSync('whoami', { encoding: 'utf8' }).trim();
    expect(stdout).toBe(`${user}\n${commit}\ncicd_01_etl\n`);
    const outcome = interpretIdentity({ code: 0, stdout, stderr: '' }, user, repo, 'cicd_01_etl');
    expect(outcome.whoami.ok).toBe(true);
    expect(outcome.checkout).toEqual({ ok: true, reason: `${repo} on cicd_01_etl at ${commit.slice(0, 12)}` });
    expect(outcome.git).toEqual({ branch: 'cicd_01_etl', commit });
  });
});

describe('a detached checkout, read by real git', () => {
  it('fails whatever branch the config names, saying the checkout is detached', () => {
    const repo = repoWithOneCommit(join(dir, 'detached'));
    execFileSync('git', ['-C', repo, 'checkout', '-q', '--detach']);
    const stdout = execFileSync('/bin/sh', ['-c', identityCommand(repo)], { encoding: 'utf8', cwd: dir });
    const user = execFileSync('whoami', { encoding: 'utf8' }).trim();
    // "HEAD" is what git prints for a detached checkout, so a config naming it must not pass either.
    for (const branch of ['cicd_01_etl', 'HEAD']) {
      const outcome = interpretIdentity({ code: 0, stdout, stderr: '' }, user, repo, branch);
      expect(outcome.checkout.ok, branch).toBe(false);
      expect(outcome.checkout.reason, branch).toMatch(
        new RegExp(`^${repo} is on a detached HEAD at [0-9a-f]{12}, expected branch "${branch}"$`),
      );
    }
  });
});

describe('interpretIdentity', () => {
  it('fails whoami for another user but still reads the checkout', () => {
    const outcome = interpretIdentity({ code: 0, stdout: `root\n${sha}\ncicd_01_etl\n`, stderr: '' }, 'ubuntu', '/w/r', 'cicd_01_etl');
    expect(outcome.whoami).toEqual({ ok: false, reason: 'logged in as "root", expected "ubuntu"' });
    expect(outcome.checkout.ok).toBe(true);
  });

  it("reports a missing checkout with git's own message", () => {
    const outcome = interpretIdentity(
      { code: 128, stdout: 'ubuntu\n', stderr: "fatal: cannot change to '/w/r': No such file or directory\n" },
      'ubuntu',
      '/w/r',
      'cicd_01_etl',
    );
    expect(outcome.whoami.ok).toBe(true);
    expect(outcome.checkout).toEqual({
      ok: false,
      reason: "no git checkout at /w/r: fatal: cannot change to '/w/r': No such file or directory",
    });
  });

  it('names the branch it found, or a detached HEAD', () => {
    expect(interpretIdentity({ code: 0, stdout: `ubuntu\n${sha}\nmain\n`, stderr: '' }, 'ubuntu', '/w/r', 'cicd_01_etl').checkout).toEqual({
      ok: false,
      reason: '/w/r is on branch "main" at ffffffffffff, expected branch "cicd_01_etl"',
    });
    expect(interpretIdentity({ code: 0, stdout: `ubuntu\n${sha}\nHEAD\n`, stderr: '' }, 'ubuntu', '/w/r', 'x').checkout.reason).toContain(
      'a detached HEAD',
    );
  });

  it('fails both when whoami printed nothing', () => {
    const outcome = interpretIdentity({ code: 127, stdout: '', stderr: 'sh: whoami: not found\n' }, 'ubuntu', '/w/r', 'b');
    expect(outcome.whoami).toEqual({ ok: false, reason: 'whoami failed: sh: whoami: not found' });
    expect(outcome.checkout).toEqual({ ok: false, reason: 'skipped: whoami failed' });
  });

  it('refuses output that is not a commit', () => {
    expect(interpretIdentity({ code: 0, stdout: 'ubuntu\nnot-a-sha\nmain\n', stderr: '' }, 'ubuntu', '/w/r', 'main').checkout).toEqual({
      ok: false,
      reason: 'unexpected git output at /w/r',
    });
  });
});

describe('interpretWhoami', () => {
  it.each([
    [
      { code: 0, stdout: 'ubuntu\n', stderr: '' },
      { ok: true, reason: 'ubuntu' },
    ],
    [
      { code: 0, stdout: 'root\n', stderr: '' },
      { ok: false, reason: 'logged in as "root", expected "ubuntu"' },
    ],
    [
      { code: 1, stdout: '', stderr: '' },
      { ok: false, reason: 'whoami failed: exit code 1' },
    ],
  ])('%j -> %j', (result, expected) => {
    expect(interpretWhoami(result, 'ubuntu')).toEqual(expected);
  });
});
