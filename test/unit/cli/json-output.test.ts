/**
 * Every command's --json output, success and failure, is one document that
 * docs/json-output.schema.json accepts, with `ok` and the command as typed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliAsync } from '../../support/cli.js';
import { validEnvelope } from '../../support/json-output-schema.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();
let project: string;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(() => {
  // One project for every case (useTmpDir's directories last one test).
  project = mkdtempSync(join(tmpdir(), 'json-output-'));
  const init = runCli(['init', '--json'], { cwd: project });
  expect(init.status, init.stderr).toBe(0);
  expect(validEnvelope(init.stdout)).toMatchObject({
    ok: true,
    command: 'init',
    config: 'config/config.yaml',
    environments: ['dev', 'local'],
  });
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('--json output', () => {
  it.each([
    ['generate', ['generate', '--env', 'dev', '--out', 'out'], 0, { ok: true, command: 'generate' }],
    ['generate --all', ['generate', '--all', '--out', 'out'], 0, { ok: true, command: 'generate' }],
    ['parse', ['parse'], 0, { ok: true, command: 'parse' }],
    ['local status (not up)', ['local', 'status'], 1, { ok: false, command: 'local status' }],
    ['an unknown environment', ['generate', '--env', 'nope'], 2, { ok: false, command: 'generate' }],
    ['an unknown option', ['check', '--env-name', 'dev'], 2, { ok: false, command: 'check' }],
    ['init over an existing config', ['init'], 2, { ok: false, command: 'init' }],
  ] as const)('%s', (_what, args, status, expected) => {
    const run = runCli([...args, '--json'], { cwd: project });
    expect(run.status, run.stderr).toBe(status);
    const document = validEnvelope(run.stdout);
    expect(document).toMatchObject(expected);
    if (status === 2) expect(document.error).toMatchObject({ exitCode: 2 });
  });

  it('generate lists each environment manifest', () => {
    const document = validEnvelope(runCli(['generate', '--env', 'dev', '--out', 'out', '--json'], { cwd: project }).stdout);
    expect(document.environments).toMatchObject([{ environment: 'dev', formatVersion: 1 }]);
  });

  it('an invalid config: the issues, in the envelope', () => {
    const cwd = tmp();
    writeFileSync(join(cwd, 'bad.yaml'), 'defaults: [\n');
    const document = validEnvelope(runCli(['generate', '--config', 'bad.yaml', '--json'], { cwd }).stdout);
    expect(document).toMatchObject({ ok: false, command: 'generate', error: { exitCode: 2, issues: [{ line: 1 }] } });
  });

  it.each([
    ['deploy', ['deploy', '--env', 'dev', '--plan']],
    ['check', ['check', '--env', 'dev']],
  ])('%s that cannot reach AWS', async (command, args) => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCliAsync([...args, '--json'], {
      cwd: project,
      env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_MAX_ATTEMPTS: '1' },
    });
    expect(run.status, run.stderr).toBe(1);
    expect(validEnvelope(run.stdout)).toMatchObject({ ok: false, command, error: { exitCode: 1 } });
  });
});
