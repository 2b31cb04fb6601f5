/**
 * How the control plane gets a real Airflow credential for a verified web login token, so every
 * REST answer the client then gets is Airflow's own:
 *   Airflow 2: log in to the real web server's login form (Flask-AppBuilder: CSRF token, then
 *              username/password) and keep the `session` cookie it sets;
 *   Airflow 3: ask the api-server's SimpleAuthManager for a JWT (POST /auth/token).
 * The stack's Airflow user has the Op role, as the deploy role's IAM policy grants
 * (airflow:CreateWebLoginToken on role/<env>/Op).
 */
import type { AirflowLine } from '../../../src/mwaa/versions.js';

export interface AirflowLogin {
  /** The credential value: the `session` cookie (2) or the JWT (3). */
  login(): Promise<string>;
}

export interface AirflowLoginOptions {
  line: AirflowLine;
  /** `http://127.0.0.1:<port>` of the web server (2) or api-server (3). */
  baseUrl: () => string;
  username: string;
  password: string;
  fetch?: typeof fetch;
}

export class AirflowLoginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AirflowLoginError';
  }
}

function setCookie(response: Response, name: string): string | undefined {
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';', 1)[0]!;
    if (pair.startsWith(`${name}=`)) return pair.slice(name.length + 1);
  }
  return undefined;
}

async function fabSession(options: AirflowLoginOptions, doFetch: typeof fetch): Promise<string> {
  const base = options.baseUrl();
  const form = await doFetch(`${base}/login/`, { redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  const html = await form.text();
  const csrf = /name="csrf_token"[^>]*value="([^"]+)"/.exec(html)?.[1] ?? /value="([^"]+)"[^>]*name="csrf_token"/.exec(html)?.[1];
  const anonymous = setCookie(form, 'session');
  if (form.status !== 200 || !csrf || !anonymous) {
    throw new AirflowLoginError(
      `the web server's login form (${base}/login/) answered HTTP ${form.status} without a CSRF token or session`,
    );
  }
  const response = await doFetch(`${base}/login/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `session=${anonymous}` },
    body: new URLSearchParams({ csrf_token: csrf, username: options.username, password: options.password }).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(30_000),
  });
  await response.body?.cancel();
  const session = setCookie(response, 'session');
  // A successful login redirects away from /login/; a failed one comes back to it.
  const location = response.headers.get('location') ?? '';
  if (response.status !== 302 || !session || location.includes('/login')) {
    throw new AirflowLoginError(
      `the web server refused the login of ${options.username} (HTTP ${response.status}, to ${location || 'nowhere'})`,
    );
  }
  return session;
}

async function simpleAuthToken(options: AirflowLoginOptions, doFetch: typeof fetch): Promise<string> {
  const base = options.baseUrl();
  const response = await doFetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: options.username, password: options.password }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let token: unknown;
  try {
    token = (JSON.parse(text) as { access_token?: unknown }).access_token;
  } catch {
    token = undefined;
  }
  if (response.status !== 201 || typeof token !== 'string') {
    throw new AirflowLoginError(`the api-server refused a token for ${options.username} (HTTP ${response.status}: ${text.slice(0, 200)})`);
  }
  return token;
}

export function airflowLogin(options: AirflowLoginOptions): AirflowLogin {
  const doFetch = options.fetch ?? fetch;
  return { login: () => (options.line === '2' ? fabSession(options, doFetch) : simpleAuthToken(options, doFetch)) };
}
