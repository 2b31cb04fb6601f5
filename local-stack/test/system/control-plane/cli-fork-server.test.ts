/**
 * The CLI fork server with a real Python and a stand-in `airflow` package (so the test needs no
 * Airflow): protocol, output capture, exit codes, SystemExit messages, timeouts, restarts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliForkServer, NotForkedError } from '../../../src/control-plane/cli-fork-server.js';
import { CliRunner } from '../../../src/control-plane/cli-runner.js';

const PYTHON = process.env.PYTHON ?? 'python3';
let dir: string;
let server: CliForkServer;
let events: Array<Record<string, unknown>>;
/** Read by the server's env() at each (re)start. */
let mark: string;

const FAKE_MAIN = `
import os, sys, time
def main():
    args = sys.argv[1:]
    if args[0] == "echo":
        print(" ".join(args[1:]))
        print("to stderr", file=sys.stderr)
    elif args[0] == "fail":
        raise SystemExit("Variable x does not exist")
    elif args[0] == "code":
        sys.exit(int(args[1]))
    elif args[0] == "sleep":
        time.sleep(float(args[1]))
    elif args[0] == "cwd":
        print(os.getcwd())
    elif args[0] == "pid":
        print(os.getpid(), os.getppid())
    elif args[0] == "env":
        print(os.environ.get("MARK", ""))
`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cp-fork-'));
  const pkg = join(dir, 'lib', 'airflow');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, '__init__.py'), '__version__ = "0.0.test"\n');
  writeFileSync(join(pkg, '__main__.py'), FAKE_MAIN);
  writeFileSync(join(pkg, 'settings.py'), 'engine = None\n');
  events = [];
  mark = 'one';
  server = new CliForkServer({
    python: PYTHON,
    env: () => ({ PATH: process.env.PATH, PYTHONPATH: join(dir, 'lib'), MARK: mark }),
    logPath: join(dir, 'server.log'),
    tmpRoot: join(dir, 'tmp'),
    onEvent: (event) => events.push(event),
    drainMs: 5000,
  });
});

afterEach(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CliForkServer', () => {
  it('is not ready before start: the runner falls back to spawning the program', async () => {
    await expect(server.run(['echo', 'x'], dir, 5000)).rejects.toBeInstanceOf(NotForkedError);
    const runner = new CliRunner('/bin/echo', () => ({ PATH: process.env.PATH }), dir, 5000, 2, server);
    const out = await runner.run(['spawned']);
    expect(out.stdout.toString()).toBe('spawned\n');
  });

  it('runs commands in forked children with separate stdout and stderr', async () => {
    await server.start();
    expect(server.ready).toBe(true);
    expect(events.find((e) => e.type === 'cli-fork-server-ready')?.airflowVersion).toBe('0.0.test');
    const [a, b] = await Promise.all([server.run(['echo', 'hello', 'world'], dir, 5000), server.run(['cwd'], '/', 5000)]);
    expect(a).toMatchObject({ exitCode: 0, timedOut: false });
    expect(a.stdout.toString()).toBe('hello world\n');
    expect(a.stderr.toString()).toBe('to stderr\n');
    expect(b.stdout.toString()).toBe('/\n');
  });

  it('reports exit codes, and a SystemExit message on stderr as Python would', async () => {
    await server.start();
    expect((await server.run(['code', '3'], dir, 5000)).exitCode).toBe(3);
    const failed = await server.run(['fail'], dir, 5000);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr.toString()).toBe('Variable x does not exist\n');
  });

  it('kills a command that exceeds its timeout', async () => {
    await server.start();
    const out = await server.run(['sleep', '30'], dir, 300);
    expect(out.timedOut).toBe(true);
    expect(out.exitCode).toBe(-9);
  });

  it('restart starts a fresh server with the current environment', async () => {
    await server.start();
    expect((await server.run(['env'], dir, 5000)).stdout.toString()).toBe('one\n');
    mark = 'two';
    await server.restart();
    expect((await server.run(['env'], dir, 5000)).stdout.toString()).toBe('two\n');
  });

  it('lets running commands finish when stopped', async () => {
    await server.start();
    const running = server.run(['sleep', '0.5'], dir, 5000);
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    expect((await running).exitCode).toBe(0);
    expect(server.ready).toBe(false);
  });
});
