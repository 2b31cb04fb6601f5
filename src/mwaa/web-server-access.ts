/**
 * A web server this machine cannot reach, and why that may be by design: an environment whose
 * `WebserverAccessMode` is PRIVATE_ONLY serves its web server (the CLI endpoint, the web login,
 * Airflow's REST API) only inside its VPC. From anywhere else its private addresses do not answer
 * at all, while the MWAA API (GetEnvironment, the tokens), S3 and Secrets Manager do. The deploy's
 * trigger and check's Variables comparison say so, with what to do instead, rather than a bare
 * timeout.
 */
import { UserError } from '../errors.js';
import { CONNECT_TIMEOUT_CODES, NO_ANSWER_CODES } from './aws-errors.js';
import { remoteCallOf } from './remote-call.js';
import { WebServerError } from './web-fetch.js';

export const PRIVATE_ONLY = 'PRIVATE_ONLY';

/** A web server request that got no answer at all. */
export interface UnreachableWebServer {
  /** `host:port` of the web server. */
  endpoint: string;
  /** `POST /aws_mwaa/login`, or the call that made it. */
  request: string;
  /** `TimeoutError` (our deadline) or the network's code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, ...). */
  code: string;
  kind: 'timeout' | 'unreachable';
  /** What happened, in a message's words. */
  detail: string;
}

/** The failure of a web server request that got no answer at all; undefined for anything else (an answer, an AWS error). */
export function unreachableWebServer(error: unknown): UnreachableWebServer | undefined {
  if (error instanceof WebServerError) {
    if (error.problem !== 'timeout' || error.answered) return undefined;
    return { endpoint: error.endpoint, request: error.request, code: 'TimeoutError', kind: 'timeout', detail: error.detail };
  }
  const call = remoteCallOf(error);
  if (call?.service !== 'Airflow web server' || call.endpoint === undefined || error instanceof UserError) return undefined;
  const e = error as { code?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code = [e.code, e.cause?.code].find((c): c is string => typeof c === 'string' && NO_ANSWER_CODES.has(c));
  if (code === undefined) return undefined;
  const message = typeof e.cause?.message === 'string' ? e.cause.message : code;
  return {
    endpoint: call.endpoint,
    request: call.operation,
    code,
    kind: CONNECT_TIMEOUT_CODES.has(code) ? 'timeout' : 'unreachable',
    detail: message.includes(code) ? message : `${code}: ${message}`,
  };
}

/** The sentence that names the access mode, for messages about a web server that did not answer. */
export const PRIVATE_ONLY_REASON =
  "The environment's WebserverAccessMode is PRIVATE_ONLY: its web server answers only inside the environment's VPC.";
