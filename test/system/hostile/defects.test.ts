/**
 * Three defects, each as a user met it, driving the real CLI (`node dist/cli.js`) against the
 * hostile world on 127.0.0.1:
 *   - `deploy --plan --timeout 5s` against an MWAA endpoint that accepts and never answers hung
 *     with no output (the SDK clients had no connect or request timeout);
 *   - an answer of 2 GiB from the web server aborted V8 (SIGTRAP; a 600 MiB one cost 707 MiB of RSS);
 *   - a web server that ignores `offset` made `collect()` page forever, to a heap out of memory.
 * Each ends now within its bounds, exits 1 with a message that names the remote, and stays small.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/hostile/run-cli.js';
import { startWorld, type World, type WorldSpec } from '../../support/hostile/world.js';

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

async function world(spec: WorldSpec): Promise<World> {
  const started = await startWorld({ ssh: { connectTimeoutSeconds: 2, commandTimeoutSeconds: 5, connectRetries: 0 }, ...spec });
  worlds.push(started);
  return started;
}

/** The request deadline of these runs: every attempt of every request ends within it. */
const REQUEST_TIMEOUT_S = 2;
/** What a run may cost beyond its bounds on a loaded 2-core machine: starting node, loading the SDK. */
const SLACK_S = 15;
/** Peak RSS of a healthy run is about 100 MiB. */
const RSS_BOUND_MIB = 250;

function run(w: World, args: string[], killAfterS: number) {
  return runCli([...args, '--env', w.env, '--config', w.configPath], {
    cwd: w.dir,
    env: { MWAA_GPU_CICD_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S) },
    killAfterMs: killAfterS * 1000,
  });
}

/** Above the kill at 120 s: a regression then shows as what it is (killed, a signal), not as a test timeout. */
const TEST_TIMEOUT_MS = 150_000;

describe('defects met against a hostile world', { timeout: TEST_TIMEOUT_MS }, () => {
  it('deploy --plan --timeout 5s against an MWAA API that accepts and never answers ends, naming MWAA and its endpoint', async () => {
    const w = await world({ hostile: { remote: 'mwaa', behaviour: 'never-answer' } });
    const out = await run(w, ['deploy', '--plan', '--timeout', '5s'], 120);
    // Three attempts of GetEnvironment, each at its deadline, and the SDK's backoff between them.
    expect(out.killed).toBe(false);
    expect(out.seconds).toBeLessThan(3 * REQUEST_TIMEOUT_S + SLACK_S);
    expect(out.code).toBe(1);
    expect(out.stderr.split('\n')[0]).toContain(
      `MWAA GetEnvironment at ${w.hostPorts.mwaa} failed: ETIMEDOUT: did not answer within 2 s, 3 attempts`,
    );
  });

  it('a 2 GiB answer from the web server is refused at the cap: exit 1, not a V8 abort, and small', async () => {
    const w = await world({ hostile: { remote: 'webServer', behaviour: 'huge-body', only: ['GET variables'] } });
    const out = await run(w, ['check', '--compare-variables', '--json'], 120);
    expect(out.killed).toBe(false);
    expect(out.signal).toBeNull();
    expect(out.code).toBe(1);
    expect(out.peakRssMiB).toBeLessThan(RSS_BOUND_MIB);
    const report = JSON.parse(out.stdout) as { servers: Array<{ checks: Array<{ name: string; reason: string }> }> };
    const variables = report.servers[0]?.checks.find((c) => c.name === 'variables');
    expect(variables?.reason).toBe(
      `cannot read Airflow Variables: Airflow web server at ${w.hostPorts.webServer}: the answer is larger than 16 MiB, ` +
        'the most the toolkit reads from one request (GET /api/v1/variables)',
    );
    // Backpressure: the harness produced little more than the cap.
    expect(w.servers.webServer.stats.hugeBytesSent).toBeLessThan(64 * 1024 * 1024);
  });

  it('a web server that ignores offset ends the read of the Variables at once, in a few requests', async () => {
    const w = await world({ hostile: { remote: 'webServer', behaviour: 'endless-pages' } });
    const out = await run(w, ['check', '--compare-variables', '--json'], 120);
    expect(out.killed).toBe(false);
    expect(out.code).toBe(1);
    expect(out.peakRssMiB).toBeLessThan(RSS_BOUND_MIB);
    expect(out.stdout).toContain(`Airflow web server at ${w.hostPorts.webServer}: GET /variables answered offset 100 with the same page`);
    expect(w.servers.webServer.stats.operations['GET variables']).toBeLessThanOrEqual(2);
  });

  it('check --timeout bounds the whole check, whatever each command may take', async () => {
    // Each command may take 10 minutes (the default): the server accepts them and never answers.
    const w = await world({ hostile: { remote: 'ssh', behaviour: 'exec-stall' }, ssh: { commandTimeoutSeconds: 600 } });
    const out = await run(w, ['check', '--timeout', '3s'], 120);
    expect(out.killed).toBe(false);
    expect(out.seconds).toBeLessThan(3 + SLACK_S);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('The check did not finish within 3s (--timeout): 0 of 1 servers done.');
    const refused = await run(w, ['check', '--timeout', '0'], 60);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--timeout must be longer than 0');
  });
});
