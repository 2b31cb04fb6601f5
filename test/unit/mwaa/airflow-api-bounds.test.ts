/**
 * What deploy and check read from Airflow's REST API stays bounded against the hostile web
 * server: lists end at a page limit (or at once, for a server that ignores `offset`), and a task
 * log of any length costs only the tail deploy prints.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PAGES, restAirflowApi } from '../../../src/mwaa/airflow-api.js';
import { createAirflowRest } from '../../../src/mwaa/rest-client.js';
import { logTail } from '../../../src/deployer/dag-run.js';
import { HostileHttpServer, type Reply, type Service } from '../../support/hostile/http-server.js';
import { webServerService } from '../../support/hostile/services/web-server.js';
import { newState } from '../../support/hostile/world.js';
import { rejection } from '../../support/hostile/rejection.js';

const servers: HostileHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(service: Service, behaviour: 'ok' | 'endless-pages' = 'ok'): Promise<HostileHttpServer> {
  const server = new HostileHttpServer(service, { behaviour });
  servers.push(server);
  await server.listen();
  return server;
}

function api(server: HostileHttpServer, line: '2' | '3') {
  const tokens = {
    async createWebLoginToken() {
      return { token: 't', hostname: server.hostPort };
    },
  };
  return restAirflowApi(createAirflowRest(tokens, 'env', 'http', line, { requestTimeoutMs: 10_000 }));
}

describe('collect(): a list that would not end', () => {
  it('a server that ignores offset: stopped at the second page, saying so', async () => {
    const server = await serve(webServerService(newState('2')), 'endless-pages');
    const error = await rejection(api(server, '2').variables(['a']));
    expect(error.message).toBe(
      `Airflow web server at ${server.hostPort}: GET /variables answered offset 100 with the same page as offset 0: ` +
        'it ignores `offset`, so the list would never end. Is this an Airflow REST API?',
    );
    expect(server.stats.operations['GET variables']).toBe(2);
  });

  it('a server with new rows on every page, forever: stopped at the page limit', async () => {
    let served = 0;
    const endless: Service = {
      ...webServerService(newState('2')),
      handle(request): Reply {
        if (request.path === '/aws_mwaa/login') return { status: 302, headers: { location: '/', 'set-cookie': 'session=s' }, body: '' };
        const offset = Number(request.query.get('offset'));
        served += 1;
        const rows = Array.from({ length: 100 }, (_, i) => ({ key: `k${offset + i}`, value: 'v' }));
        return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ variables: rows }) };
      },
    };
    const server = await serve(endless);
    const error = await rejection(api(server, '2').variables(['a']));
    expect(error.message).toBe(
      `Airflow web server at ${server.hostPort}: GET /variables lists more than ${MAX_PAGES * 100} rows ` +
        `(${MAX_PAGES} pages of 100), the most the toolkit reads; stopped there.`,
    );
    expect(served).toBe(MAX_PAGES);
  });
});

describe('taskLog(): the tail of a log of any length', () => {
  const ti = { taskId: 'clone_and_checkout_repo', mapIndex: -1, state: 'failed', tryNumber: 1 };

  it.each(['2', '3'] as const)('Airflow %s: a 64 MiB log streams past; the last 40 lines are its real end', async (line) => {
    const state = newState(line);
    state.airflow.runs.push('run-1');
    state.airflow.logPaddingBytes = 64 * 1024 * 1024;
    const server = await serve(webServerService(state));
    const log = await api(server, line).taskLog(state.airflow.dagId, 'run-1', ti);
    const expected = state.airflow.log.split('\n').slice(-40);
    expect(logTail(log ?? '')).toEqual(line === '2' ? expected : expected.map((event) => `INFO - ${event}`));
    // What came back is the tail window, not the log.
    expect((log ?? '').length).toBeLessThan(64 * 1024);
  });

  it('Airflow 3 asks for the NDJSON stream (structured entries, one a line)', async () => {
    const state = newState('3');
    state.airflow.runs.push('run-1');
    const server = await serve(webServerService(state));
    const log = await api(server, '3').taskLog(state.airflow.dagId, 'run-1', ti);
    expect(log?.split('\n').at(-1)).toBe('INFO - [2025-01-01T00:00:59Z] INFO - line 59');
  });
});
