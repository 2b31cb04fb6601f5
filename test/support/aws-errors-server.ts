/**
 * An HTTP server on 127.0.0.1 that stands in for the AWS services the product calls and answers
 * each request as a test says: an AWS error in the service's own wire format (S3: REST-XML
 * `<Error><Code>`; MWAA: REST-JSON with `x-amzn-errortype`; Secrets Manager: JSON 1.1 `__type`;
 * CloudWatch: JSON 1.0 with the query-compatible `x-amzn-query-error`, or query XML), a success
 * body, an answer that is not AWS at all, a reset or a stall. Requests are recognised by
 * service and operation from botocore's models (test/fixtures/aws-error-models.json), so one
 * server can take every service at once (AWS_ENDPOINT_URL). Shared with the hostile-network tests.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readAwsErrorModels, type AwsErrorModels, type ModelService, type ServiceName } from './aws-models.js';

export interface AwsCall {
  service: ServiceName;
  operation: string;
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingMessage['headers'];
  /** The request body as text (bounded: the first MiB). */
  body: string;
}

export type AwsAnswer =
  /** An AWS error: `code` on the wire, with `message`; `requestId: false` leaves AWS's request id out. */
  | { error: { code: string; status: number; message?: string; fault?: 'client' | 'server'; requestId?: boolean; shape?: string } }
  /** A success: a JSON body (JSON and REST-JSON services) or an XML body (S3), status 200 unless given. */
  | { json: unknown; status?: number }
  | { xml: string; status?: number; headers?: Record<string, string> }
  /** Anything at all: for answers that are not AWS (an HTML 404 page). */
  | { raw: { status: number; headers?: Record<string, string>; body?: string } }
  /** Accept and close the connection without an answer. */
  | { reset: true }
  /** Accept and never answer (until the server closes). */
  | { stall: true };

export interface AwsErrorServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Every request, recognised, in arrival order. */
  calls: AwsCall[];
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** How a request names its operation: `X-Amz-Target` (JSON), `Action=` (query), or method and path (REST). */
export function identify(
  models: AwsErrorModels,
  request: { method: string; url: string; headers: IncomingMessage['headers']; body: string },
): { service: ServiceName; operation: string } | undefined {
  const target = header(request.headers, 'x-amz-target');
  const entries = Object.entries(models.services) as Array<[ServiceName, ModelService]>;
  if (target) {
    const [prefix, operation] = target.split('.');
    const found = entries.find(([, s]) => s.targetPrefix === prefix);
    return found && operation && found[1].operations[operation] ? { service: found[0], operation } : undefined;
  }
  if ((header(request.headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(request.body).get('Action');
    const found = entries.find(([, s]) => s.protocols.includes('query') && action && s.operations[action]);
    if (found && action) return { service: found[0], operation: action };
  }
  const url = new URL(request.url, 'http://x');
  const candidates: Array<{ service: ServiceName; operation: string; score: number }> = [];
  for (const [service, model] of entries) {
    if (!model.protocols.some((p) => p.startsWith('rest-'))) continue;
    for (const [operation, op] of Object.entries(model.operations)) {
      if (op.method !== request.method) continue;
      const [pathTemplate = '/', queryTemplate] = op.requestUri.split('?');
      const pattern = pathTemplate
        .split(/(\{[^}]+\})/)
        .map((part) => (part.endsWith('+}') ? '(.+)' : part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
        .join('');
      if (!new RegExp(`^${pattern}/?$`).test(url.pathname)) continue;
      const query = new URLSearchParams(queryTemplate ?? '');
      if ([...query].some(([key, value]) => !url.searchParams.has(key) || (value !== '' && url.searchParams.get(key) !== value))) continue;
      if (op.requiredHeaders.some((name) => header(request.headers, name) === undefined)) continue;
      // The most specific binding wins: literal path text, then query keys, then required headers.
      const literal = pathTemplate.replace(/\{[^}]+\}/g, '').length;
      candidates.push({ service, operation, score: literal * 100 + [...query].length * 10 + op.requiredHeaders.length });
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  return candidates[0];
}

function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** The protocol a request was made in (CloudWatch's client may speak JSON 1.0, query or CBOR). */
function protocolOf(model: ModelService, headers: IncomingMessage['headers']): string {
  if (header(headers, 'smithy-protocol') === 'rpc-v2-cbor') return 'smithy-rpc-v2-cbor';
  const type = header(headers, 'content-type') ?? '';
  if (type.startsWith('application/x-amz-json')) return 'json';
  if (type.startsWith('application/x-www-form-urlencoded') && model.protocols.includes('query')) return 'query';
  return model.protocols.find((p) => p.startsWith('rest-')) ?? model.protocols[0]!;
}

/** An AWS error for `call`, encoded as the service answers it in the protocol the request used. */
export function encodeError(
  models: AwsErrorModels,
  call: Pick<AwsCall, 'service' | 'operation' | 'method' | 'headers'>,
  error: Extract<AwsAnswer, { error: unknown }>['error'],
): { status: number; headers: Record<string, string>; body: string } {
  const model = models.services[call.service];
  const declared = model.operations[call.operation]?.errors.find((e) => e.code === error.code || e.shape === error.shape);
  const fault = error.fault ?? declared?.fault ?? (error.status >= 500 ? 'server' : 'client');
  const requestId = randomUUID();
  const ids: Record<string, string> = error.requestId === false ? {} : { 'x-amzn-requestid': requestId };
  const message = error.message ?? '';
  const protocol = protocolOf(model, call.headers);
  switch (protocol) {
    case 'rest-xml': {
      const s3Ids: Record<string, string> =
        error.requestId === false ? {} : { 'x-amz-request-id': requestId, 'x-amz-id-2': Buffer.from(requestId).toString('base64') };
      // A HEAD answer has no body: the SDK knows the error from the status alone.
      const body =
        call.method === 'HEAD'
          ? ''
          : '<?xml version="1.0" encoding="UTF-8"?>\n' +
            `<Error><Code>${xmlEscape(error.code)}</Code><Message>${xmlEscape(message)}</Message>` +
            `${error.requestId === false ? '' : `<RequestId>${requestId}</RequestId>`}</Error>`;
      return { status: error.status, headers: { 'content-type': 'application/xml', ...s3Ids }, body };
    }
    case 'rest-json': {
      const member = declared?.messageMember ?? 'message';
      return {
        status: error.status,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': `${error.code}:http://internal.amazon.com/coral/com.amazonaws.${model.model}/`,
          ...ids,
        },
        body: JSON.stringify({ [member]: message }),
      };
    }
    case 'json': {
      const member = declared?.messageMember ?? 'message';
      const type = model.awsQueryCompatible
        ? `com.amazonaws.${model.model}#${declared?.shape ?? error.shape ?? error.code}`
        : (declared?.shape ?? error.shape ?? error.code);
      const headers: Record<string, string> = { 'content-type': `application/x-amz-json-${model.jsonVersion ?? '1.0'}`, ...ids };
      if (model.awsQueryCompatible) headers['x-amzn-query-error'] = `${error.code};${fault === 'server' ? 'Receiver' : 'Sender'}`;
      return { status: error.status, headers, body: JSON.stringify({ __type: type, [member]: message }) };
    }
    case 'query':
      return {
        status: error.status,
        headers: { 'content-type': 'text/xml', ...ids },
        body:
          `<ErrorResponse><Error><Type>${fault === 'server' ? 'Receiver' : 'Sender'}</Type><Code>${xmlEscape(error.code)}</Code>` +
          `<Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    default:
      throw new Error(`The AWS error server cannot answer ${call.service} in ${protocol}`);
  }
}

/** A success answer with the headers AWS sends (its request id), in the service's JSON content type. */
function encodeJson(models: AwsErrorModels, call: AwsCall, json: unknown, status = 200) {
  const model = models.services[call.service];
  const type = protocolOf(model, call.headers) === 'json' ? `application/x-amz-json-${model.jsonVersion ?? '1.0'}` : 'application/json';
  return { status, headers: { 'content-type': type, 'x-amzn-requestid': randomUUID() }, body: JSON.stringify(json) };
}

/**
 * Starts the server; `answer` decides each recognised request's answer (a request no model
 * recognises gets a plain 404 naming it, which the product must call "not an AWS API").
 */
export async function startAwsErrorServer(
  answer: (call: AwsCall) => AwsAnswer | Promise<AwsAnswer>,
  models: AwsErrorModels = readAwsErrorModels(),
): Promise<AwsErrorServer> {
  const calls: AwsCall[] = [];
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    const id = identify(models, request);
    if (!id) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no AWS operation for ${request.method} ${request.url}\n`);
      return;
    }
    const call: AwsCall = { ...id, ...request };
    calls.push(call);
    const out = await answer(call);
    if ('stall' in out) return;
    if ('reset' in out) {
      req.socket.destroy();
      return;
    }
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    if ('error' in out) ({ status, headers, body: text } = encodeError(models, call, out.error));
    else if ('json' in out) ({ status, headers, body: text } = encodeJson(models, call, out.json, out.status));
    else if ('xml' in out) {
      status = out.status ?? 200;
      headers = { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID(), ...(out.headers ?? {}) };
      text = out.xml;
    } else {
      status = out.raw.status;
      headers = out.raw.headers ?? {};
      text = out.raw.body ?? '';
    }
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
    res.end(call.method === 'HEAD' ? undefined : text);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(599, { 'content-type': 'text/plain' }).end(`aws-errors-server: ${(error as Error).message}`);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTML 404 page from something that is not AWS (a web server at a mistyped endpoint). */
export const NOT_AWS_404: AwsAnswer = {
  raw: {
    status: 404,
    headers: { 'content-type': 'text/html' },
    body: '<html><head><title>404 Not Found</title></head><body>Not Found</body></html>',
  },
};
