import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homeInfo, loadOrCreateSettings, moveTakenPorts, renderAirflowCfg, type AirflowSettings } from '../../src/airflow-home.js';
import { layoutFor, lockPath, mwaaPython, repoRoot, AIRFLOW_VERSIONS, FALLBACK_PYTHON } from '../../src/layout.js';
import { recordedProcesses } from '../../src/down.js';
import { recordedAlive } from '../../src/liveness.js';
import { recordPending } from '../../src/pending.js';
import { renderSshdConfig, sshFiles } from '../../src/sshd.js';
import { readState, readStateIfPresent, stackRoot, writeState, type LocalStackState } from '../../src/state.js';
import { venvIsCurrent } from '../../src/venv.js';
import { UserError } from '../../../src/errors.js';
import { useTmpDir } from '../../../test/support/tmp.js';

const tmp = useTmpDir('local-stack-unit-');

const settings: AirflowSettings = {
  fernetKey: `${'k'.repeat(43)}=`,
  secretKey: 'secret',
  jwtSecret: 'jwt',
  apiPort: 40001,
  workerLogServerPort: 40002,
  triggerLogServerPort: 40003,
  webPassword: 'pw',
};

/** airflow.cfg as section → key → value. */
function parseCfg(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1];
      out[section] = {};
    }
    const kv = /^(\w+) = (.*)$/.exec(line);
    if (kv?.[1] && section) out[section]![kv[1]] = kv[2]!;
  }
  return out;
}

describe('airflow.cfg', () => {
  it('line 2: SequentialExecutor on SQLite, no examples, fast folder scans, per-stack log ports', () => {
    const cfg = parseCfg(renderAirflowCfg('2', homeInfo('/s/airflow-2.10.3', '2', settings), settings));
    expect(cfg.core).toMatchObject({
      executor: 'SequentialExecutor',
      load_examples: 'False',
      dags_folder: '/s/airflow-2.10.3/dags',
      plugins_folder: '/s/airflow-2.10.3/plugins',
      dags_are_paused_at_creation: 'False',
    });
    expect(cfg.database?.sql_alchemy_conn).toBe('sqlite:////s/airflow-2.10.3/airflow.db');
    expect(cfg.scheduler?.dag_dir_list_interval).toBe('5');
    expect(cfg.logging?.worker_log_server_port).toBe('40002');
    expect(cfg.api).toBeUndefined();
    expect(cfg.core?.execution_api_server_url).toBeUndefined();
  });

  it('line 3: LocalExecutor, api-server on its own port serving the execution API, fixed JWT secret', () => {
    const cfg = parseCfg(renderAirflowCfg('3', homeInfo('/s/airflow-3.3.1', '3', settings), settings));
    expect(cfg.core?.executor).toBe('LocalExecutor');
    expect(cfg.core?.execution_api_server_url).toBe('http://127.0.0.1:40001/execution/');
    expect(cfg.api).toMatchObject({ host: '127.0.0.1', port: '40001' });
    expect(cfg.api_auth?.jwt_secret).toBe('jwt');
    expect(cfg.dag_processor?.refresh_interval).toBe('5');
  });

  it('is deterministic', () => {
    const info = homeInfo('/s/h', '3', settings);
    expect(renderAirflowCfg('3', info, settings)).toBe(renderAirflowCfg('3', info, settings));
  });
});

describe('sshd_config', () => {
  it('listens on loopback only, key auth only, with its own files and raised limits', () => {
    const files = sshFiles('/s/ssh');
    const text = renderSshdConfig(files, 2222, 'root');
    const lines = text.split('\n');
    for (const expected of [
      'ListenAddress 127.0.0.1',
      'Port 2222',
      'HostKey /s/ssh/host_ed25519',
      'AuthorizedKeysFile /s/ssh/authorized_keys',
      'PidFile /s/ssh/sshd.pid',
      'PasswordAuthentication no',
      'StrictModes no',
      'LogLevel VERBOSE',
      'AllowUsers root',
    ]) {
      expect(lines).toContain(expected);
    }
    expect(text).toMatch(/^MaxStartups \d+/m);
    expect(text).toMatch(/^MaxSessions \d+/m);
  });

  it('serves each loopback address it is given, one ListenAddress line each', () => {
    const text = renderSshdConfig(sshFiles('/s/ssh'), 2222, 'root', ['127.0.0.2', '127.0.0.3']);
    expect(text.split('\n').filter((line) => line.startsWith('ListenAddress '))).toEqual([
      'ListenAddress 127.0.0.2',
      'ListenAddress 127.0.0.3',
    ]);
  });
});

describe('recorded liveness', () => {
  it('does not take a reused PID for a stack process', () => {
    // This test runner is alive, but its command line is not moto's.
    expect(recordedAlive({ name: 'moto', pid: process.pid, log: '' })).toBe(false);
    expect(recordedAlive({ name: 'airflow-scheduler', pid: process.pid, log: '' })).toBe(false);
  });
});

describe('state.json', () => {
  it('round-trips atomically and explains how to start the stack when absent', () => {
    const root = tmp();
    expect(readStateIfPresent(root)).toBeUndefined();
    expect(() => readState(root)).toThrow(UserError);
    expect(() => readState(root)).toThrow(/npm run local -- up/);
    const state = { formatVersion: 1, root, processes: [] } as unknown as LocalStackState;
    writeState(root, state);
    expect(readState(root)).toEqual(state);
    expect(existsSync(join(root, 'state.json'))).toBe(true);
  });

  it('refuses an unknown format version', () => {
    const root = tmp();
    writeFileSync(join(root, 'state.json'), JSON.stringify({ formatVersion: 2 }));
    expect(() => readStateIfPresent(root)).toThrow(/formatVersion 2/);
  });

  it('lives in $MWAA_LOCAL_HOME or <cwd>/.local-stack', () => {
    expect(stackRoot({}, '/repo')).toBe('/repo/.local-stack');
    expect(stackRoot({ MWAA_LOCAL_HOME: 'x/y' }, '/repo')).toBe('/repo/x/y');
    expect(stackRoot({ MWAA_LOCAL_HOME: '/abs' }, '/repo')).toBe('/abs');
  });
});

describe('layout and locks', () => {
  it('has a lock per Airflow line that pins airflow and the stack tools exactly', () => {
    for (const [version, python] of Object.values(AIRFLOW_VERSIONS).flatMap((v) => [
      [v, mwaaPython(v)],
      [v, FALLBACK_PYTHON],
    ])) {
      const lines = readFileSync(lockPath(repoRoot(), version!, python!), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      expect(lines.every((l) => /^[A-Za-z0-9_.-]+(\[[a-z,]+\])?==[^=\s]+$/.test(l))).toBe(true);
      const names = new Set(lines.map((l) => l.split('==')[0]!.toLowerCase()));
      for (const pkg of ['apache-airflow', 'moto', 'boto3', 'paramiko', 'pyyaml', 'pytest', 'ruff', 'graphviz']) {
        expect(names.has(pkg), `${version}: ${pkg}`).toBe(true);
      }
      expect(lines).toContain(`apache-airflow==${version}`);
    }
  });

  it('runs the newest MWAA version of each line, on the Python MWAA pairs with it', () => {
    expect(AIRFLOW_VERSIONS).toEqual({ '2': '2.11.2', '3': '3.3.1' });
    expect(mwaaPython('2.11.2')).toBe('3.12');
    expect(mwaaPython('3.3.1')).toBe('3.12');
  });

  it('keeps venvs under the root unless a shared venvs dir is given', () => {
    expect(layoutFor('/r', '2.10.3').venvBin).toBe('/r/venvs/airflow-2.10.3/bin');
    expect(layoutFor('/r', '2.10.3', '/shared').venvBin).toBe('/shared/airflow-2.10.3/bin');
    expect(layoutFor('/r', '3.3.1').airflowHome).toBe('/r/airflow-3.3.1');
  });

  it('treats a venv without a matching marker as stale', () => {
    const dir = tmp();
    expect(venvIsCurrent(dir, 'abc')).toBe(false);
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'airflow'), '');
    writeFileSync(join(dir, '.mwaa-local-lock.sha256'), 'abc\n');
    expect(venvIsCurrent(dir, 'abc')).toBe(true);
    expect(venvIsCurrent(dir, 'def')).toBe(false);
  });
});

describe('recorded processes', () => {
  it('merges state.json, the live Airflow list of control-plane.json and a half-finished up, once each', () => {
    const root = tmp();
    const state = {
      formatVersion: 1,
      root,
      processes: [
        { name: 'moto', pid: 11, log: 'm' },
        { name: 'sshd', pid: 12, log: 's' },
        { name: 'control-plane', pid: 13, log: 'c' },
        // Stale: the control plane restarted its scheduler since.
        { name: 'airflow-scheduler', pid: 14, log: 'a' },
      ],
    } as unknown as LocalStackState;
    writeState(root, state);
    writeFileSync(
      join(root, 'control-plane.json'),
      JSON.stringify({ formatVersion: 1, pid: 13, processes: [{ name: 'airflow-scheduler', pid: 24, log: 'a' }] }),
    );
    recordPending(root, { name: 'moto', pid: 31, log: 'm' });
    recordPending(root, { name: 'sshd', pid: 12, log: 's' });
    expect(recordedProcesses(root).map((p) => `${p.name}:${p.pid}`)).toEqual([
      'moto:11',
      'sshd:12',
      'control-plane:13',
      'airflow-scheduler:24',
      'moto:31',
    ]);
  });

  it('still finds the Airflow processes of a control plane that died without cleaning up', () => {
    const root = tmp();
    writeFileSync(
      join(root, 'control-plane.json'),
      JSON.stringify({ formatVersion: 1, pid: 40, processes: [{ name: 'airflow-api-server', pid: 41, log: 'x' }] }),
    );
    expect(recordedProcesses(root).map((p) => `${p.name}:${p.pid}`)).toEqual(['airflow-api-server:41', 'control-plane:40']);
  });
});

describe("Airflow's kept ports", () => {
  it('a port another program took while the stack was down is replaced, in airflow.cfg too; free ones stay', async () => {
    const home = tmp();
    const kept = await loadOrCreateSettings(home);
    writeFileSync(join(home, 'airflow.cfg'), renderAirflowCfg('3', homeInfo(home, '3', kept), kept));
    // Another stack's api-server on this stack's api port.
    const other = createServer();
    await new Promise<void>((r) => other.listen(kept.apiPort, '127.0.0.1', () => r()));
    try {
      const { info, moved } = await moveTakenPorts(home, '3');
      expect(moved).toEqual([expect.stringMatching(new RegExp(`^apiPort ${kept.apiPort} → \\d+$`))]);
      expect(info.apiPort).not.toBe(kept.apiPort);
      const cfg = parseCfg(readFileSync(join(home, 'airflow.cfg'), 'utf8'));
      expect(cfg.api?.port).toBe(String(info.apiPort));
      expect(cfg.core?.execution_api_server_url).toBe(`http://127.0.0.1:${info.apiPort}/execution/`);
      expect(cfg.logging?.worker_log_server_port).toBe(String(kept.workerLogServerPort));
      expect((await loadOrCreateSettings(home)).apiPort).toBe(info.apiPort);
    } finally {
      other.close();
    }
    expect((await moveTakenPorts(home, '3')).moved).toEqual([]);
  });
});
