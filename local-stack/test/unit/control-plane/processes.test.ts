import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirflowSupervisor, airflowEnv, processSpecs, type RunningProcess } from '../../../src/control-plane/processes.js';
import { isAlive } from '../../../../src/util/processes.js';
import { descendants } from '../../../src/processes.js';

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('airflowEnv', () => {
  it('sets AIRFLOW_HOME, the moto endpoint and dummy credentials, and maps configuration options', () => {
    const env = airflowEnv({
      line: '2',
      baseEnv: { PATH: '/usr/bin', AIRFLOW__CORE__EXECUTOR: 'leaked', AWS_PROFILE: 'prod', HOME: '/root' },
      venvBin: '/v/bin',
      airflowHome: '/h',
      s3Endpoint: 'http://127.0.0.1:5000',
      region: 'us-east-1',
      stackEnv: { AIRFLOW__CORE__LOAD_EXAMPLES: 'False', AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL: '10' },
      configurationOptions: { 'core.parallelism': '4' },
    });
    expect(env).toMatchObject({
      AIRFLOW_HOME: '/h',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL: '10',
      AIRFLOW__CORE__PARALLELISM: '4',
      PATH: '/v/bin:/usr/bin',
      HOME: '/root',
    });
    expect(env.AIRFLOW__CORE__EXECUTOR).toBeUndefined();
    expect(env.AWS_PROFILE).toBeUndefined();
  });

  it('shortens the DAG folder listing interval under the name each line reads', () => {
    const base = { baseEnv: {}, venvBin: '/v', airflowHome: '/h', s3Endpoint: 'http://x', region: 'r', configurationOptions: {} };
    expect(airflowEnv({ ...base, line: '2' }).AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL).toBe('5');
    expect(airflowEnv({ ...base, line: '3' }).AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL).toBe('5');
  });

  it('lists the processes each Airflow line needs', () => {
    expect(processSpecs('2').map((s) => s.name)).toEqual(['airflow-scheduler', 'airflow-webserver']);
    expect(processSpecs('3').map((s) => s.args[0])).toContain('dag-processor');
  });
});

describe('AirflowSupervisor', () => {
  let dir: string;
  let supervisor: AirflowSupervisor | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cp-proc-'));
  });
  afterEach(async () => {
    await supervisor?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts the set and leaves no descendant behind, even one in its own session', async () => {
    // Stands in for `airflow`: like the scheduler's DAG processor manager, one child escapes the group.
    const fake = join(dir, 'airflow');
    writeFileSync(fake, `#!/bin/sh\necho "$@"\nsetsid sleep 300 &\necho $! > "${dir}/escaped-$$"\nexec sleep 300\n`);
    chmodSync(fake, 0o755);
    let last: RunningProcess[] = [];
    supervisor = new AirflowSupervisor({
      airflowBin: fake,
      specs: [{ name: 'airflow-scheduler', args: ['scheduler'], loadsPlugins: true }],
      logsDir: join(dir, 'logs'),
      env: () => ({ PATH: process.env.PATH }),
      onEvent: () => undefined,
      onChange: (list) => (last = list),
      graceMs: 2000,
    });
    supervisor.start();
    const first = last[0]!.pid;
    await waitFor(() => {
      try {
        return readFileSync(join(dir, `escaped-${first}`), 'utf8').trim() !== '';
      } catch {
        return false;
      }
    });
    const escaped = Number(readFileSync(join(dir, `escaped-${first}`), 'utf8'));
    expect(descendants(first)).toContain(escaped);
    await supervisor.restart();
    expect(isAlive(first)).toBe(false);
    await waitFor(() => !isAlive(escaped));
    expect(last).toHaveLength(1);
    expect(last[0]!.pid).not.toBe(first);
    expect(readFileSync(join(dir, 'logs', 'airflow-scheduler.log'), 'utf8')).toContain('scheduler');
  });

  it('restarts only the processes selected', async () => {
    const fake = join(dir, 'airflow');
    writeFileSync(fake, `#!/bin/sh\nexec sleep 300\n`);
    chmodSync(fake, 0o755);
    let last: RunningProcess[] = [];
    supervisor = new AirflowSupervisor({
      airflowBin: fake,
      specs: [
        { name: 'airflow-api-server', args: ['api-server'], loadsPlugins: false },
        { name: 'airflow-scheduler', args: ['scheduler'], loadsPlugins: true },
      ],
      logsDir: join(dir, 'logs'),
      env: () => ({ PATH: process.env.PATH }),
      onEvent: () => undefined,
      onChange: (list) => (last = list),
    });
    supervisor.start();
    const before = Object.fromEntries(last.map((p) => [p.name, p.pid]));
    await supervisor.restart((spec) => spec.loadsPlugins);
    const after = Object.fromEntries(last.map((p) => [p.name, p.pid]));
    expect(after['airflow-api-server']).toBe(before['airflow-api-server']);
    expect(after['airflow-scheduler']).not.toBe(before['airflow-scheduler']);
    expect(isAlive(before['airflow-scheduler']!)).toBe(false);
  });

  it('restarts a process that exits unexpectedly', async () => {
    const fake = join(dir, 'airflow');
    writeFileSync(fake, `#!/bin/sh\nexec sleep 300\n`);
    chmodSync(fake, 0o755);
    let last: RunningProcess[] = [];
    supervisor = new AirflowSupervisor({
      airflowBin: fake,
      specs: [{ name: 'airflow-scheduler', args: ['scheduler'], loadsPlugins: true }],
      logsDir: join(dir, 'logs'),
      env: () => ({ PATH: process.env.PATH }),
      onEvent: () => undefined,
      onChange: (list) => (last = list),
    });
    supervisor.start();
    const first = last[0]!.pid;
    process.kill(first, 'SIGKILL');
    await waitFor(() => last.length === 1 && last[0]!.pid !== first, 8000);
  });
});
