/**
 * A deadline and a size cap for each attempt of each AWS SDK request, the answer's body included.
 * The SDK's Node handler (@smithy/node-http-handler) bounds the TCP connect and, with its socket
 * timeout, the silences; it has no bound for a remote that keeps the connection busy without
 * finishing (a TLS handshake that never completes after the TCP connect, a body dripped a byte a
 * second, whitespace forever), and its deserializers collect a whole answer in memory before
 * parsing it (a 2 GiB answer to GetBucketVersioning is 2 GiB of RSS). This wraps a client's handler:
 *   - each attempt gets its own timer, started when the request goes out and stopped when the
 *     answer's body has been read; when it fires, the attempt fails with a TimeoutError, which the
 *     SDK's retry strategy counts as transient (retried, within the client's max attempts);
 *   - an answer longer than its cap fails with AnswerTooLargeError (not retried) when its
 *     Content-Length says so, or as soon as that many bytes have come.
 */
import { type Readable, Transform } from 'node:stream';
import { UserError } from '../errors.js';
import { byteSize } from '../util/bounded-read.js';
import { LIMIT_VARIABLES, shownSeconds } from './limits.js';

interface HttpRequestLike {
  protocol?: string;
  hostname?: string;
  port?: number;
  method?: string;
  query?: Record<string, unknown>;
}

interface AbortSignalLike {
  aborted: boolean;
  reason?: unknown;
  addEventListener?: (type: 'abort', listener: () => void, options?: { once?: boolean }) => void;
  onabort?: unknown;
}

interface HandlerOptions {
  abortSignal?: AbortSignalLike;
  [key: string]: unknown;
}

/** What every @smithy/node-http-handler version offers (the SDK calls only these). */
export interface RequestHandlerLike {
  handle(request: HttpRequestLike, options?: HandlerOptions): Promise<{ response: { body?: unknown } }>;
  destroy?(): void;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): unknown;
  metadata?: unknown;
}

/** Which bound ended an attempt: the whole attempt's deadline, a silence, or the TCP connect. */
export type TimeoutKind = 'deadline' | 'silence' | 'connect';

/**
 * One attempt did not finish in time. Named TimeoutError with code ETIMEDOUT, as the SDK's own
 * timeouts are, so that its retry strategy retries it as transient; a UserError, so that once the
 * attempts are spent its message (which names the service, the endpoint and the bound, and counts
 * the attempts the SDK made) is what the user reads. The SDK handler's own connect and silence
 * timeouts are reported as this too, so that every timeout reads alike.
 */
export class RequestDeadlineError extends UserError {
  readonly code = 'ETIMEDOUT';
  /** The SDK's retry middleware records the attempts here. */
  readonly $metadata: { attempts?: number } = {};

  constructor(
    readonly service: string,
    readonly endpoint: string,
    readonly boundMs: number,
    readonly answered: boolean,
    readonly kind: TimeoutKind = 'deadline',
  ) {
    super('');
    this.name = 'TimeoutError';
    Object.defineProperty(this, 'message', { configurable: true, enumerable: false, get: () => this.describe() });
  }

  private describe(): string {
    return `${this.service} at ${this.endpoint} ${this.reason}. Check the endpoint and the network.`;
  }

  /** What the endpoint did, with the bound and the attempts (the message without who and what to do). */
  get reason(): string {
    const attempts = this.$metadata.attempts ?? 1;
    const tries = attempts > 1 ? `, ${attempts} attempts` : '';
    const within = shownSeconds(this.boundMs);
    const what =
      this.kind === 'connect'
        ? `accepted no connection within ${within}${tries} (${LIMIT_VARIABLES.connect} changes it)`
        : this.kind === 'silence'
          ? `went silent for ${within}${tries} (${LIMIT_VARIABLES.request} changes it)`
          : `${this.answered ? 'did not finish its answer' : 'did not answer'} within ${within}${tries} ` +
            `(the deadline of each attempt; ${LIMIT_VARIABLES.request} changes it)`;
    return what;
  }
}

/** An answer larger than the most the toolkit reads from that call (not retried). */
export class AnswerTooLargeError extends UserError {
  readonly $metadata: Record<string, unknown> = {};

  constructor(
    readonly service: string,
    readonly endpoint: string,
    readonly maxBytes: number,
  ) {
    super(
      `${service} at ${endpoint} sent an answer larger than ${byteSize(maxBytes)}, the most the toolkit reads from one call. ` +
        'Is the endpoint the service it should be (aws.endpoints, AWS_ENDPOINT_URL*)?',
    );
    this.name = 'AnswerTooLargeError';
  }
}

/** The body, passed through a counter that fails it once more than `maxBytes` came; its errors as `translate` says. */
function capped(body: Readable, maxBytes: number, tooLarge: () => Error, translate: (error: unknown) => unknown): Readable {
  let seen = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        callback(tooLarge());
        body.destroy();
        return;
      }
      callback(null, chunk);
    },
  });
  body.on('error', (error) => out.destroy(translate(error) as Error));
  out.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  return body.pipe(out);
}

function hostPort(request: HttpRequestLike): string {
  const scheme = (request.protocol ?? 'https:').replace(/:$/, '');
  const port = request.port ?? (scheme === 'http' ? 80 : 443);
  return `${request.hostname ?? '?'}:${port}`;
}

function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).once === 'function';
}

export interface RequestBounds {
  /** Milliseconds from the start of an attempt to the end of its answer's body. */
  deadlineFor(request: HttpRequestLike): number;
  /** The handler's own timeouts, for the messages of the TimeoutErrors it raises. */
  connectTimeoutMs: number;
  silenceTimeoutMs: number;
  /** The largest answer body to read; undefined leaves the body to the caller (an S3 object read). */
  maxAnswerBytesFor(request: HttpRequestLike): number | undefined;
}

/** The handler's own TimeoutError (connect or silence) as a RequestDeadlineError; anything else as it is. */
function ours(error: unknown, service: string, endpoint: string, bounds: RequestBounds, answered: boolean): unknown {
  const e = error as { name?: string; message?: string } | undefined;
  if (error instanceof UserError || e?.name !== 'TimeoutError') return error;
  // Both handler versions say "establish" (a connection) for the connect timeout only.
  const connect = /establish/i.test(e.message ?? '') && !answered;
  return new RequestDeadlineError(
    service,
    endpoint,
    connect ? bounds.connectTimeoutMs : bounds.silenceTimeoutMs,
    answered,
    connect ? 'connect' : 'silence',
  );
}

/** `inner` with a deadline and a size cap on each attempt. */
export function withRequestBounds(inner: RequestHandlerLike, service: string, bounds: RequestBounds): RequestHandlerLike {
  return {
    metadata: inner.metadata,
    destroy: () => inner.destroy?.(),
    updateHttpClientConfig: (key, value) => inner.updateHttpClientConfig?.(key, value),
    httpHandlerConfigs: () => inner.httpHandlerConfigs?.() ?? {},
    handle(request, options = {}) {
      const deadlineMs = bounds.deadlineFor(request);
      const maxBytes = bounds.maxAnswerBytesFor(request);
      const controller = new AbortController();
      const outer = options.abortSignal;
      if (outer?.aborted) controller.abort(outer.reason);
      else outer?.addEventListener?.('abort', () => controller.abort(outer.reason), { once: true });
      return new Promise((resolve, reject) => {
        let body: Readable | undefined;
        let settled = false;
        const timer = setTimeout(() => {
          const error = new RequestDeadlineError(service, hostPort(request), deadlineMs, body !== undefined);
          if (!settled) {
            settled = true;
            reject(error);
            controller.abort(error);
          } else if (body && !body.readableEnded && !(body as { complete?: boolean }).complete) {
            // Whoever reads the body (the SDK's deserializer, our bounded S3 reads) gets the error.
            body.destroy(error);
          }
        }, deadlineMs);
        // The timer alone never keeps the process alive: a stalled socket does, until it fires.
        timer.unref();
        inner.handle(request, { ...options, abortSignal: controller.signal }).then(
          (result) => {
            if (settled) return;
            settled = true;
            const response = result.response as { body?: unknown; headers?: Record<string, string> };
            const answer = response.body;
            // A HEAD answer has no body to wait for.
            if (!isStream(answer) || request.method === 'HEAD') {
              clearTimeout(timer);
              resolve(result);
              return;
            }
            const tooLarge = () => new AnswerTooLargeError(service, hostPort(request), maxBytes ?? 0);
            const length = Number(response.headers?.['content-length'] ?? Number.NaN);
            if (maxBytes !== undefined && request.method !== 'HEAD' && length > maxBytes) {
              clearTimeout(timer);
              answer.destroy();
              reject(tooLarge());
              return;
            }
            body =
              maxBytes === undefined
                ? answer
                : capped(answer, maxBytes, tooLarge, (e) => ours(e, service, hostPort(request), bounds, true));
            response.body = body;
            const done = () => clearTimeout(timer);
            body.once('end', done);
            body.once('close', done);
            body.once('error', done);
            resolve(result);
          },
          (error: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(ours(error, service, hostPort(request), bounds, false));
          },
        );
      });
    },
  };
}
