import { describe, expect, it } from 'vitest';
import { createAirflowRest, webLoginApi, WebLoginDeniedError, type WebLoginApi } from '../../../src/mwaa/rest-client.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A web server as MWAA fronts it: the login answers with a redirect that sets the line's cookie. */
function webServer(options: { cookie: string; loginStatus?: number; apiStatuses?: number[]; cookieOnSecondHop?: boolean }) {
  const seen: Seen[] = [];
  let logins = 0;
  const fetchImpl = (async (input: string | URL, init: RequestInit = {}) => {
    const url = String(input);
    seen.push({
      method: init.method ?? 'GET',
      url,
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body as string | undefined,
    });
    if (url.endsWith('/login')) {
      logins += 1;
      if (options.loginStatus) return new Response('denied', { status: options.loginStatus });
      const headers = new Headers({ location: options.cookieOnSecondHop ? '/home' : '/' });
      if (!options.cookieOnSecondHop) headers.append('set-cookie', `${options.cookie}=cred-${logins}; Path=/; HttpOnly`);
      headers.append('set-cookie', 'other=x; Path=/');
      return new Response(null, { status: 302, headers });
    }
    if (url.endsWith('/home'))
      return new Response('', { status: 200, headers: { 'set-cookie': `${options.cookie}=cred-${logins}; Path=/` } });
    const status = options.apiStatuses?.shift() ?? 200;
    return new Response(JSON.stringify({ ok: status }), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { seen, fetchImpl };
}

const tokens = (): WebLoginApi & { issued: number } => {
  const api = {
    issued: 0,
    async createWebLoginToken(name: string) {
      api.issued += 1;
      return { token: `web+token/${name}=${api.issued}`, hostname: 'abc.airflow.example' };
    },
  };
  return api;
};

describe('createAirflowRest', () => {
  it('Airflow 2: posts the token as a form to /aws_mwaa/login, then sends the session cookie to /api/v1', async () => {
    const server = webServer({ cookie: 'session' });
    const rest = createAirflowRest(tokens(), 'env-x', 'https', '2', { fetch: server.fetchImpl });
    const out = await rest.request('GET', '/dags/d', { query: { limit: 100, offset: 0, skip: undefined } });
    expect(out).toEqual({ status: 200, text: '{"ok":200}', json: { ok: 200 }, contentType: 'application/json' });
    expect(server.seen[0]).toEqual({
      method: 'POST',
      url: 'https://abc.airflow.example/aws_mwaa/login',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'token=web%2Btoken%2Fenv-x%3D1',
    });
    expect(server.seen[1]).toMatchObject({
      method: 'GET',
      url: 'https://abc.airflow.example/api/v1/dags/d?limit=100&offset=0',
      headers: { Accept: 'application/json', Cookie: 'session=cred-1' },
    });
  });

  it('Airflow 3: /pluginsv2/aws_mwaa/login, then the `_token` JWT as Bearer on /api/v2, JSON bodies', async () => {
    const server = webServer({ cookie: '_token' });
    const rest = createAirflowRest(tokens(), 'env-x', 'https', '3', { fetch: server.fetchImpl });
    await rest.request('PATCH', '/dags/d', { body: { is_paused: false } });
    expect(server.seen[0]!.url).toBe('https://abc.airflow.example/pluginsv2/aws_mwaa/login');
    expect(server.seen[1]).toMatchObject({
      method: 'PATCH',
      url: 'https://abc.airflow.example/api/v2/dags/d',
      headers: { Authorization: 'Bearer cred-1', 'Content-Type': 'application/json' },
      body: '{"is_paused":false}',
    });
  });

  it('logs in once for many requests, and once more when the session has expired (401)', async () => {
    const server = webServer({ cookie: 'session', apiStatuses: [200, 200, 401, 200] });
    const api = tokens();
    const rest = createAirflowRest(api, 'env-x', 'http', '2', { fetch: server.fetchImpl });
    await Promise.all([rest.request('GET', '/a'), rest.request('GET', '/b')]);
    expect(api.issued).toBe(1);
    expect((await rest.request('GET', '/c')).status).toBe(200);
    expect(api.issued).toBe(2);
    expect(server.seen.at(-1)!.headers.Cookie).toBe('session=cred-2');
    expect(rest.stats).toEqual({ logins: 2, requests: 4 });
  });

  it('collects the cookie from a later redirect hop when the first answer lacks it', async () => {
    const server = webServer({ cookie: 'session', cookieOnSecondHop: true });
    const rest = createAirflowRest(tokens(), 'env-x', 'https', '2', { fetch: server.fetchImpl });
    await rest.request('GET', '/dags');
    expect(server.seen.map((s) => s.url)).toEqual([
      'https://abc.airflow.example/aws_mwaa/login',
      'https://abc.airflow.example/home',
      'https://abc.airflow.example/api/v1/dags',
    ]);
    expect(server.seen[2]!.headers.Cookie).toBe('session=cred-1');
  });

  it('a refused login is a denied web login; a login without the cookie names the line', async () => {
    const denied = createAirflowRest(tokens(), 'env-x', 'https', '2', {
      fetch: webServer({ cookie: 'session', loginStatus: 403 }).fetchImpl,
    });
    await expect(denied.request('GET', '/dags')).rejects.toBeInstanceOf(WebLoginDeniedError);
    const wrongLine = createAirflowRest(tokens(), 'env-x', 'https', '3', { fetch: webServer({ cookie: 'session' }).fetchImpl });
    await expect(wrongLine.request('GET', '/dags')).rejects.toThrow(/without a `_token` cookie\. Is the environment on Airflow 3\.x\?/);
  });
});

describe('webLoginApi', () => {
  it('AccessDeniedException from CreateWebLoginToken is a denied web login', async () => {
    const client = {
      send: async () => {
        throw Object.assign(new Error('not authorized to perform: airflow:CreateWebLoginToken'), {
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 403 },
        });
      },
    };
    await expect(webLoginApi(client).createWebLoginToken('env-x')).rejects.toThrow(
      /Web login to Airflow denied: CreateWebLoginToken for env-x: not authorized to perform: airflow:CreateWebLoginToken/,
    );
  });
});
