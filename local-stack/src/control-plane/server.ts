/**
 * The HTTP surface: MWAA's REST-JSON operations as @aws-sdk/client-mwaa sends them (with
 * `disableHostPrefix: true`), the web server's `/aws_mwaa/cli` endpoint, and `/_local/*` for the
 * stack's own tooling (health, per-operation request counts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { checkCliCommand } from '../../../src/mwaa/cli-commands.js';
import type { CliOutput } from './cli-runner.js';
import type { EnvironmentController } from './controller.js';
import { toApiEnvironment } from './environment.js';
import { ServiceError } from './errors.js';
import { ShlexError, shlexSplit } from './shlex.js';
import type { TokenStore } from './tokens.js';

export type Operation = 'GetEnvironment' | 'UpdateEnvironment' | 'CreateCliToken' | 'Cli' | 'Other';

export interface ServerDeps {
  controller: EnvironmentController;
  tokens: TokenStore;
  runCli: (argv: string[]) => Promise<CliOutput>;
  /** `127.0.0.1:<port>`, known only once listening. */
  webServerHostname: () => string;
  extraStats: () => Record<string, unknown>;
  onEvent: (event: { type: 'request'; operation: Operation; status: number; ms: number; detail?: string }) => void;
}

const MAX_BODY = 1024 * 1024;

export function createControlPlaneServer(deps: ServerDeps): { server: Server; counts: Record<Operation, number> } {
  const counts: Record<Operation, number> = { GetEnvironment: 0, UpdateEnvironment: 0, CreateCliToken: 0, Cli: 0, Other: 0 };
  const server = createServer((req, res) => {
    const started = Date.now();
    let operation: Operation = 'Other';
    let detail: string | undefined;
    const finish = (status: number): void => deps.onEvent({ type: 'request', operation, status, ms: Date.now() - started, detail });
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const path = url.pathname;
      const method = req.method ?? 'GET';
      const env = /^\/environments\/([^/]+)$/.exec(path);
      const token = /^\/clitoken\/([^/]+)$/.exec(path);
      try {
        if (env && method === 'GET') {
          operation = 'GetEnvironment';
          counts.GetEnvironment += 1;
          const record = deps.controller.lookup(decodeURIComponent(env[1]!));
          return sendJson(res, 200, { Environment: toApiEnvironment(record) });
        }
        if (env && method === 'PATCH') {
          operation = 'UpdateEnvironment';
          counts.UpdateEnvironment += 1;
          const body = parseJson(await readBody(req));
          const result = await deps.controller.update(decodeURIComponent(env[1]!), body);
          return sendJson(res, 200, { Arn: result.arn });
        }
        if (token && method === 'POST') {
          operation = 'CreateCliToken';
          counts.CreateCliToken += 1;
          const record = deps.controller.lookup(decodeURIComponent(token[1]!));
          const issued = deps.tokens.issue(record.name);
          return sendJson(res, 200, { CliToken: issued.token, WebServerHostname: deps.webServerHostname() });
        }
        if (path === '/aws_mwaa/cli' && method === 'POST') {
          operation = 'Cli';
          counts.Cli += 1;
          return await handleCli(req, res, deps, (d) => (detail = d));
        }
        if (path === '/_local/health' && method === 'GET') {
          // 200 as soon as the API answers; `ready` says whether Airflow can run tasks yet.
          const status = deps.controller.snapshot().status;
          return sendJson(res, 200, { ok: true, ready: status !== 'CREATING' && status !== 'UNAVAILABLE', status });
        }
        if (path === '/_local/stats' && method === 'GET') {
          return sendJson(res, 200, { requests: counts, ...deps.extraStats() });
        }
        counts.Other += 1;
        throw new ServiceError('UnknownOperationException', `No operation for ${method} ${path}.`);
      } catch (error) {
        return sendError(res, error);
      }
    })().finally(() => finish(res.statusCode));
  });
  return { server, counts };
}

async function handleCli(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ServerDeps,
  setDetail: (detail: string) => void,
): Promise<void> {
  const auth = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(auth);
  const body = (await readBody(req)).toString('utf8');
  if (!match || deps.tokens.verify(match[1]!) === undefined) {
    setDetail('bad or expired token');
    return sendPlain(res, 403, 'Forbidden: the CLI token is missing, invalid or expired.');
  }
  let argv: string[];
  try {
    argv = shlexSplit(body.trim());
  } catch (error) {
    if (!(error instanceof ShlexError)) throw error;
    setDetail(`unparsable: ${error.message}`);
    return sendPlain(res, 400, `Could not parse the command: ${error.message}`);
  }
  // Clients may send the command with or without the leading `airflow`.
  if (argv[0] === 'airflow') argv = argv.slice(1);
  const check = checkCliCommand(argv);
  setDetail(argv.slice(0, 2).join(' '));
  if (!check.ok) return sendPlain(res, 500, `Internal Server Error: ${check.reason}`);
  const output = await deps.runCli(argv);
  // MWAA answers 200 whatever the command's exit status; the caller reads stderr.
  return sendJson(res, 200, { stdout: output.stdout.toString('base64'), stderr: output.stderr.toString('base64') });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ServiceError('ValidationException', 'Request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServiceError('ValidationException', 'Request body is not valid JSON.');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
}

function sendPlain(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

function sendError(res: ServerResponse, error: unknown): void {
  const known = error instanceof ServiceError ? error : new ServiceError('InternalServerException', describe(error));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ message: known.message }));
  res.writeHead(known.statusCode, {
    'content-type': 'application/json',
    'content-length': body.length,
    'x-amzn-errortype': known.type,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
