/**
 * The HTTP surface, as MWAA shows it: the REST-JSON operations of botocore's model for MWAA
 * (GetEnvironment, ListEnvironments, UpdateEnvironment, CreateCliToken, CreateWebLoginToken,
 * InvokeRestApi, TagResource, UntagResource, ListTagsForResource; clients disable the `api.`/`env.`
 * host prefixes); on the "web server host", the `/aws_mwaa/cli` endpoint (the line's
 * command table, HTTP 500 for anything else, an answer of base64 stdout and stderr only), the
 * line's web login endpoint, and `/api/*` passed through to the real Airflow web server (2) or
 * api-server (3), so every REST answer is Airflow's own. `/_local/*` is the stack's own tooling:
 * health, counters (including concurrent CLI requests), and switches tests use to make the
 * environment behave as MWAA sometimes does.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { checkCliCommand } from '../../../src/mwaa/cli-commands.js';
import { WEB_LOGIN } from '../../../src/mwaa/rest-client.js';
import type { AirflowLine } from '../../../src/mwaa/versions.js';
import type { AirflowLogin } from './airflow-login.js';
import type { CliOutput } from './cli-runner.js';
import { PASSING_STATUSES, type EnvironmentController } from './controller.js';
import { toApiEnvironment, WEBSERVER_ACCESS_MODES } from './environment.js';
import { constraintError, type ConstraintProblem } from './aws-validation.js';
import { ServiceError } from './errors.js';
import { AirflowCredential, INVOKE_REST_API_LIMITS, invokeRestApi, validateInvokeRestApi } from './invoke-rest-api.js';
import { accessModeOf, parseAccessMode } from './private-web-server.js';
import { ShlexError, shlexSplit } from './shlex.js';
import { TagStore } from './tags.js';
import type { TokenStore } from './tokens.js';

export type Operation =
  | 'GetEnvironment'
  | 'ListEnvironments'
  | 'UpdateEnvironment'
  | 'CreateCliToken'
  | 'CreateWebLoginToken'
  | 'InvokeRestApi'
  | 'ListTagsForResource'
  | 'TagResource'
  | 'UntagResource'
  | 'Cli'
  | 'WebLogin'
  | 'RestApi'
  | 'Other';

/** Switches for tests: how this environment behaves where MWAA's behaviour varies. */
export interface Behaviour {
  /** CreateWebLoginToken answers AccessDeniedException (as for a role without airflow:CreateWebLoginToken). */
  webLoginDenied: boolean;
  /**
   * InvokeRestApi answers AccessDeniedException (a role without airflow:InvokeRestApi), worded so
   * that Apache's MwaaHook falls back to the web login; absent in callers written before it: false.
   */
  invokeRestApiDenied?: boolean;
  /** A failed update stays ROLLING_BACK this long before UPDATE_FAILED. */
  rollingBackMs: number;
  /** Lifetime of a CLI token (MWAA: 60 s); tests of token expiry shorten it. */
  cliTokenTtlMs: number;
  /** The order the DAG-folder sync writes in (dag-sync.ts): as listed, or the DAG files first and the rest dagSyncHoldMs later. */
  dagSyncOrder: 'listing' | 'dag-files-first';
  dagSyncHoldMs: number;
}

export interface ServerDeps {
  line: AirflowLine;
  controller: EnvironmentController;
  /** CreateCliToken's tokens. */
  tokens: TokenStore;
  /** CreateWebLoginToken's tokens (each serves one login). */
  webTokens: TokenStore;
  runCli: (argv: string[]) => Promise<CliOutput>;
  airflowLogin: AirflowLogin;
  /** Tags per environment ARN (TagResource and friends). */
  tags: TagStore;
  /** InvokeRestApi's deadline and answer cap (AWS: 10 s, 6 MB); tests shorten them. */
  invokeRestApiLimits?: { timeoutMs: number; maxResponseBytes: number };
  /** `http://127.0.0.1:<port>` of the Airflow web server (2) or api-server (3). */
  airflowBaseUrl: () => string;
  behaviour: Behaviour;
  /** The Airflow user a web login becomes (CreateWebLoginToken's AirflowIdentity). */
  airflowIdentity: string;
  /**
   * The web server hostname clients are given (GetEnvironment's WebserverUrl, the tokens'
   * WebServerHostname): `127.0.0.1:<port>`, known only once listening; in PRIVATE_ONLY the
   * listener that never answers (private-web-server.ts).
   */
  webServerHostname: () => string;
  extraStats: () => Record<string, unknown>;
  onEvent: (event: { type: 'request'; operation: Operation; status: number; ms: number; detail?: string }) => void;
}

const MAX_BODY = 1024 * 1024;
/** Request headers the REST pass-through forwards to Airflow, and response headers it returns. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'authorization', 'content-type', 'cookie'];
const RETURNED_RESPONSE_HEADERS = ['content-type', 'location', 'airflow-continuation-token'];

export function createControlPlaneServer(deps: ServerDeps): { server: Server; counts: Record<Operation, number> } {
  const counts: Record<Operation, number> = {
    GetEnvironment: 0,
    ListEnvironments: 0,
    UpdateEnvironment: 0,
    CreateCliToken: 0,
    CreateWebLoginToken: 0,
    InvokeRestApi: 0,
    ListTagsForResource: 0,
    TagResource: 0,
    UntagResource: 0,
    Cli: 0,
    WebLogin: 0,
    RestApi: 0,
    Other: 0,
  };
  // AWS asks callers for one CLI request at a time; this shows whether they keep to it.
  const cli = { inFlight: 0, maxInFlight: 0 };
  // InvokeRestApi calls Airflow as the stack's Airflow user, logged in once (as a web login does).
  const credential = new AirflowCredential(() => deps.airflowLogin.login());
  const server = createServer((req, res) => {
    const loginPath = WEB_LOGIN[deps.line].loginPath;
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
      const webToken = /^\/webtoken\/([^/]+)$/.exec(path);
      const restApi = /^\/restapi\/([^/]+)$/.exec(path);
      const tagsOf = /^\/tags\/([^/]+)$/.exec(path);
      try {
        if (env && method === 'GET') {
          operation = 'GetEnvironment';
          counts.GetEnvironment += 1;
          const record = deps.controller.lookup(decodeURIComponent(env[1]!));
          // Tags is a TagMap of at least one entry: omitted while the environment has none.
          const tags = deps.tags.list(record.arn);
          return sendJson(res, 200, {
            Environment: {
              ...toApiEnvironment(record),
              WebserverUrl: deps.webServerHostname(),
              ...(Object.keys(tags).length > 0 ? { Tags: tags } : {}),
            },
          });
        }
        if (path === '/environments' && method === 'GET') {
          operation = 'ListEnvironments';
          counts.ListEnvironments += 1;
          return sendJson(res, 200, listEnvironments(url.searchParams, deps.controller.name));
        }
        if (restApi && method === 'POST') {
          operation = 'InvokeRestApi';
          counts.InvokeRestApi += 1;
          const record = deps.controller.lookup(decodeURIComponent(restApi[1]!));
          // IAM decides before the request is looked at: a denied caller learns nothing else.
          if (deps.behaviour.invokeRestApiDenied) {
            const role = `${record.arn.replace(/:environment\/.*$/, '')}:role/${record.name}/{Admin|Op|User|Viewer|Public}`;
            // MwaaHook (apache-airflow-providers-amazon, hooks/mwaa.py) falls back to a web login only
            // on Error.Code "AccessDeniedException" with "Airflow role" in Error.Message.
            throw new ServiceError(
              'AccessDeniedException',
              `User: arn:aws:sts::123456789012:assumed-role/local/deployer is not authorized to perform: airflow:InvokeRestApi ` +
                `on any Airflow role of environment ${record.name} (resource ${role}).`,
            );
          }
          const request = validateInvokeRestApi(parseJson(await readBody(req)));
          detail = `${request.method} ${request.path}`;
          const answer = await invokeRestApi(
            {
              line: deps.line,
              airflowBaseUrl: deps.airflowBaseUrl(),
              credential,
              limits: deps.invokeRestApiLimits ?? INVOKE_REST_API_LIMITS,
            },
            request,
          );
          return sendJson(res, 200, answer);
        }
        if (tagsOf && ['GET', 'POST', 'DELETE'].includes(method)) {
          const arn = decodeURIComponent(tagsOf[1]!);
          TagStore.checkArn(arn, [deps.controller.snapshot().arn]);
          if (method === 'GET') {
            operation = 'ListTagsForResource';
            counts.ListTagsForResource += 1;
            return sendJson(res, 200, { Tags: deps.tags.list(arn) });
          }
          if (method === 'POST') {
            operation = 'TagResource';
            counts.TagResource += 1;
            deps.tags.tag(arn, (parseJson(await readBody(req)) as { Tags?: unknown }).Tags);
            return sendJson(res, 200, {});
          }
          operation = 'UntagResource';
          counts.UntagResource += 1;
          const keys = url.searchParams.getAll('tagKeys');
          if (keys.length === 0) throw constraintError([{ member: 'tagKeys', value: null, constraint: 'Member must not be null' }]);
          deps.tags.untag(arn, keys);
          return sendJson(res, 200, {});
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
        if (webToken && method === 'POST') {
          operation = 'CreateWebLoginToken';
          counts.CreateWebLoginToken += 1;
          const record = deps.controller.lookup(decodeURIComponent(webToken[1]!));
          const role = `${record.arn.replace(/:environment\/.*$/, '')}:role/${record.name}/Op`;
          if (deps.behaviour.webLoginDenied) {
            throw new ServiceError(
              'AccessDeniedException',
              `User: arn:aws:sts::123456789012:assumed-role/local/deployer is not authorized to perform: airflow:CreateWebLoginToken on resource: ${role}`,
            );
          }
          const issued = deps.webTokens.issue(record.name);
          return sendJson(res, 200, {
            WebToken: issued.token,
            WebServerHostname: deps.webServerHostname(),
            IamIdentity: 'assumed-role/local/deployer',
            AirflowIdentity: deps.airflowIdentity,
          });
        }
        if (path === '/aws_mwaa/cli' && method === 'POST') {
          operation = 'Cli';
          counts.Cli += 1;
          cli.inFlight += 1;
          cli.maxInFlight = Math.max(cli.maxInFlight, cli.inFlight);
          try {
            return await handleCli(req, res, deps, (d) => (detail = d));
          } finally {
            cli.inFlight -= 1;
          }
        }
        if (path === loginPath && method === 'POST') {
          operation = 'WebLogin';
          counts.WebLogin += 1;
          return await handleLogin(req, res, deps, (d) => (detail = d));
        }
        if (path.startsWith('/api/')) {
          operation = 'RestApi';
          counts.RestApi += 1;
          detail = `${method} ${path}`;
          return await passThrough(req, res, deps.airflowBaseUrl());
        }
        if (path === '/' && (method === 'GET' || method === 'HEAD')) {
          operation = 'WebLogin';
          return landing(req, res, WEB_LOGIN[deps.line].cookie);
        }
        // The other line's login endpoint does not exist on this environment.
        if (Object.values(WEB_LOGIN).some((w) => w.loginPath === path)) return sendPlain(res, 404, 'Not Found');
        if (path === '/_local/health' && method === 'GET') {
          // 200 as soon as the API answers; `ready` says whether Airflow can run tasks yet.
          const status = deps.controller.snapshot().status;
          return sendJson(res, 200, { ok: true, ready: status !== 'CREATING' && status !== 'UNAVAILABLE', status });
        }
        if (path === '/_local/stats' && method === 'GET') {
          return sendJson(res, 200, { requests: counts, cli, ...deps.extraStats() });
        }
        if (path === '/_local/stats/cli-peak' && method === 'DELETE') {
          cli.maxInFlight = cli.inFlight;
          return sendJson(res, 200, { cli });
        }
        if (path === '/_local/behaviour' && method === 'POST') {
          // webserverAccessMode sets the environment's mode at once, as if it had been created with
          // it (UpdateEnvironment sets it the way MWAA does, through UPDATING).
          const { webserverAccessMode, ...switches } = (parseJson(await readBody(req)) ?? {}) as Record<string, unknown>;
          const mode = webserverAccessMode === undefined ? undefined : parseAccessMode(webserverAccessMode);
          Object.assign(deps.behaviour, parseBehaviour(switches));
          if (mode) deps.controller.setInertSetting('WebserverAccessMode', mode);
          return sendJson(res, 200, { ...deps.behaviour, webserverAccessMode: accessModeOf(deps.controller.snapshot()) });
        }
        if (path === '/_local/status' && method === 'POST') {
          const body = parseJson(await readBody(req)) as { status?: unknown; forMs?: unknown };
          const status = PASSING_STATUSES.find((s) => s === body.status);
          if (!status || typeof body.forMs !== 'number' || body.forMs <= 0) {
            throw new ServiceError(
              'ValidationException',
              `Expected {"status": ${PASSING_STATUSES.map((s) => `"${s}"`).join('|')}, "forMs": <positive number>}.`,
            );
          }
          deps.controller.passThrough(status, body.forMs);
          return sendJson(res, 200, { status, forMs: body.forMs });
        }
        counts.Other += 1;
        // What AWS's service framework answers for a request no operation claims (errors.ts).
        throw new ServiceError('UnknownOperationException', `No operation for ${method} ${path}.`);
      } catch (error) {
        return sendError(res, error);
      }
    })().finally(() => finish(res.statusCode));
  });
  return { server, counts };
}

function parseBehaviour(body: unknown): Partial<Behaviour> {
  const input = (body ?? {}) as Record<string, unknown>;
  const out: Partial<Behaviour> = {};
  for (const key of Object.keys(input)) {
    if (key === 'webLoginDenied' && typeof input[key] === 'boolean') out.webLoginDenied = input[key];
    else if (key === 'invokeRestApiDenied' && typeof input[key] === 'boolean') out.invokeRestApiDenied = input[key];
    else if (key === 'rollingBackMs' && typeof input[key] === 'number' && input[key] >= 0) out.rollingBackMs = input[key];
    else if (key === 'cliTokenTtlMs' && typeof input[key] === 'number' && input[key] > 0) out.cliTokenTtlMs = input[key];
    else if (key === 'dagSyncOrder' && (input[key] === 'listing' || input[key] === 'dag-files-first')) out.dagSyncOrder = input[key];
    else if (key === 'dagSyncHoldMs' && typeof input[key] === 'number' && input[key] >= 0) out.dagSyncHoldMs = input[key];
    else {
      throw new ServiceError(
        'ValidationException',
        `Unknown or invalid behaviour ${key}: expected webLoginDenied (boolean), invokeRestApiDenied (boolean), rollingBackMs (ms), cliTokenTtlMs (ms), ` +
          `dagSyncOrder ("listing" | "dag-files-first"), dagSyncHoldMs (ms), webserverAccessMode (${WEBSERVER_ACCESS_MODES.join(' | ')}).`,
      );
    }
  }
  return out;
}

/** ListEnvironments: the stack's one environment; MaxResults 1-25 as the model bounds it, no pages to follow. */
function listEnvironments(query: URLSearchParams, name: string): { Environments: string[] } {
  const problems: ConstraintProblem[] = [];
  const max = query.get('MaxResults');
  if (max !== null && !(/^\d+$/.test(max) && Number(max) >= 1 && Number(max) <= 25)) {
    problems.push({ member: 'maxResults', value: max, constraint: 'Member must have value between 1 and 25' });
  }
  const next = query.get('NextToken');
  if (next !== null && next !== '')
    problems.push({ member: 'nextToken', value: next, constraint: 'Member must be a token a previous ListEnvironments returned' });
  if (problems.length > 0) throw constraintError(problems);
  return { Environments: [name] };
}

async function handleCli(req: IncomingMessage, res: ServerResponse, deps: ServerDeps, setDetail: (detail: string) => void): Promise<void> {
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
  const check = checkCliCommand(deps.line, argv);
  setDetail(argv.slice(0, 2).join(' '));
  if (!check.ok) return sendPlain(res, 500, `Internal Server Error: ${check.reason}`);
  const output = await deps.runCli(argv);
  // MWAA answers 200 whatever the command's exit status, with its output only: no exit code.
  return sendJson(res, 200, { stdout: output.stdout.toString('base64'), stderr: output.stderr.toString('base64') });
}

/**
 * The line's login endpoint: a form with the web login token. A valid token becomes a real Airflow
 * credential, handed over as MWAA does: a redirect that sets the line's cookie.
 */
async function handleLogin(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ServerDeps,
  setDetail: (detail: string) => void,
): Promise<void> {
  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  const token = form.get('token') ?? '';
  if (token === '' || deps.webTokens.consume(token) === undefined) {
    setDetail('bad, used or expired web login token');
    return sendPlain(res, 403, 'Forbidden: the web login token is missing, invalid, used or expired.');
  }
  let credential: string;
  try {
    credential = await deps.airflowLogin.login();
  } catch (error) {
    setDetail(`login to Airflow failed: ${(error as Error).message}`);
    return sendPlain(res, 502, `Bad Gateway: ${(error as Error).message}`);
  }
  const { cookie } = WEB_LOGIN[deps.line];
  res.writeHead(302, {
    location: '/',
    'set-cookie': `${cookie}=${credential}; Path=/; HttpOnly; SameSite=Lax`,
    'content-length': 0,
  });
  res.end();
}

/**
 * The web server's home, where the login's redirect lands. Clients that follow the redirect read
 * the line's cookie from this final answer: Apache's MwaaHook on Airflow 3 takes
 * `login_response.cookies['_token']` of the response `requests` ends on, and AWS's Python samples
 * take the cookie of that final 200. So it hands the credential the request carries back, as the
 * Airflow UI renews its session cookie on every answer.
 */
function landing(req: IncomingMessage, res: ServerResponse, cookie: string): void {
  const body = Buffer.from('<!doctype html><title>Airflow</title>\n');
  const headers: Record<string, string | number> = { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length };
  const value = (req.headers.cookie ?? '')
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${cookie}=`))
    ?.slice(cookie.length + 1);
  if (value) headers['set-cookie'] = `${cookie}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function passThrough(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<void> {
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let upstream: Response;
  try {
    upstream = await fetch(`${baseUrl}${req.url ?? '/'}`, {
      method,
      headers,
      body: body === undefined ? undefined : new Uint8Array(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(120_000),
    });
  } catch (error) {
    return sendPlain(res, 502, `Bad Gateway: Airflow at ${baseUrl} did not answer (${(error as Error).message})`);
  }
  const payload = Buffer.from(await upstream.arrayBuffer());
  const out: Record<string, string | number> = { 'content-length': payload.length };
  for (const name of RETURNED_RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) out[name] = value;
  }
  res.writeHead(upstream.status, out);
  res.end(payload);
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
  const body = Buffer.from(JSON.stringify(known.body()));
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
