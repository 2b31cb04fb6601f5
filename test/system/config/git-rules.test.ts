/**
 * The config's git rules judged by git itself, on generated inputs: a branch name is accepted
 * only when `git check-ref-format --branch` accepts it, and a remote is refused whenever its host,
 * user or port is something ssh would read as an option (git's own "strange hostname" check is
 * the last line of defence, and a narrower one).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitBranchProblem, gitRemoteProblem } from '../../../src/config/validators.js';

const dir = mkdtempSync(join(tmpdir(), 'git-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Outside any repository, so git judges names alone (no @{-1} or HEAD lookups).
const gitEnv = { ...process.env, GIT_CEILING_DIRECTORIES: tmpdir(), LC_ALL: 'C' };

/** A small seeded generator (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `git check-ref-format --branch` on each name in one shell; true where git accepts it. */
function gitAcceptsBranches(names: string[]): boolean[] {
  const list = join(dir, 'names');
  writeFileSync(list, names.map((n) => `${n}\0`).join(''));
  const script = `while IFS= read -r -d '' n; do git check-ref-format --branch "$n" >/dev/null 2>&1; echo $?; done < "$1"`;
  const out = execFileSync('bash', ['-c', script, 'bash', list], { cwd: dir, env: gitEnv, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((code) => code === '0');
}

describe('branch names, with git check-ref-format --branch as the judge', () => {
  const seed = Number(process.env.GIT_RULES_SEED ?? Date.now() % 2 ** 31);
  it(`agrees with git on every generated name of the allowed characters, and accepts nothing git refuses (seed ${seed})`, () => {
    const random = rng(seed);
    const allowedTokens = ['HEAD', 'head', 'a', 'B9', 'x_y', '.', '..', '/', '-', '_', '.lock', 'lock', 'HEAD.lock'];
    const otherTokens = ['@', '@{', '~', '^', ':', ' ', '*', '[', '\\', '?', 'é', '\t'];
    const fixed = ['HEAD', 'head', 'HEAD/x', 'x/HEAD', '-x', 'a..b', 'a/.b', 'a.lock', 'a/', '/a', 'a//b', 'a.', '@', 'cicd_01_etl'];
    const generated = Array.from({ length: 600 }, () => {
      const pool = random() < 0.8 ? allowedTokens : [...allowedTokens, ...otherTokens];
      return Array.from({ length: 1 + Math.floor(random() * 5) }, () => pool[Math.floor(random() * pool.length)]).join('');
    });
    const names = [...new Set([...fixed, ...generated])];
    const git = gitAcceptsBranches(names);
    const disagreements: string[] = [];
    names.forEach((name, index) => {
      const ours = gitBranchProblem(name) === undefined;
      const allowedCharacters = /^[A-Za-z0-9._/-]+$/.test(name);
      // Our rule is git's narrowed to characters that need no quoting: exact within them, never wider.
      if (ours && !git[index]) disagreements.push(`${JSON.stringify(name)}: we accept, git refuses`);
      if (allowedCharacters && git[index] && !ours)
        disagreements.push(`${JSON.stringify(name)}: git accepts, we refuse (${gitBranchProblem(name)})`);
    });
    expect(disagreements).toEqual([]);
    // The generator reaches both verdicts many times.
    expect(git.filter(Boolean).length).toBeGreaterThan(50);
    expect(git.filter((ok) => !ok).length).toBeGreaterThan(50);
  });
});

describe('git remotes whose host, user or port starts with "-"', () => {
  const users = [undefined, 'git', 'a-b', '-u', '-utouch', '-oProxyCommand'];
  const hosts = ['host', 'gpu.example.com', '10.0.0.1', 'h-1', '-host', '-oProxyCommand', '-'];
  const ports = [undefined, '22', '2222', '-p', '-1'];
  const dash = (part: string | undefined) => part?.startsWith('-') === true;

  /** Every URL form git takes, with each part; `dashed`: one of them starts with "-". */
  function cases(): Array<{ url: string; dashed: boolean; ssh: boolean }> {
    const out: Array<{ url: string; dashed: boolean; ssh: boolean }> = [];
    for (const scheme of ['ssh', 'git', 'https', 'file']) {
      for (const user of scheme === 'https' ? [undefined] : users) {
        for (const host of hosts) {
          for (const port of ports) {
            const authority = `${user === undefined ? '' : `${user}@`}${host}${port === undefined ? '' : `:${port}`}`;
            const dashed = dash(user) || dash(host) || dash(port);
            out.push({ url: `${scheme}://${authority}/srv/repo.git`, dashed, ssh: scheme === 'ssh' });
          }
        }
      }
    }
    for (const user of users.filter((u) => u !== undefined)) {
      for (const host of hosts) out.push({ url: `${user}@${host}:org/repo.git`, dashed: dash(user) || dash(host), ssh: true });
    }
    return out;
  }

  it('refuses every one of them with the part and the reason, and accepts their plain counterparts', () => {
    const all = cases();
    const wrong: string[] = [];
    for (const { url, dashed } of all) {
      const problem = gitRemoteProblem(url);
      if (dashed && !/starts with "-", which ssh would read as an option/.test(problem ?? '')) {
        wrong.push(`${url}: expected the "-" refusal, got ${problem ?? 'accepted'}`);
      }
      if (!dashed && problem !== undefined) wrong.push(`${url}: refused: ${problem}`);
    }
    expect(wrong).toEqual([]);
    expect(all.filter((c) => c.dashed).length).toBeGreaterThan(100);
  });

  it('refuses at least everything git itself blocks, and hands ssh no option from any URL it accepts', () => {
    // A stand-in for ssh that records its arguments and fails: nothing leaves the machine.
    const fakeSsh = join(dir, 'fake-ssh');
    const record = join(dir, 'ssh-args');
    writeFileSync(fakeSsh, `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 7\n`);
    chmodSync(fakeSsh, 0o755);
    const sshCases = cases().filter((c) => c.ssh);
    const wrong: string[] = [];
    let blocked = 0;
    for (const { url } of sshCases) {
      rmSync(record, { force: true });
      let stderr = '';
      try {
        execFileSync('git', ['ls-remote', '--', url], { cwd: dir, env: { ...gitEnv, GIT_SSH: fakeSsh }, stdio: 'pipe', timeout: 20_000 });
      } catch (error) {
        stderr = String((error as { stderr?: Buffer }).stderr ?? '');
      }
      const ours = gitRemoteProblem(url);
      if (/strange (hostname|port)/.test(stderr)) {
        blocked += 1;
        if (ours === undefined) wrong.push(`${url}: git blocks it (${stderr.trim()}), we accept it`);
        continue;
      }
      if (ours !== undefined) continue;
      // The host is the argument before the remote command; nothing before it may come from the URL.
      const args = readFileSync(record, 'utf8').trimEnd().split('\n');
      const host = args.at(-2) ?? '';
      if (host.startsWith('-')) wrong.push(`${url}: ssh was given ${JSON.stringify(host)} as its host`);
    }
    expect(wrong).toEqual([]);
    expect(blocked).toBeGreaterThan(10);
  });
});
