import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, stopPid } from '../../../src/util/processes.js';
import { strayProcesses } from '../../src/strays.js';
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
});
