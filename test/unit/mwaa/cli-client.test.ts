import { describe, expect, it } from 'vitest';
import { createMwaaCli, MwaaCliError, type CliTokenApi } from '../../../src/mwaa/cli-client.js';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function setup(statuses: number[] = []) {
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
  const cli = createMwaaCli(tokens, 'env-x', 'https', { fetch: fetchImpl, now: () => now });
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

  it('500 (unsupported command) is a MwaaCliError naming the command', async () => {
    const { cli } = setup([500]);
    const error = await cli.run(['db', 'reset']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MwaaCliError);
    expect((error as Error).message).toMatch(/HTTP 500 to `db reset`.*does not support/);
  });
});
