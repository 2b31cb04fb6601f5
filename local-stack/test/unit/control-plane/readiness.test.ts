import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirflowNotReadyError, apiServerBaseUrl, readAirflowCfg, waitForAirflow } from '../../../src/control-plane/readiness.js';

const CFG = `[core]\nport = 1\n\n[api]\n# comment\nhost = 0.0.0.0\nport = 18080\n\n[webserver]\nport = 9\n`;

describe('readAirflowCfg', () => {
  it('reads a key from its section only', () => {
    expect(readAirflowCfg(CFG, 'api', 'port')).toBe('18080');
    expect(readAirflowCfg(CFG, 'webserver', 'port')).toBe('9');
    expect(readAirflowCfg(CFG, 'api', 'missing')).toBeUndefined();
  });
});

describe('apiServerBaseUrl', () => {
  it('uses airflow.cfg, loopback for a wildcard host, and env overrides', () => {
    const home = mkdtempSync(join(tmpdir(), 'cp-ready-'));
    try {
      writeFileSync(join(home, 'airflow.cfg'), `${CFG}web_server_port = 18081\nweb_server_host = 0.0.0.0\n`);
      expect(apiServerBaseUrl({}, home)).toBe('http://127.0.0.1:18080');
      expect(apiServerBaseUrl({}, home, '2')).toBe('http://127.0.0.1:18081');
      expect(apiServerBaseUrl({ AIRFLOW__WEBSERVER__WEB_SERVER_PORT: '99' }, home, '2')).toBe('http://127.0.0.1:99');
      expect(apiServerBaseUrl({ AIRFLOW__API__PORT: '1234', AIRFLOW__API__HOST: '127.0.0.2' }, home)).toBe('http://127.0.0.2:1234');
      expect(apiServerBaseUrl({}, join(home, 'absent'))).toBe('http://127.0.0.1:8080');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('waitForAirflow', () => {
  it("Airflow 2: waits for the web server's /health (it serves the REST API)", async () => {
    const urls: string[] = [];
    await waitForAirflow({
      line: '2',
      env: () => ({ AIRFLOW__WEBSERVER__WEB_SERVER_PORT: '7' }),
      airflowHome: '/nowhere',
      sleep: async () => undefined,
      fetchImpl: (async (url: string) => {
        urls.push(url);
        return new Response('{}', { status: urls.length < 2 ? 503 : 200 });
      }) as unknown as typeof fetch,
    });
    expect(urls).toEqual(['http://127.0.0.1:7/health', 'http://127.0.0.1:7/health']);
  });

  it('polls the api-server health endpoint until it answers 200', async () => {
    const urls: string[] = [];
    let calls = 0;
    await waitForAirflow({
      line: '3',
      env: () => ({ AIRFLOW__API__PORT: '5', AIRFLOW__API__HOST: '127.0.0.1' }),
      airflowHome: '/nowhere',
      sleep: async () => undefined,
      fetchImpl: (async (url: string) => {
        urls.push(url);
        calls += 1;
        if (calls < 3) throw new Error('ECONNREFUSED');
        return new Response('{}', { status: 200 });
      }) as unknown as typeof fetch,
    });
    expect(calls).toBe(3);
    expect(urls[0]).toBe('http://127.0.0.1:5/api/v2/monitor/health');
  });

  it('gives up with AirflowNotReadyError after the timeout', async () => {
    const error = await waitForAirflow({
      line: '3',
      env: () => ({}),
      airflowHome: '/nowhere',
      timeoutMs: 0,
      sleep: async () => undefined,
      fetchImpl: (async () => new Response('', { status: 503 })) as unknown as typeof fetch,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AirflowNotReadyError);
    expect((error as Error).message).toContain('HTTP 503');
  });
});
