import { describe, expect, it } from 'vitest';
import {
  airflowMessage,
  createMwaaCli,
  decodeCliResponse,
  MwaaCliError,
  MwaaCliRefusedError,
  type CliTokenApi,
} from '../../../src/mwaa/cli-client.js';
import { UserError } from '../../../src/errors.js';
import type { AirflowVersion } from '../../../src/mwaa/versions.js';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function setup(statuses: number[] = [], version: AirflowVersion = '2.11.2') {
  let now = 1_000_000;
  let issued = 0;
  const tokens: CliTokenApi = {
    async createCliToken(name) {
      issued += 1;
      return { token: `tok-${name}-${issued}`, hostname: 'web.example:8443' };
    },
  };
  const requests: { url: string; auth: string; type: string; body: string }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    requests.push({ url, auth: headers.Authorization!, type: headers['Content-Type']!, body: String(init.body) });
    const status = statuses.shift() ?? 200;
    const body = status === 200 ? JSON.stringify({ stdout: b64('out ✓\n'), stderr: b64('warn\n') }) : 'nope';
    return new Response(body, { status });
  }) as typeof fetch;
  const cli = createMwaaCli(tokens, 'env-x', 'https', version, { fetch: fetchImpl, now: () => now });
  return { cli, requests, advance: (ms: number) => (now += ms), issued: () => issued };
}

describe('createMwaaCli', () => {
  it('posts the quoted command with a Bearer token and decodes base64 output', async () => {
    const { cli, requests } = setup();
    const out = await cli.run(['dags', 'trigger', 'd', '-c', '{"a":"it\'s"}']);
    expect(out).toEqual({ stdout: 'out ✓\n', stderr: 'warn\n' });
    expect(requests[0]).toEqual({
      url: 'https://web.example:8443/aws_mwaa/cli',
      auth: 'Bearer tok-env-x-1',
      type: 'text/plain',
      body: `dags trigger d -c '{"a":"it'"'"'s"}'`,
    });
  });

  it('reuses a young token and fetches a new one once it is old', async () => {
    const { cli, requests, advance, issued } = setup();
    await cli.run(['version']);
    advance(30_000);
    await cli.run(['version']);
    expect(issued()).toBe(1);
    advance(20_000);
    await cli.run(['version']);
    expect(issued()).toBe(2);
    expect(requests.map((r) => r.auth)).toEqual(['Bearer tok-env-x-1', 'Bearer tok-env-x-1', 'Bearer tok-env-x-2']);
    expect(cli.stats).toEqual({ tokens: 2, requests: 3, retriesAfterAuthFailure: 0 });
  });

  it('on 403 gets a fresh token and retries once', async () => {
    const { cli, requests } = setup([403]);
    const out = await cli.run(['version']);
    expect(out.stdout).toBe('out ✓\n');
    expect(requests.map((r) => r.auth)).toEqual(['Bearer tok-env-x-1', 'Bearer tok-env-x-2']);
    expect(cli.stats.retriesAfterAuthFailure).toBe(1);
  });

  it('a second 403 is an error', async () => {
    const { cli } = setup([403, 403]);
    await expect(cli.run(['version'])).rejects.toMatchObject({ status: 403 });
  });

  it('500 (what MWAA answers to an unsupported command) is a MwaaCliError naming the command', async () => {
    const { cli } = setup([500]);
    const error = await cli.run(['version']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MwaaCliError);
    expect((error as Error).message).toMatch(/HTTP 500 to `version`.*does not support/);
  });

  // What MWAA's list (cli-commands.ts) and each version's own CLI (airflow-cli-table.json) refuse.
  it.each([
    ['2.11.2', ['db', 'reset'], /`db reset` is not a supported command on Airflow 2\.x/],
    ['3.3.1', ['dags', 'backfill', 'd'], /`dags backfill` is not a supported command on Airflow 3\.x/],
    ['2.11.2', ['dags', 'show', 'd', '--save', 'x.png'], /unsupported option for dags show: --save/],
    [
      '2.11.2',
      ['dags', 'trigger', 'd', '--logical-date', '2026-01-01'],
      /Airflow 2\.11\.2's CLI would refuse it: unrecognized arguments: --logical-date/,
    ],
    ['3.3.1', ['dags', 'trigger', 'd', '-e', '2026-01-01'], /Airflow 3\.3\.1's CLI would refuse it: unrecognized arguments: -e/],
    [
      '2.7.2',
      ['dags', 'list', '-o', 'json', '--columns', 'dag_id'],
      /Airflow 2\.7\.2's CLI would refuse it: unrecognized arguments: --columns/,
    ],
    ['2.11.2', ['variables', 'get'], /the following arguments are required: key/],
  ] as const)('on %s refuses %j before sending anything', async (version, argv, reason) => {
    const { cli, requests, issued } = setup([], version);
    const error = await cli.run(argv).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MwaaCliRefusedError);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(new RegExp(`^Not sent to MWAA's CLI endpoint: \`${argv.join(' ')}\` on Airflow ${version}: `));
    expect((error as Error).message).toMatch(reason);
    expect(requests).toEqual([]);
    expect(issued()).toBe(0);
  });

  it("sends the form the version's CLI takes", async () => {
    const { cli, requests } = setup([], '3.3.1');
    await cli.run(['dags', 'trigger', 'd', '--logical-date', '2026-01-01T00:00:00Z']);
    expect(requests.map((r) => r.body)).toEqual(['dags trigger d --logical-date 2026-01-01T00:00:00Z']);
  });

  it('follows a redirect with the same POST, body and token (as `curl -L --request POST`)', async () => {
    const seen: string[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      seen.push(`${init.method} ${url} ${(init.headers as Record<string, string>).Authorization} ${String(init.body)}`);
      if (url.endsWith('/aws_mwaa/cli')) return new Response(null, { status: 307, headers: { location: '/aws_mwaa/cli/' } });
      return new Response(JSON.stringify({ stdout: b64('ok'), stderr: '' }), { status: 200 });
    }) as typeof fetch;
    const tokenApi: CliTokenApi = { createCliToken: async () => ({ token: 't', hostname: 'h' }) };
    const out = await createMwaaCli(tokenApi, 'env-r', 'https', '2.11.2', { fetch: fetchImpl }).run(['version']);
    expect(out.stdout).toBe('ok');
    expect(seen).toEqual(['POST https://h/aws_mwaa/cli Bearer t version', 'POST https://h/aws_mwaa/cli/ Bearer t version']);
  });

  it('runs one request at a time per environment, across clients in the process', async () => {
    let inFlight = 0;
    let most = 0;
    const fetchImpl = (async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      return new Response(JSON.stringify({ stdout: '', stderr: '' }), { status: 200 });
    }) as typeof fetch;
    const tokenApi: CliTokenApi = { createCliToken: async () => ({ token: 't', hostname: 'h' }) };
    const deploy = createMwaaCli(tokenApi, 'env-lane', 'https', '2.11.2', { fetch: fetchImpl });
    const check = createMwaaCli(tokenApi, 'env-lane', 'https', '2.11.2', { fetch: fetchImpl });
    await Promise.all([
      ...Array.from({ length: 4 }, () => deploy.run(['version'])),
      ...Array.from({ length: 4 }, () => check.run(['version'])),
    ]);
    expect(most).toBe(1);
    // Another environment has its own lane.
    const other = createMwaaCli(tokenApi, 'env-other', 'https', '2.11.2', { fetch: fetchImpl });
    most = 0;
    await Promise.all([deploy.run(['version']), other.run(['version'])]);
    expect(most).toBe(2);
  });

  it('a failed request does not block the lane', async () => {
    const { cli } = setup([500, 200]);
    await expect(cli.run(['version'])).rejects.toBeInstanceOf(MwaaCliError);
    expect((await cli.run(['version'])).stdout).toBe('out ✓\n');
  });
});

describe('decodeCliResponse', () => {
  it('keeps stdout and stderr only (MWAA sends no exit code; nothing may lean on one)', () => {
    const out = decodeCliResponse('version', JSON.stringify({ stdout: b64('a'), stderr: b64('b'), exitCode: 1 }));
    expect(out).toEqual({ stdout: 'a', stderr: 'b' });
  });
});

describe('airflowMessage', () => {
  it('is the exception line a traceback ends with, else the last line of stderr', () => {
    expect(airflowMessage({ stdout: 'log\n', stderr: 'Traceback (most recent call last):\n  File "x"\nValueError: bad\n\n' })).toBe(
      'ValueError: bad',
    );
    expect(airflowMessage({ stdout: '', stderr: 'warning\nDag id x not found\n' })).toBe('Dag id x not found');
    expect(airflowMessage({ stdout: 'only stdout\n', stderr: '' })).toBe('only stdout');
  });
});
