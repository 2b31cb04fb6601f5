/**
 * The MWAA CLI endpoint client: CreateCliToken, then `POST <scheme>://<WebServerHostname>/aws_mwaa/cli`
 * with the token as Bearer and the command (without `airflow`) as a text/plain body; the answer
 * carries base64 stdout/stderr and nothing else: no exit code, so a failed command is recognised
 * from its output alone. A token lives 60 s, so one is reused only while comfortably young and a
 * 401/403 answer fetches a fresh one and retries once. Redirects are followed with the POST kept
 * (AWS's Airflow 3 samples use `curl -L --request POST`). AWS asks callers not to open a CLI request
 * before the previous one finished: every client in this process shares one lane per environment.
 * Nothing is sent that MWAA's endpoint or the environment's Airflow version would refuse
 * (airflow-cli.ts `checkSendable`): such a command is a bug here, refused with MwaaCliRefusedError.
 */
import { CreateCliTokenCommand, type MWAAClient } from '@aws-sdk/client-mwaa';
import { UserError } from '../errors.js';
import { shellJoin } from '../util/shell-quote.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { AirflowVersion } from './versions.js';
import { readText, readTextHead, type WebAnswer, webFetch } from './web-fetch.js';

/** The one MWAA call the CLI client needs. */
export interface CliTokenApi {
  createCliToken(environmentName: string): Promise<{ token: string; hostname: string }>;
}

/** What MWAA answers: the command's output, decoded. There is no exit code. */
export interface CliResult {
  stdout: string;
  stderr: string;
}

export interface MwaaCli {
  /** Runs one Airflow CLI command, argv without `airflow`, e.g. `['variables', 'get', 'a']`. */
  run(argv: readonly string[]): Promise<CliResult>;
  /** Counters for benchmarks and tests. */
  readonly stats: { tokens: number; requests: number; retriesAfterAuthFailure: number };
}

export interface MwaaCliOptions {
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; injected so token reuse is testable. */
  now?: () => number;
  /** Reuse a token for at most this long (default 45 s, well inside MWAA's 60 s). */
  tokenReuseMs?: number;
  /**
   * Deadline of each request, its answer included (default 60 s, limits.ts, as for every other
   * request: a CLI command that takes longer on the web server is better read through the REST API).
   */
  requestTimeoutMs?: number;
  /** The largest answer read (default 16 MiB, limits.ts). */
  maxAnswerBytes?: number;
}

/** Of a refused request, the first bytes are all a message shows. */
const SNIPPET_BYTES = 4096;

/** The endpoint refused or failed a request (HTTP status other than 200). */
export class MwaaCliError extends UserError {
  constructor(
    readonly status: number,
    readonly command: string,
    readonly responseText: string,
  ) {
    super(
      `MWAA CLI endpoint answered HTTP ${status} to \`${command}\`` +
        (status === 500 ? ' (MWAA answers 500 to commands it does not support)' : '') +
        (responseText ? `: ${responseText.slice(0, 500)}` : ''),
    );
    this.name = 'MwaaCliError';
  }
}

/**
 * A command this client will not send: MWAA does not run it on the environment's line, or the
 * environment's Airflow version would not parse it. The toolkit's own commands never are such, so
 * this is a bug to report, found before the environment answers with a 500 or a usage error.
 */
export class MwaaCliRefusedError extends UserError {
  constructor(
    readonly command: string,
    readonly airflowVersion: string,
    readonly reason: string,
  ) {
    super(
      `Not sent to MWAA's CLI endpoint: \`${command}\` on Airflow ${airflowVersion}: ${reason}. ` +
        "The toolkit holds every command it sends to MWAA's list and to that version's own CLI; this one slipped through: please report it.",
    );
    this.name = 'MwaaCliRefusedError';
  }
}

/** Adapts an SDK MWAAClient (or anything with its `send`) to CliTokenApi. */
export function cliTokenApi(client: Pick<MWAAClient, 'send'>): CliTokenApi {
  return {
    async createCliToken(environmentName) {
      const out = await client.send(new CreateCliTokenCommand({ Name: environmentName }));
      if (!out.CliToken || !out.WebServerHostname) {
        throw new UserError(`CreateCliToken for ${environmentName} returned no token or web server hostname.`);
      }
      return { token: out.CliToken, hostname: out.WebServerHostname };
    },
  };
}

function isTokenApi(value: CliTokenApi | Pick<MWAAClient, 'send'>): value is CliTokenApi {
  return typeof (value as CliTokenApi).createCliToken === 'function';
}

/** `airflowVersion`: the environment's; what it may be sent follows it. */
export function createMwaaCli(
  mwaa: CliTokenApi | Pick<MWAAClient, 'send'>,
  environmentName: string,
  scheme: 'https' | 'http',
  airflowVersion: AirflowVersion,
  options: MwaaCliOptions = {},
): MwaaCli {
  const api = isTokenApi(mwaa) ? mwaa : cliTokenApi(mwaa);
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const reuseMs = options.tokenReuseMs ?? 45_000;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_LIMITS.requestTimeoutMs;
  const maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_LIMITS.maxAnswerBytes;
  const stats = { tokens: 0, requests: 0, retriesAfterAuthFailure: 0 };
  const lane = laneFor(environmentName);
  let cached: { token: string; hostname: string; at: number } | undefined;

  async function token(fresh: boolean): Promise<{ token: string; hostname: string }> {
    if (!fresh && cached && now() - cached.at < reuseMs) return cached;
    const at = now();
    const issued = await api.createCliToken(environmentName);
    stats.tokens += 1;
    cached = { ...issued, at };
    return cached;
  }

  async function post(body: string, fresh: boolean): Promise<WebAnswer> {
    const { token: bearer, hostname } = await token(fresh);
    stats.requests += 1;
    return postFollowingRedirects(doFetch, `${scheme}://${hostname}/aws_mwaa/cli`, bearer, body, timeoutMs);
  }

  return {
    stats,
    async run(argv) {
      const body = shellJoin(argv);
      // The table of Airflow's CLI is large: loaded with the first command, not with this module.
      const { checkSendable } = await import('./airflow-cli.js');
      const sendable = checkSendable(airflowVersion, argv);
      if (!sendable.ok) throw new MwaaCliRefusedError(body, airflowVersion, sendable.reason);
      return lane(async () => {
        let answer = await post(body, false);
        if (answer.response.status === 401 || answer.response.status === 403) {
          await answer.response.body?.cancel();
          stats.retriesAfterAuthFailure += 1;
          answer = await post(body, true);
        }
        if (answer.response.status !== 200) throw new MwaaCliError(answer.response.status, body, await readTextHead(answer, SNIPPET_BYTES));
        return decodeCliResponse(body, await readText(answer, maxAnswerBytes));
      });
    },
  };
}

const MAX_REDIRECTS = 5;

/**
 * POST, and on a redirect POST the same body again to the new location (as `curl -L --request
 * POST`). Each hop has the request deadline.
 */
async function postFollowingRedirects(
  doFetch: typeof fetch,
  url: string,
  bearer: string,
  body: string,
  timeoutMs: number,
): Promise<WebAnswer> {
  const origin = new URL(url).origin;
  let target = url;
  for (let hop = 0; ; hop += 1) {
    // The token goes only to the host it was issued for.
    const sameOrigin = new URL(target).origin === origin;
    const headers: Record<string, string> = { 'Content-Type': 'text/plain', ...(sameOrigin ? { Authorization: `Bearer ${bearer}` } : {}) };
    const answer = await webFetch(doFetch, target, { method: 'POST', headers, body, redirect: 'manual' }, timeoutMs);
    const { response } = answer;
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || !location || hop >= MAX_REDIRECTS) return answer;
    await response.body?.cancel();
    target = new URL(location, target).toString();
  }
}

/**
 * One CLI request at a time per environment in this process: a deploy and the runtime check it
 * runs afterwards (or two clients of one command) queue behind each other.
 */
const lanes = new Map<string, Promise<void>>();

function laneFor(environmentName: string): <T>(work: () => Promise<T>) => Promise<T> {
  return async (work) => {
    const previous = lanes.get(environmentName) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolveMine) => (release = resolveMine));
    const tail = previous.then(() => mine);
    lanes.set(environmentName, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (lanes.get(environmentName) === tail) lanes.delete(environmentName);
    }
  };
}

export function decodeCliResponse(command: string, text: string): CliResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MwaaCliError(200, command, `not JSON: ${text.slice(0, 200)}`);
  }
  const record = parsed as { stdout?: unknown; stderr?: unknown };
  if (typeof record.stdout !== 'string' || typeof record.stderr !== 'string') {
    throw new MwaaCliError(200, command, `missing stdout/stderr: ${text.slice(0, 200)}`);
  }
  return {
    stdout: Buffer.from(record.stdout, 'base64').toString('utf8'),
    stderr: Buffer.from(record.stderr, 'base64').toString('utf8'),
  };
}

/**
 * Airflow's own message in a failed command's output: the exception line a traceback ends with,
 * else the last line of stderr (or stdout). MWAA gives no exit code, so this is what a caller shows.
 */
export function airflowMessage(result: CliResult): string {
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '');
  const exception = lines.filter((line) => /^[A-Za-z_][\w.]*(Error|Exception)(:|$)/.test(line.trim())).at(-1);
  const stderrLast = result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  return (exception ?? stderrLast ?? lines.at(-1) ?? '(no output)').trim();
}
