/**
 * A recorded PID is the stack's only while it names the process that was recorded: PIDs are
 * reused (pid_max is 32768 here), and another stack on the machine runs the same programs. A
 * reused PID looks, from /proc, like a live process with the recorded PID and a matching command
 * line but another start time: that is what these tests build, with real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { down } from '../../src/down.js';
import { bootId, recordOf, recordedAlive, recordedRef } from '../../src/liveness.js';
import { writeState, type LocalStackState, type StackProcess } from '../../src/state.js';
import { stackStatus } from '../../src/status.js';
import { isAlive } from '../../../src/util/processes.js';
import { commandLine, descendants, processRef, signalGroup, stopPid } from '../../src/processes.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('liveness-');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A real process whose command line reads like another stack's Airflow scheduler. */
async function otherStacksScheduler(): Promise<number> {
  const child = spawn('bash', ['-c', 'exec -a "/other/venvs/airflow-3.3.1/bin/airflow scheduler" sleep 60'], {
    detached: true,
    stdio: 'ignore',
  });
  children.push(child);
  const pid = child.pid!;
  const end = Date.now() + 5_000;
  while (!commandLine(pid)?.includes('airflow scheduler')) {
    if (Date.now() > end) throw new Error('the stand-in process did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}

/** What this stack recorded for `pid` before the PID was freed and taken by another process. */
function staleRecord(pid: number, name = 'airflow-scheduler'): StackProcess {
  const now = processRef(pid)!;
  return { name, pid, log: 'x', startTime: now.startTime - 1, bootId: bootId() };
}

describe('recorded process identity', () => {
  it('a record made at spawn names its process while it runs, and not after it exits', async () => {
    const pid = await otherStacksScheduler();
    const record = recordOf('airflow-scheduler', pid, 'x');
    expect(record.startTime).toBe(processRef(pid)!.startTime);
    expect(record.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(recordedAlive(record)).toBe(true);
    expect(await stopPid(recordedRef(record)!, 5_000)).toMatchObject({ outcome: 'terminated' });
    expect(recordedAlive(record)).toBe(false);
  });

  it('a reused PID (same command line, later start time) is not the recorded process', async () => {
    const pid = await otherStacksScheduler();
    const record = staleRecord(pid);
    expect(recordedAlive(record)).toBe(false);
    expect(recordedRef(record)).toBeUndefined();
    // Nor is a PID recorded in another boot, whatever its start time.
    expect(recordedAlive({ ...recordOf('airflow-scheduler', pid, 'x'), bootId: 'another-boot' })).toBe(false);
  });

  it('stopPid with the identity of an exited process leaves the process that took its PID alone', async () => {
    const pid = await otherStacksScheduler();
    const stale = { pid, startTime: processRef(pid)!.startTime - 1 };
    expect(await stopPid(stale, 200)).toMatchObject({ outcome: 'not-running' });
    signalGroup(stale, 'SIGKILL');
    expect(isAlive(pid)).toBe(true);
  });

  it('`down` of a stack whose recorded Airflow PID was reused does not stop the process now holding it', async () => {
    const root = tmp();
    const victim = await otherStacksScheduler();
    writeState(root, { formatVersion: 1, root, processes: [] } as unknown as LocalStackState);
    writeFileSync(
      join(root, 'control-plane.json'),
      JSON.stringify({ formatVersion: 1, pid: 2 ** 22 + 7, processes: [staleRecord(victim)] }),
    );
    const status = stackStatus(root, descendants);
    expect(status.processes.find((p) => p.pid === victim)?.up).toBe(false);
    const result = await down({ root, wipe: false, wipeVenvs: false, progress: () => undefined, now: Date.now });
    expect(result.stopped.find((p) => p.pid === victim)?.outcome).toBe('not-running');
    expect(isAlive(victim)).toBe(true);
  });
});
