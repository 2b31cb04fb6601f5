/**
 * Airflow's REST API on MWAA, reached the way AWS documents it for this SDK (user guide, "Using the
 * Apache Airflow REST API"): CreateWebLoginToken, then a form POST of the token to the line's login
 * endpoint, then Airflow's own REST API with what the login handed back.
 *   Airflow 2: POST /aws_mwaa/login          → cookie `session` → /api/v1/... with that cookie
 *   Airflow 3: POST /pluginsv2/aws_mwaa/login → cookie `_token` (a JWT) → /api/v2/... with Bearer
 * The web token lives 60 s and is used at once; the session lasts 12 h, and a 401/403 answer logs
 * in again once. The login's Set-Cookie is read from the first answer (MWAA answers with a
 * redirect), following further redirects only to collect cookies.
 * IAM: airflow:CreateWebLoginToken on arn:aws:airflow:<region>:<account>:role/<env>/<Airflow role>.
 */
import { CreateWebLoginTokenCommand, type MWAAClient } from '@aws-sdk/client-mwaa';
import { UserError } from '../errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { AirflowLine } from './versions.js';
import { readText, readTextHead, readTextTail, type WebAnswer, webFetch } from './web-fetch.js';

/** The one MWAA call the web login needs. */
export interface WebLoginApi {
  createWebLoginToken(environmentName: string): Promise<{ token: string; hostname: string }>;
}

/** The caller may not log in to the web server (IAM denies CreateWebLoginToken, or the login is refused). */
export class WebLoginDeniedError extends UserError {
  constructor(readonly detail: string) {
    super(`Web login to Airflow denied: ${detail}`);
    this.name = 'WebLoginDeniedError';
  }
}

/** Airflow's REST API answered with an unexpected status (or not JSON). */
export class AirflowRestError extends UserError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly responseText: string,
    /** `host:port` of the web server, when known. */
    readonly endpoint?: string,
  ) {
    super(
      `Airflow web server${endpoint ? ` at ${endpoint}` : ''}: the REST API answered HTTP ${status} to ${method} ${path}` +
        `${responseText ? `: ${restDetail(responseText)}` : ''}`,
    );
    this.name = 'AirflowRestError';
  }
}

/** Airflow's error bodies carry `detail` (v1: problem+json, v2: FastAPI); show that when present. */
export function restDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown; title?: unknown };
    if (typeof parsed.detail === 'string') return parsed.detail;
    if (parsed.detail !== undefined) return JSON.stringify(parsed.detail).slice(0, 500);
    if (typeof parsed.title === 'string') return parsed.title;
  } catch {
    // not JSON
  }
  return text.slice(0, 500);
}

export function webLoginApi(client: Pick<MWAAClient, 'send'>): WebLoginApi {
  return {
    async createWebLoginToken(environmentName) {
      let out;
      try {
        out = await client.send(new CreateWebLoginTokenCommand({ Name: environmentName }));
      } catch (error) {
        const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        if (e?.name === 'AccessDeniedException' || e?.$metadata?.httpStatusCode === 403) {
          throw new WebLoginDeniedError(`CreateWebLoginToken for ${environmentName}: ${e.message ?? 'AccessDeniedException'}`);
        }
        throw error;
      }
      if (!out.WebToken || !out.WebServerHostname) {
        throw new UserError(`CreateWebLoginToken for ${environmentName} returned no token or web server hostname.`);
      }
      return { token: out.WebToken, hostname: out.WebServerHostname };
    },
  };
}

export interface RestResponse {
  status: number;
  /** The body (with `tailBytes`: its end only). */
  text: string;
  /** Parsed when the body is JSON. */
  json?: unknown;
  /** The answer's Content-Type. */
  contentType?: string;
  /** With `tailBytes`: how many bytes of the body came before `text`. */
  skippedBytes?: number;
}

export interface RestRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json. */
  accept?: string;
  /**
   * Keep only the last this many bytes of a 2xx body, however long it is (a task log); the rest
   * is read and dropped. Without it a body over the client's maxAnswerBytes is an error.
   */
  tailBytes?: number;
}

export interface AirflowRest {
  readonly line: AirflowLine;
  /** `path` without the `/api/vN` prefix, e.g. `/dags/my_dag`. Any status comes back; transport failures throw. */
  request(method: 'GET' | 'PATCH' | 'POST' | 'DELETE', path: string, request?: RestRequest): Promise<RestResponse>;
  readonly stats: { logins: number; requests: number };
  /** `host:port` of the web server, once a login told it. */
  endpoint?(): string | undefined;
}

export interface AirflowRestOptions {
  fetch?: typeof fetch;
  /** Deadline of each request, its answer's body included (default 60 s, limits.ts). */
  requestTimeoutMs?: number;
  /** The largest answer read (default 16 MiB, limits.ts). */
  maxAnswerBytes?: number;
}

/** Of a refused login or an error page, the first bytes are all a message shows. */
const SNIPPET_BYTES = 4096;

/** What each line's login and API look like on MWAA. */
export const WEB_LOGIN = {
  '2': { loginPath: '/aws_mwaa/login', cookie: 'session', apiPrefix: '/api/v1' },
  '3': { loginPath: '/pluginsv2/aws_mwaa/login', cookie: '_token', apiPrefix: '/api/v2' },
} as const satisfies Record<AirflowLine, { loginPath: string; cookie: string; apiPrefix: string }>;

function isWebLoginApi(value: WebLoginApi | Pick<MWAAClient, 'send'>): value is WebLoginApi {
  return typeof (value as WebLoginApi).createWebLoginToken === 'function';
}

/** `name=value` pairs of Set-Cookie headers. */
export function cookiesOf(response: Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    if (eq > 0) out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

export function createAirflowRest(
  mwaa: WebLoginApi | Pick<MWAAClient, 'send'>,
  environmentName: string,
  scheme: 'https' | 'http',
  line: AirflowLine,
  options: AirflowRestOptions = {},
): AirflowRest {
  const api = isWebLoginApi(mwaa) ? mwaa : webLoginApi(mwaa);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_LIMITS.requestTimeoutMs;
  const maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_LIMITS.maxAnswerBytes;
  const flow = WEB_LOGIN[line];
  const stats = { logins: 0, requests: 0 };
  let session: { hostname: string; credential: string } | undefined;
  let loggingIn: Promise<{ hostname: string; credential: string }> | undefined;

  async function login(): Promise<{ hostname: string; credential: string }> {
    const { token, hostname } = await api.createWebLoginToken(environmentName);
    stats.logins += 1;
    let url = `${scheme}://${hostname}${flow.loginPath}`;
    let answer = await webFetch(
      doFetch,
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        redirect: 'manual',
      },
      timeoutMs,
    );
    let response = answer.response;
    const cookies = cookiesOf(response);
    for (let hop = 0; hop < 3 && !cookies.has(flow.cookie) && response.status >= 300 && response.status < 400; hop += 1) {
      const location = response.headers.get('location');
      if (!location) break;
      await response.body?.cancel();
      url = new URL(location, url).toString();
      answer = await webFetch(doFetch, url, { redirect: 'manual' }, timeoutMs);
      response = answer.response;
      for (const [k, v] of cookiesOf(response)) cookies.set(k, v);
    }
    // Only a snippet is ever shown: the rest of the page is not read.
    const text = await readTextHead(answer, SNIPPET_BYTES).catch(() => '');
    const value = cookies.get(flow.cookie);
    if (response.status === 401 || response.status === 403) {
      throw new WebLoginDeniedError(`${flow.loginPath} answered HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    if (!value) {
      throw new UserError(
        `Airflow web server at ${answer.endpoint}: the web login (POST ${flow.loginPath}) answered HTTP ${response.status} ` +
          `without a \`${flow.cookie}\` cookie. Is the environment on Airflow ${line}.x?`,
      );
    }
    session = { hostname, credential: value };
    return session;
  }

  async function current(fresh: boolean): Promise<{ hostname: string; credential: string }> {
    if (session && !fresh) return session;
    // Concurrent callers share one login.
    loggingIn ??= login().finally(() => {
      loggingIn = undefined;
    });
    return loggingIn;
  }

  async function send(method: string, path: string, request: RestRequest, fresh: boolean): Promise<WebAnswer> {
    const { hostname, credential } = await current(fresh);
    const url = new URL(`${scheme}://${hostname}${flow.apiPrefix}${path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { Accept: request.accept ?? 'application/json' };
    if (line === '2') headers.Cookie = `${flow.cookie}=${credential}`;
    else headers.Authorization = `Bearer ${credential}`;
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    stats.requests += 1;
    return webFetch(
      doFetch,
      url.toString(),
      { method, headers, body: request.body === undefined ? undefined : JSON.stringify(request.body), redirect: 'manual' },
      timeoutMs,
    );
  }

  return {
    line,
    stats,
    endpoint: () => {
      if (!session) return undefined;
      const url = new URL(`${scheme}://${session.hostname}`);
      return `${url.hostname}:${url.port || (scheme === 'http' ? '80' : '443')}`;
    },
    async request(method, path, request = {}) {
      let answer = await send(method, path, request, false);
      if (answer.response.status === 401 || answer.response.status === 403) {
        // An expired session: log in once more. A second refusal is a real permission problem.
        await answer.response.body?.cancel();
        answer = await send(method, path, request, true);
      }
      const { response } = answer;
      const contentType = response.headers.get('content-type') ?? '';
      const out: RestResponse = { status: response.status, text: '', contentType };
      if (request.tailBytes !== undefined && response.ok) {
        const { text, skipped } = await readTextTail(answer, request.tailBytes);
        out.text = text;
        out.skippedBytes = skipped;
        return out;
      }
      // An error's page is shown as a snippet only; a 2xx answer is read whole, up to the cap.
      out.text = response.ok ? await readText(answer, maxAnswerBytes) : await readTextHead(answer, SNIPPET_BYTES);
      if (contentType.includes('json')) {
        try {
          out.json = JSON.parse(out.text);
        } catch {
          // leave json unset
        }
      }
      return out;
    },
  };
}
