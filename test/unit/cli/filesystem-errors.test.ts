/**
 * Filesystem errors a user can provoke (a read-only output directory, a symlink loop, a file in
 * the way, a full disk) are messages naming the path and what to do: never "Unexpected error"
 * with a stack trace and a build path.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { contextFromArgv } from '../../../src/cli/context.js';
import { errorDocument, reportAndExit } from '../../../src/cli/report-error.js';
import { filesystemProblem, isFilesystemError, UserError } from '../../../src/errors.js';
import { cliPath, repoRoot, runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

/** A project readable by anyone (the read-only case runs as `nobody` when the tests run as root). */
function project(): string {
  const dir = tmp();
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'config'), { mode: 0o755 });
  cpSync(join(repoRoot, 'config/config.yaml'), join(dir, 'config/config.yaml'));
  cpSync(join(repoRoot, 'config/config.schema.json'), join(dir, 'config/config.schema.json'));
  return dir;
}

/** Runs the CLI as a user the directory's mode applies to: root ignores modes, so as `nobody` then. */
function runUnprivileged(args: string[], cwd: string) {
  const root = process.getuid?.() === 0;
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, MWAA_LOCAL_HOME: join(tmpdir(), 'mwaa-gpu-cicd-no-local-stack') },
    ...(root ? { uid: 65534, gid: 65534 } : {}),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function expectNoStack(stderr: string): void {
  expect(stderr).not.toContain('Unexpected error');
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** A real error of each kind, made by the filesystem itself where one can be made without privileges. */
function realError(code: string, dir: string): NodeJS.ErrnoException {
  const attempt = (f: () => void): NodeJS.ErrnoException => {
    try {
      f();
    } catch (error) {
      return error as NodeJS.ErrnoException;
    }
    throw new Error(`no ${code}`);
  };
  switch (code) {
    case 'EEXIST':
      return attempt(() => mkdirSync(dir));
    case 'ENOTDIR':
      writeFileSync(join(dir, 'file'), 'x');
      return attempt(() => mkdirSync(join(dir, 'file', 'sub')));
    case 'EISDIR':
      return attempt(() => writeFileSync(dir, 'x'));
    case 'ELOOP':
      symlinkSync('loop', join(dir, 'loop'));
      return attempt(() => readFileSync(join(dir, 'loop')));
    case 'ENOSPC':
      // The full device: every write fails with ENOSPC.
      return attempt(() => writeFileSync('/dev/full', 'x'));
    default:
      // A read-only mount needs privileges to make: the error as Node reports it.
      return Object.assign(new Error(`${code}: read-only file system, mkdir '${join(dir, 'out')}'`), {
        code,
        errno: -30,
        syscall: 'mkdir',
        path: join(dir, 'out'),
      });
  }
}

describe('filesystem errors', () => {
  it.each(['EROFS', 'ENOSPC', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ELOOP'])('%s names the path, the code and what to do', (code) => {
    const error = realError(code, tmp());
    expect(error.code).toBe(code);
    expect(isFilesystemError(error)).toBe(true);
    // A write(2) error names no path (a full disk): the writer names what it was writing.
    const target = error.path === undefined ? { verb: 'Cannot write', path: '/out/dev' } : undefined;
    const problem = filesystemProblem(error as NodeJS.ErrnoException & { code: string }, target);
    expect(problem).toBeInstanceOf(UserError);
    expect(problem.message).toContain(error.path ?? '/out/dev');
    expect(problem.message).toMatch(new RegExp(`^Cannot [a-z ]+ .+: .+: (fix|choose|free|remove|check) .*\\(${code}\\)\\.$`));
    if (target) return;
    // The top-level catch turns one from anywhere into the same document.
    expect(errorDocument(error)).toEqual({
      ok: false,
      command: '',
      error: { message: problem.message, exitCode: 1, path: error.path, code, syscall: error.syscall },
    });
  });

  it('generate --out into a read-only directory names it and writes nothing', () => {
    const cwd = project();
    const out = join(cwd, 'read-only');
    mkdirSync(out, { mode: 0o555 });
    chmodSync(out, 0o555);
    const run = runUnprivileged(['generate', '--env', 'dev', '--out', out], cwd);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^Cannot write ${out}/dev: cannot create the directory ${out}/\\.dev\\.tmp-\\d+: permission denied: fix the permissions, or choose a path you may use \\(EACCES\\)\\.\\n$`,
      ),
    );
    expectNoStack(run.stderr);
    expect(readdirSync(out)).toEqual([]);
    const json = runUnprivileged(['generate', '--env', 'dev', '--out', out, '--json'], cwd);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { exitCode: 1, code: 'EACCES', syscall: 'mkdir' } });
  });

  it('init through a symlink loop, or with a file in the way, names the path', () => {
    const cwd = project();
    symlinkSync('loop', join(cwd, 'loop'));
    writeFileSync(join(cwd, 'afile'), 'x');
    const loop = runCli(['init', '--config', 'loop/config.yaml'], { cwd });
    expect(loop.status).toBe(1);
    expect(loop.stderr).toBe(
      `Cannot access ${join(cwd, 'loop', 'config.yaml')}: too many symbolic links (a loop?): fix the links, or choose another path (ELOOP).\n`,
    );
    const file = runCli(['init', '--config', 'afile/config.yaml'], { cwd });
    expect(file.stderr).toBe(
      `Cannot access ${join(cwd, 'afile', 'config.yaml')}: a part of the path is a file, not a directory: choose another path (ENOTDIR).\n`,
    );
  });

  it('a local stack state file that is not JSON says how to recover', () => {
    const home = tmp();
    writeFileSync(join(home, 'state.json'), '{cut sho');
    const run = runCli(['local', 'status'], { env: { MWAA_LOCAL_HOME: home } });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `${join(home, 'state.json')} is not JSON (edited or cut short?): remove it (rm ${join(home, 'state.json')}), then run: npm run local -- up\n`,
    );
  });

  it('an error nobody foresaw is one line; its stack only with --verbose', () => {
    const report = (argv: string[]) => {
      contextFromArgv(argv, {});
      let written = '';
      const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        written += String(chunk);
        return true;
      });
      const exit = vi.spyOn(process, 'exit').mockImplementation((() => {
        throw new Error('exit');
      }) as never);
      try {
        expect(() => reportAndExit(new TypeError('x is not a function'))).toThrow('exit');
        expect(exit).toHaveBeenCalledWith(1);
      } finally {
        write.mockRestore();
        exit.mockRestore();
        contextFromArgv([], {});
      }
      return written;
    };
    expect(report(['deploy'])).toBe(
      'Unexpected error: TypeError: x is not a function\nThis is a bug in mwaa-gpu-cicd: run again with --verbose for the details to report.\n',
    );
    expect(report(['deploy', '--verbose'])).toMatch(
      /^Unexpected error: TypeError: x is not a function\nTypeError: x is not a function\n\s+at /,
    );
  });
});
