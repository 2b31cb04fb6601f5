/**
 * InvokeRestApi (`POST /restapi/{Name}`, API reference "InvokeRestApi"; user guide "Using the
 * Apache Airflow REST API"): the request names an Airflow REST path without its `/api/vN` prefix;
 * the control plane adds the line's prefix (/api/v1 on Airflow 2, /api/v2 on 3) and calls the real
 * Airflow with the stack's own Airflow login (the credential a web login hands out), so every
 * answer is Airflow's. Airflow's 2xx comes back as `{RestApiStatusCode, RestApiResponse}`, its 4xx
 * as RestApiClientException and its 5xx as RestApiServerException, both carrying the status code
 * and Airflow's body.
 */
import { WEB_LOGIN } from '../../../src/mwaa/rest-client.js';
import type { AirflowLine } from '../../../src/mwaa/versions.js';
import { readText, webFetch, WebServerError } from '../../../src/mwaa/web-fetch.js';
import { checkLength, constraintError, type ConstraintProblem } from './aws-validation.js';
import { ServiceError } from './errors.js';

/** RestApiMethod's enum and RestApiPath's length in botocore's model (mwaa 2020-07-01). */
export const REST_API_METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
export type RestApiMethod = (typeof REST_API_METHODS)[number];
export const REST_API_PATH_LENGTH = { min: 1, max: 64 } as const;

/**
 * The user guide: "The default timeout duration for the InvokeRestApi operation is 10 seconds. If
 * the operation does not complete within this 10-second timeframe, it will be automatically
 * terminated, and an error will be raised", and "The response payload size cannot exceed 6 MB.
 * Your RestApi fails if this limit is exceeded." Neither page names the error. The stack answers
 * both with InternalServerException (HTTP 500, a fault: the call did not complete, which is
 * neither Airflow's answer nor the caller's mistake), the one server-side error InvokeRestApi's
 * model declares besides the two that carry Airflow's status.
 */
export const INVOKE_REST_API_LIMITS = { timeoutMs: 10_000, maxResponseBytes: 6 * 1024 * 1024 } as const;

export interface InvokeRestApiRequest {
  path: string;
  method: RestApiMethod;
  query: URLSearchParams;
  body?: unknown;
}

/** Checks InvokeRestApi's JSON body (Name comes from the URI); every problem in one ValidationException. */
export function validateInvokeRestApi(input: unknown): InvokeRestApiRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw constraintError([{ member: 'path', value: null, constraint: 'Member must not be null' }]);
  }
  const body = input as Record<string, unknown>;
  const problems: ConstraintProblem[] = [];
  checkLength(problems, 'path', body.Path, REST_API_PATH_LENGTH.min, REST_API_PATH_LENGTH.max);
  if (body.Method === undefined || body.Method === null) {
    problems.push({ member: 'method', value: null, constraint: 'Member must not be null' });
  } else if (!REST_API_METHODS.includes(body.Method as RestApiMethod)) {
    problems.push({
      member: 'method',
      value: body.Method,
      constraint: `Member must satisfy enum value set: [${REST_API_METHODS.join(', ')}]`,
    });
  }
  const query = new URLSearchParams();
  const params = body.QueryParameters;
  if (params !== undefined && params !== null) {
    if (typeof params !== 'object' || Array.isArray(params)) {
      problems.push({ member: 'queryParameters', value: params, constraint: 'Member must be a JSON object' });
    } else {
      for (const [key, value] of Object.entries(params)) {
        // A list is the same parameter repeated (?state=queued&state=running), as Airflow reads it.
        for (const item of Array.isArray(value) ? value : [value]) {
          if (item === null) continue;
          if (typeof item === 'object') {
            problems.push({
              member: `queryParameters.${key}`,
              value: item,
              constraint: 'Member must be a string, number, boolean or a list of them',
            });
          } else query.append(key, String(item));
        }
      }
    }
  }
  if (problems.length > 0) throw constraintError(problems);
  const out: InvokeRestApiRequest = { path: body.Path as string, method: body.Method as RestApiMethod, query };
  if (body.Body !== undefined && body.Body !== null) out.body = body.Body;
  return out;
}

/** The stack's Airflow credential, logged in once and again only when Airflow stops taking it. */
export class AirflowCredential {
  private credential: Promise<string> | undefined;

  constructor(private readonly login: () => Promise<string>) {}

  get(): Promise<string> {
    this.credential ??= this.login().catch((error: unknown) => {
      this.credential = undefined;
      throw error;
    });
    return this.credential;
  }

  /** Forgets `used`, unless another request already replaced it. */
  async expire(used: string): Promise<void> {
    const current = await this.credential?.catch(() => undefined);
    if (current === used) this.credential = undefined;
  }
}

export interface InvokeRestApiDeps {
  line: AirflowLine;
  /** `http://127.0.0.1:<port>` of the Airflow web server (2) or api-server (3). */
  airflowBaseUrl: string;
  credential: AirflowCredential;
  limits?: { timeoutMs: number; maxResponseBytes: number };
  fetch?: typeof fetch;
}

export interface InvokeRestApiAnswer {
  RestApiStatusCode: number;
  RestApiResponse: unknown;
}

/** How each line's REST API takes the web login's credential (MWAA's user guide, and MwaaHook). */
function credentialHeaders(line: AirflowLine, credential: string): Record<string, string> {
  return line === '2' ? { cookie: `${WEB_LOGIN['2'].cookie}=${credential}` } : { authorization: `Bearer ${credential}` };
}

/** Airflow's body as a JSON document: parsed JSON, else its text; an empty body is an empty object. */
function document(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export async function invokeRestApi(deps: InvokeRestApiDeps, request: InvokeRestApiRequest): Promise<InvokeRestApiAnswer> {
  const limits = deps.limits ?? INVOKE_REST_API_LIMITS;
  const prefix = WEB_LOGIN[deps.line].apiPrefix;
  const url = new URL(`${deps.airflowBaseUrl}${prefix}${request.path}`);
  // `..` segments or a `?`/`#` in Path must not lead the stack's credential outside the REST API.
  if (!url.pathname.startsWith(`${prefix}/`) || url.search !== '' || url.hash !== '') {
    throw constraintError([
      { member: 'path', value: request.path, constraint: `Member must be an Apache Airflow REST API path such as /dags` },
    ]);
  }
  url.search = request.query.toString();
  const hasBody = request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH';
  const started = Date.now();
  const remaining = (): number => Math.max(1, limits.timeoutMs - (Date.now() - started));
  let status = 0;
  let text = '';
  // One more attempt when Airflow no longer takes the credential (a JWT that expired on line 3).
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let credential: string;
    try {
      credential = await deps.credential.get();
    } catch (error) {
      throw new ServiceError('InternalServerException', `Could not log in to Apache Airflow: ${(error as Error).message}`);
    }
    try {
      const answer = await webFetch(
        deps.fetch ?? fetch,
        url.toString(),
        {
          method: request.method,
          headers: {
            accept: 'application/json',
            ...(hasBody ? { 'content-type': 'application/json' } : {}),
            ...credentialHeaders(deps.line, credential),
          },
          body: hasBody ? JSON.stringify(request.body ?? {}) : undefined,
          redirect: 'manual',
        },
        remaining(),
      );
      status = answer.response.status;
      text = await readText(answer, limits.maxResponseBytes);
    } catch (error) {
      if (error instanceof WebServerError && error.problem === 'timeout') {
        throw new ServiceError(
          'InternalServerException',
          `The Apache Airflow REST API call did not complete within ${limits.timeoutMs / 1000} seconds.`,
        );
      }
      if (error instanceof WebServerError && error.problem === 'too-large') {
        throw new ServiceError(
          'InternalServerException',
          `The Apache Airflow REST API response exceeds ${limits.maxResponseBytes / (1024 * 1024)} MB.`,
        );
      }
      throw new ServiceError('InternalServerException', `The Apache Airflow web server did not answer: ${(error as Error).message}`);
    }
    if (status !== 401 || attempt === 1) break;
    await deps.credential.expire(credential);
  }
  const members = { RestApiStatusCode: status, RestApiResponse: document(text) };
  if (status >= 500) throw new ServiceError('RestApiServerException', '', members);
  if (status >= 400) throw new ServiceError('RestApiClientException', '', members);
  return members;
}
