/**
 * One remote of the hostile world: an HTTP server on 127.0.0.1 that answers as a minimal
 * well-behaved service (services/*.ts) until told to misbehave. Every behaviour is produced on
 * the wire, as a real remote would: the client under test cannot tell the harness from a broken
 * server or network.
 *
 *   never-answer   accept the connection, read the request, never answer
 *   stall-body     send the status and headers, then nothing more
 *   drip           send the status and headers, then the body one byte a second, forever
 *   reset          send the headers and part of the body, then a TCP reset
 *   tls-stall      (an https:// endpoint) read the ClientHello, never answer it
 *   huge-body      a 2 GiB body, generated chunk by chunk as the client reads (backpressure):
 *                  the harness never holds it
 *   not-json       a 200 HTML page where JSON (or XML) is expected
 *   endless-pages  the well-behaved answers, except that paging ignores offsets and tokens
 *   html-404       an nginx-like HTML 404: an endpoint that is not AWS at all
 *   <AWS error>    the service's own error, in its protocol's wire format (aws-wire.ts)
 *
 * A hostility can be limited to some operations (`only`), so that a command gets past the
 * requests it needs and meets the behaviour where it matters (a task log, say).
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { AWS_ERROR_KINDS, type AwsErrorKind, sendAwsError, wireError } from './aws-wire.js';
import type { AwsService } from './botocore-models.js';

export const HTTP_BEHAVIOURS = [
  'never-answer',
  'stall-body',
  'drip',
  'reset',
  'tls-stall',
  'huge-body',
  'not-json',
  'endless-pages',
  'html-404',
] as const;
export type NetworkBehaviour = (typeof HTTP_BEHAVIOURS)[number];
export type HttpBehaviour = 'ok' | NetworkBehaviour | AwsErrorKind;

export function isAwsErrorKind(value: string): value is AwsErrorKind {
  return (AWS_ERROR_KINDS as readonly string[]).includes(value);
}

/** 2 GiB: past V8's largest string and Buffer.concat's comfort, so a client that buffers it dies. */
export const HUGE_BODY_BYTES = 2 * 1024 ** 3;

export interface RequestInfo {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Reply {
  status: number;
  headers?: Record<string, string | string[] | number>;
  body?: string | Buffer | Readable;
}

/** A well-behaved remote: what it answers, and how its answers look. */
export interface Service {
  /** As the user would name it: `S3`, `MWAA`, `Airflow web server`, ... */
  readonly display: string;
  /** The AWS service whose wire format errors take; absent for the web server. */
  readonly aws?: AwsService;
  /** The operation a request is (`GetEnvironment`, `GET /api/v1/variables`, ...). */
  operation(request: RequestInfo): string;
  handle(request: RequestInfo, context: { endlessPages: boolean }): Reply | Promise<Reply>;
  /** Content type and opening of its bodies (for huge-body, drip, stall-body). */
  readonly contentType: string;
  readonly bodyPrefix: string;
}

export interface Hostility {
  behaviour: HttpBehaviour;
  /** Only these operations misbehave (default: all). */
  only?: readonly string[];
}

export interface ServerStats {
  requests: number;
  /** Requests being answered now, and the most at once. */
  inFlight: number;
  maxInFlight: number;
  /** Requests by operation. */
  operations: Record<string, number>;
  /** Bytes of huge bodies the clients actually read (what backpressure let through). */
  hugeBytesSent: number;
  connections: number;
}

const NGINX_404 =
  '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n' +
  '<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1>' +
  '<form method="post" action="/login"><input name="user"></form></body></html>\n';

/**
 * A body of `total` bytes produced on demand, one reused chunk at a time: `prefix`, then `fill`
 * repeated (a 64 KiB chunk of it), then `suffix`.
 */
export function generatedBody(
  total: number,
  prefix: string,
  onSent: (bytes: number) => void = () => undefined,
  options: { fill?: string; suffix?: string } = {},
): Readable {
  const fill = Buffer.from(options.fill ?? 'A');
  // Whole repetitions of `fill` per chunk, so that a line of fill is never cut between chunks.
  const filler = Buffer.alloc(Math.max(1, Math.floor((64 * 1024) / fill.length)) * fill.length, fill);
  const suffix = Buffer.from(options.suffix ?? '');
  let suffixSent = suffix.length === 0;
  let sent = 0;
  let first = true;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      for (;;) {
        if (first) {
          first = false;
          const head = Buffer.from(prefix);
          sent += head.length;
          onSent(head.length);
          if (!this.push(head)) return;
          continue;
        }
        const n = Math.min(filler.length, total - suffix.length - sent);
        if (n <= 0) {
          if (!suffixSent) {
            suffixSent = true;
            sent += suffix.length;
            onSent(suffix.length);
            if (!this.push(suffix)) return;
            continue;
          }
          this.push(null);
          return;
        }
        sent += n;
        onSent(n);
        if (!this.push(n === filler.length ? filler : filler.subarray(0, n))) return;
      }
    },
  });
}

export class HostileHttpServer {
  readonly stats: ServerStats = { requests: 0, inFlight: 0, maxInFlight: 0, operations: {}, hugeBytesSent: 0, connections: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly http = createHttpServer((req, res) => void this.onRequest(req, res));
  private readonly net = createNetServer((socket) => this.onConnection(socket));
  private port = 0;

  constructor(
    readonly service: Service,
    private hostility: Hostility = { behaviour: 'ok' },
    /** The size of a huge body (default 2 GiB; unit tests take less). */
    private readonly hugeBytes = HUGE_BODY_BYTES,
  ) {
    // A stalled client must not be cut off by the server's own timers: only the client's bounds count.
    this.http.requestTimeout = 0;
    this.http.headersTimeout = 0;
    this.http.keepAliveTimeout = 5_000;
    this.http.timeout = 0;
  }

  set(hostility: Hostility): void {
    this.hostility = hostility;
  }

  get behaviour(): HttpBehaviour {
    return this.hostility.behaviour;
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.net.address() as AddressInfo).port;
    return this.port;
  }

  /** `host:port`, as MWAA's WebServerHostname gives it. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The endpoint to configure: https:// when the behaviour is a TLS handshake that never ends. */
  get url(): string {
    return `${this.hostility.behaviour === 'tls-stall' ? 'https' : 'http'}://${this.hostPort}`;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.http.close();
  }

  private onConnection(socket: Socket): void {
    this.stats.connections += 1;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const { behaviour, only } = this.hostility;
    if (behaviour === 'tls-stall' || (behaviour === 'never-answer' && !only)) {
      // Read whatever comes (a request, a ClientHello) and never write a byte.
      socket.on('data', () => undefined);
      return;
    }
    this.http.emit('connection', socket);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://harness');
    const request: RequestInfo = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    const operation = this.service.operation(request);
    this.stats.requests += 1;
    this.stats.operations[operation] = (this.stats.operations[operation] ?? 0) + 1;
    const { behaviour, only } = this.hostility;
    const hostile = behaviour !== 'ok' && (!only || only.includes(operation));
    this.stats.inFlight += 1;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
    res.on('close', () => {
      this.stats.inFlight -= 1;
    });
    try {
      if (hostile) await this.misbehave(behaviour, request, req, res);
      else await this.answer(await this.service.handle(request, { endlessPages: false }), res);
    } catch (error) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`harness error: ${(error as Error).message}`);
      } else {
        res.destroy();
      }
    }
  }

  private async answer(reply: Reply, res: ServerResponse): Promise<void> {
    const headers = { ...(reply.headers ?? {}) };
    const body = reply.body ?? '';
    if (body instanceof Readable) {
      res.writeHead(reply.status, headers);
      body.pipe(res);
      return;
    }
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = Buffer.byteLength(body);
    res.writeHead(reply.status, headers);
    res.end(body);
  }

  private interval(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setInterval(fn, ms);
    this.timers.add(timer);
    return timer;
  }

  private async misbehave(behaviour: HttpBehaviour, request: RequestInfo, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { service } = this;
    const head = request.method === 'HEAD';
    switch (behaviour) {
      case 'never-answer':
      case 'tls-stall':
        return;
      case 'stall-body':
        res.writeHead(200, { 'content-type': service.contentType, 'content-length': 1024 * 1024 });
        res.flushHeaders();
        if (!head) res.write(service.bodyPrefix);
        return;
      case 'drip': {
        res.writeHead(200, { 'content-type': service.contentType, 'content-length': 1024 * 1024 });
        res.flushHeaders();
        const bytes = Buffer.from(`${service.bodyPrefix}${' '.repeat(1024)}`);
        let at = 0;
        const timer = this.interval(() => {
          if (res.destroyed) {
            clearInterval(timer);
            this.timers.delete(timer);
            return;
          }
          res.write(bytes.subarray(at % bytes.length, (at % bytes.length) + 1));
          at += 1;
        }, 1000);
        res.on('close', () => {
          clearInterval(timer);
          this.timers.delete(timer);
        });
        return;
      }
      case 'reset': {
        res.writeHead(200, { 'content-type': service.contentType, 'content-length': 64 * 1024 });
        res.write(`${service.bodyPrefix}${'A'.repeat(1024)}`);
        // Let the headers and the first bytes leave, then reset (RST, not FIN).
        setTimeout(() => req.socket.resetAndDestroy(), 50);
        return;
      }
      case 'huge-body':
        if (head) {
          res.writeHead(200, { 'content-type': service.contentType, 'content-length': this.hugeBytes });
          res.end();
          return;
        }
        // Chunked, with no length announced: the client must count what it reads.
        res.writeHead(200, { 'content-type': service.contentType });
        generatedBody(this.hugeBytes, service.bodyPrefix, (n) => {
          this.stats.hugeBytesSent += n;
        }).pipe(res);
        return;
      case 'not-json':
        return this.answer({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: head ? '' : HTML_PAGE }, res);
      case 'html-404':
        return this.answer(
          { status: 404, headers: { 'content-type': 'text/html', server: 'nginx/1.24.0' }, body: head ? '' : NGINX_404 },
          res,
        );
      case 'endless-pages':
        return this.answer(await service.handle(request, { endlessPages: true }), res);
      default: {
        if (!isAwsErrorKind(behaviour)) throw new Error(`unknown behaviour ${behaviour}`);
        if (!service.aws) throw new Error(`${service.display} is not an AWS service: no ${behaviour}`);
        sendAwsError(res, service.aws, wireError(service.aws, behaviour), head);
      }
    }
  }
}
