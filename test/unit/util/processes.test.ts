import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isAlive, procStat, processIdentity } from '../../../src/util/processes.js';

describe('isAlive', () => {
  it('is true for a running process and false once it has exited or for a PID nobody has', async () => {
    expect(isAlive(process.pid)).toBe(true);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    expect(isAlive(child.pid!)).toBe(true);
    expect(procStat(child.pid!)).toMatchObject({ ppid: process.pid });
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(isAlive(child.pid!)).toBe(false);
    // Above the largest pid_max Linux allows (2^22).
    expect(isAlive(2 ** 22 + 12345)).toBe(false);
    expect(procStat(2 ** 22 + 12345)).toBeUndefined();
  });
});

describe('processIdentity', () => {
  it('names this boot and PID namespace as /proc does', () => {
    const identity = processIdentity();
    expect(identity.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(identity.pidNamespace).toMatch(/^pid:\[\d+\]$/);
  });
});
