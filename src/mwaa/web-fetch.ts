/**
 * One bounded request to the MWAA web server (the CLI endpoint, the web login, Airflow's REST API):
 * a deadline that covers the answer's body (the signal of the fetch also aborts reading its body),
 * and a cap on what is read. Node's fetch gives up connecting after 10 s (limits.ts). Failures of
 * ours (the deadline, the cap) and an answer that breaks off say so, naming the web server; a
 * request that gets no answer at all (refused, reset before the headers) is left as fetch reports it.
 */
import { UserError } from '../errors.js';
import { byteSize, readStreamBounded, readStreamHead, readStreamTail, StreamTooLargeError } from '../util/bounded-read.js';
import { LIMIT_VARIABLES, shownSeconds } from './limits.js';

export const WEB_SERVER = 'Airflow web server';

/** A request to the web server did not finish within its deadline, answered more than its cap, or broke off. */
export class WebServerError extends UserError {
  constructor(
    readonly endpoint: string,
    readonly request: string,
    readonly problem: 'timeout' | 'too-large' | 'broken',
    readonly detail: string,
    /** False when not even the status line came (as from a private address outside its VPC). */
    readonly answered = true,
  ) {
    super(`${WEB_SERVER} at ${endpoint}: ${detail} (${request})`);
    this.name = 'WebServerError';
  }
}

/** A fetch in flight: the answer, and what its deadline and cap are. */
export interface WebAnswer {
  response: Response;
  /** `host:port` of the request's URL. */
  endpoint: string;
  /** `POST /aws_mwaa/cli`, `GET /api/v1/variables`. */
  request: string;
  signal: AbortSignal;
  timeoutMs: number;
}

function hostPort(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'http:' ? '80' : '443')}`;
}

/** Whether a failure is the deadline's doing (AbortSignal.timeout's reason is a TimeoutError). */
function isDeadline(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
}

function deadlineError(answer: Pick<WebAnswer, 'endpoint' | 'request' | 'timeoutMs'>, answered: boolean): WebServerError {
  return new WebServerError(
    answer.endpoint,
    answer.request,
    'timeout',
    `${answered ? 'did not finish its answer' : 'did not answer'} within ${shownSeconds(answer.timeoutMs)} ` +
      `(the deadline of each request; ${LIMIT_VARIABLES.request} changes it)`,
    answered,
  );
}

/** fetch(url, init) with a deadline of `timeoutMs` for the answer and its body. */
export async function webFetch(doFetch: typeof fetch, url: string, init: RequestInit, timeoutMs: number): Promise<WebAnswer> {
  const parsed = new URL(url);
  const signal = AbortSignal.timeout(timeoutMs);
  const answer = {
    endpoint: hostPort(parsed),
    request: `${(init.method ?? 'GET').toUpperCase()} ${parsed.pathname}`,
    signal,
    timeoutMs,
  };
  try {
    return { ...answer, response: await doFetch(url, { ...init, signal }) };
  } catch (error) {
    if (isDeadline(signal)) throw deadlineError(answer, false);
    throw error;
  }
}

/** What broke a body off (`ECONNRESET: other side closed`), from fetch's error and its causes. */
function brokenBy(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth += 1) {
    if (e.code) parts.push(e.code);
    if (e.message && e.message !== 'terminated') parts.push(e.message);
    e = e.cause as typeof e;
  }
  return [...new Set(parts)].join(': ') || String(error);
}

async function reading<T>(answer: WebAnswer, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (isDeadline(answer.signal)) throw deadlineError(answer, true);
    if (error instanceof UserError) throw error;
    // The answer began and then broke off (a reset, a closed connection): say where.
    throw new WebServerError(answer.endpoint, answer.request, 'broken', `the answer broke off (${brokenBy(error)})`);
  }
}

/** The whole body as text, refusing one over `maxBytes` (by its Content-Length, or once that much came). */
export async function readText(answer: WebAnswer, maxBytes: number): Promise<string> {
  const { response } = answer;
  const tooLarge = () =>
    new WebServerError(
      answer.endpoint,
      answer.request,
      'too-large',
      `the answer is larger than ${byteSize(maxBytes)}, the most the toolkit reads from one request`,
    );
  if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return '';
  const body = response.body;
  return reading(answer, async () => {
    try {
      return (await readStreamBounded(body, maxBytes)).toString('utf8');
    } catch (error) {
      if (error instanceof StreamTooLargeError) throw tooLarge();
      throw error;
    }
  });
}

/** The last `keepBytes` of the body as text, and how many bytes came before them. */
export async function readTextTail(answer: WebAnswer, keepBytes: number): Promise<{ text: string; skipped: number }> {
  const body = answer.response.body;
  if (!body) return { text: '', skipped: 0 };
  const { tail, skipped } = await reading(answer, () => readStreamTail(body, keepBytes));
  return { text: tail.toString('utf8'), skipped };
}

/** The first `maxBytes` of the body (a snippet of an error page or a login answer), the rest unread. */
export async function readTextHead(answer: WebAnswer, maxBytes: number): Promise<string> {
  const body = answer.response.body;
  if (!body) return '';
  return (await reading(answer, () => readStreamHead(body, maxBytes))).head.toString('utf8');
}
