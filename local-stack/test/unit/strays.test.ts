import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../../src/util/processes.js';
import { stopPid } from '../../src/processes.js';
import { STACK_ROOT_ENV, stackProcessEnv, strayProcesses } from '../../src/strays.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('strays-');

describe('strayProcesses', () => {
  it('finds a process of the stack by its AIRFLOW_HOME, whatever its process group, and only those', async () => {
    const root = tmp();
    const own = spawn('sleep', ['30'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, AIRFLOW_HOME: join(root, 'airflow-2.11.2') },
    });
    const other = spawn('sleep', ['30'], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, AIRFLOW_HOME: `${root}-elsewhere/airflow` },
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const found = strayProcesses(root).map((s) => s.pid);
      expect(found).toContain(own.pid);
      expect(found).not.toContain(other.pid);
      expect(strayProcesses(root, new Set([own.pid!]))).toEqual([]);
    } finally {
      for (const child of [own, other]) await stopPid(child.pid!, 1000);
    }
    expect(isAlive(own.pid!)).toBe(false);
  });

  it('finds every process a stack started by the root it carries, and a parent directory finds those of every root below it', async () => {
    const parent = tmp();
    const [first, second] = [join(parent, 'stack-a'), join(parent, 'stack-b')];
    // sshd, moto and the control plane have no AIRFLOW_HOME: the mark is all they carry.
    const a = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: stackProcessEnv(first) });
    const b = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: stackProcessEnv(second) });
    const near = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', env: { ...process.env, [STACK_ROOT_ENV]: `${first}-other` } });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const pids = (root: string) => strayProcesses(root).map((s) => s.pid);
      expect(pids(first)).toContain(a.pid);
      expect(pids(first)).not.toContain(b.pid);
      expect(pids(first)).not.toContain(near.pid);
      expect(pids(parent)).toEqual(expect.arrayContaining([a.pid, b.pid, near.pid]));
      expect(strayProcesses(first).find((s) => s.pid === a.pid)?.ref?.pid).toBe(a.pid);
    } finally {
      for (const child of [a, b, near]) await stopPid(child.pid!, 1000);
    }
  });
});
