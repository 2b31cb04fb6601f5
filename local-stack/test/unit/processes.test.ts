import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../../src/util/processes.js';
import { descendants, run, runProgram, spawnDetached, stopPid } from '../../src/processes.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('stack-processes-');

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('runProgram and run', () => {
  it('collects output and the exit code without a shell', async () => {
    const result = await runProgram('sh', ['-c', 'printf "%s" "$0"; echo err >&2; exit 3', 'a; echo injected']);
    expect(result.code).toBe(3);
    expect(result.stdout.toString()).toBe('a; echo injected');
    expect(result.stderr.toString()).toBe('err\n');
  });

  it('feeds stdin and rejects on a non-zero exit with the stderr tail', async () => {
    expect((await run('cat', [], { input: 'piped' })).stdout).toBe('piped');
    await expect(run('sh', ['-c', 'echo boom >&2; exit 2'])).rejects.toThrow(/exited with 2\nboom/);
  });

  it('a program that exits without reading its input is no error (its exit code tells)', async () => {
    // More than a pipe holds, so the write is still going on when the program has exited.
    const result = await runProgram('sh', ['-c', 'exit 0'], { input: 'y\n'.repeat(1 << 20) });
    expect(result.code).toBe(0);
  });

  it('kills the program and what it spawned on timeout', async () => {
    const started = Date.now();
    const result = await runProgram('sh', ['-c', 'sleep 30 & sleep 30'], { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.code).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('process control', () => {
  it('stops a detached process with SIGTERM', async () => {
    const pid = spawnDetached({ command: 'sleep', args: ['60'], log: join(tmp(), 'sleep.log') });
    expect(isAlive(pid)).toBe(true);
    expect((await stopPid(pid, 5_000)).outcome).toBe('terminated');
    expect(isAlive(pid)).toBe(false);
  });

  it('SIGKILLs a process (and its children) that ignores SIGTERM', async () => {
    const pid = spawnDetached({ command: 'bash', args: ['-c', 'trap "" TERM; sleep 60 & wait'], log: join(tmp(), 'stubborn.log') });
    await until(() => descendants(pid).length > 0);
    const children = descendants(pid);
    const result = await stopPid(pid, 500);
    expect(result.outcome).toBe('killed');
    expect([pid, ...children].filter(isAlive)).toEqual([]);
  });

  it('reports a PID that is already gone as not running', async () => {
    expect((await stopPid(2 ** 22 + 12345, 100)).outcome).toBe('not-running');
  });

  it('finds grandchildren in the /proc tree', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
    await until(() => descendants(child.pid!).length > 0);
    expect(descendants(process.pid)).toContain(child.pid);
    const grandchildren = descendants(child.pid!);
    child.kill('SIGKILL');
    for (const pid of grandchildren) process.kill(pid, 'SIGKILL');
  });
});
