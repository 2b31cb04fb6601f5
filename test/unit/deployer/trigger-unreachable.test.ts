/**
 * A deploy whose trigger cannot reach the web server: S3 and MWAA are the in-memory fakes, the web
 * server is the hostile world's stand-in that accepts and never answers (or a port nothing listens
 * on), reached through the same clients deploy builds (src/mwaa/access.ts) with a short request
 * deadline. The uploads and the update are done; the message, the --json document and the exit
 * code say the trigger could not reach the web server, name WebserverAccessMode only when it is
 * PRIVATE_ONLY, and say what to do.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errorDocument } from '../../../src/cli/report-error.js';
import { deploy } from '../../../src/deployer/deploy.js';
import { DeployProgress, withProgress } from '../../../src/deployer/done-so-far.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { TriggerUnreachableError } from '../../../src/deployer/trigger-unreachable.js';
import { ExitCode, RemoteError } from '../../../src/errors.js';
import { explainRemoteError } from '../../../src/mwaa/aws-errors.js';
import { mwaaAccess } from '../../../src/mwaa/access.js';
import { DEFAULT_LIMITS } from '../../../src/mwaa/limits.js';
import { freePort } from '../../../local-stack/src/net.js';
import { HostileHttpServer } from '../../support/hostile/http-server.js';
import { webServerService } from '../../support/hostile/services/web-server.js';
import { newState } from '../../support/hostile/world.js';
import { FakeClock, FakeMwaa, FakeS3 } from './fakes.js';
import { DEPLOY_SETTINGS, OPTIONS, targets } from './helpers.js';

const REQUEST_TIMEOUT_MS = 400;
const servers: HostileHttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The MWAA API's two token calls, answering with `hostname` as WebServerHostname (as MWAA does in any access mode). */
function tokenApi(hostname: string) {
  return {
    send: async (command: { constructor: { name: string } }) =>
      command.constructor.name === 'CreateCliTokenCommand'
        ? { CliToken: 'cli-token', WebServerHostname: hostname }
        : { WebToken: 'web-token', WebServerHostname: hostname, IamIdentity: 'deployer', AirflowIdentity: 'op' },
  } as never;
}

/** A web server that accepts and never answers (the hostile matrix's `never-answer`). */
async function silentWebServer(): Promise<string> {
  const server = new HostileHttpServer(webServerService(newState('2')), { behaviour: 'never-answer' });
  servers.push(server);
  await server.listen();
  return server.hostPort;
}

async function failedDeploy(webServer: string, accessMode: string | undefined) {
  const clock = new FakeClock();
  const s3 = new FakeS3();
  const mwaa = new FakeMwaa(clock, { name: 'env-x', ...(accessMode ? { webserverAccessMode: accessMode } : {}) });
  const access = mwaaAccess(
    tokenApi(webServer),
    { environmentName: 'env-x', webserverScheme: 'http', airflowVersion: '2.10.3' },
    undefined,
    {
      ...DEFAULT_LIMITS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
  );
  const events: DeployEvent[] = [];
  const progress = new DeployProgress();
  const deps = {
    s3,
    mwaa,
    cli: access.cli,
    airflow: access.airflow,
    clock,
    emit: (event: DeployEvent) => {
      events.push(event);
      progress.observe(event);
    },
    who: { user: 'tester', host: 'box', pid: 42 },
  };
  const started = performance.now();
  const raw = await deploy(DEPLOY_SETTINGS, targets(), { ...OPTIONS, trigger: true, dagMarker: 'm' }, deps).catch((e: unknown) => e);
  const ms = performance.now() - started;
  // As the deploy workflow (src/workflows/deploy.ts) and the CLI's top-level catch turn it into the message.
  const error = withProgress(explainRemoteError(raw, { envName: 'local', localStack: false }), progress, 'airflow-test');
  return { raw, error, ms, s3, mwaa, events };
}

describe('the trigger cannot reach the web server', () => {
  it('PRIVATE_ONLY: the uploads and update are done; the message names the access mode and --no-trigger; exit 1; --json has the facts', async () => {
    const web = await silentWebServer();
    const { raw, error, ms, s3, mwaa } = await failedDeploy(web, 'PRIVATE_ONLY');
    expect(raw).toBeInstanceOf(TriggerUnreachableError);
    // One request, cut at its deadline: nothing waits longer.
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    expect(mwaa.updates).toHaveLength(1);
    expect(mwaa.state.status).toBe('AVAILABLE');
    expect(s3.text('dags/gpu_server_cicd_dag.py')).toBe('dag v1');

    const lines = (error as Error).message.split('\n');
    expect(lines[0]).toBe(
      `The trigger could not reach the Airflow web server at ${web} (POST /aws_mwaa/login: did not answer within 0.4 s ` +
        '(the deadline of each request; MWAA_GPU_CICD_REQUEST_TIMEOUT changes it)).',
    );
    expect(lines[1]).toBe(
      "The environment's WebserverAccessMode is PRIVATE_ONLY: its web server answers only inside the environment's VPC.",
    );
    expect(lines[2]).toMatch(
      /^The deploy itself is done: uploaded s3:\/\/airflow-test\/requirements\.txt \(version v\d+\), .*; the environment update finished \(AVAILABLE\); the deploy record s3:\/\/airflow-test\/deployments\/records\/.*\.json was written; the deploy lock was released\.$/,
    );
    expect(lines[3]).toMatch(/^From here, deploy with --no-trigger .*trigger the DAG from inside the VPC, or from a host in it/);
    expect(lines).toHaveLength(4);

    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).exitCode).toBe(ExitCode.failure);
    const document = errorDocument(error);
    expect(document.error).toMatchObject({
      exitCode: 1,
      service: 'Airflow web server',
      operation: 'POST /aws_mwaa/login',
      endpoint: web,
      code: 'TimeoutError',
      kind: 'timeout',
      webserverAccessMode: 'PRIVATE_ONLY',
      trigger: 'not reached',
      deploy: { environmentUpdate: 'finished', updateStatus: 'AVAILABLE', lock: { released: true } },
    });
    expect(document.error.message).toBe((error as Error).message);
  });

  it('another access mode: the normal unreachable message, without naming the mode', async () => {
    const web = await silentWebServer();
    const { error } = await failedDeploy(web, 'PUBLIC_ONLY');
    const message = (error as Error).message;
    expect(message.split('\n')[0]).toContain(`could not reach the Airflow web server at ${web}`);
    expect(message).not.toMatch(/WebserverAccessMode|PRIVATE_ONLY/);
    expect(message).toContain('Check the network path to the web server');
    expect(message).toContain('The deploy itself is done:');
    // The document keeps the fact as GetEnvironment gave it.
    expect(errorDocument(error).error).toMatchObject({ webserverAccessMode: 'PUBLIC_ONLY', kind: 'timeout' });
  });

  it('nothing listening (ECONNREFUSED) is unreachable too, named with its code', async () => {
    const web = `127.0.0.1:${await freePort()}`;
    const { raw, error } = await failedDeploy(web, 'PRIVATE_ONLY');
    expect(raw).toBeInstanceOf(TriggerUnreachableError);
    expect((error as Error).message.split('\n')[0]).toMatch(
      new RegExp(`^The trigger could not reach the Airflow web server at ${web} \\(POST /aws_mwaa/login: .*ECONNREFUSED`),
    );
    expect(errorDocument(error).error).toMatchObject({ code: 'ECONNREFUSED', kind: 'unreachable', webserverAccessMode: 'PRIVATE_ONLY' });
  });

  it('a web server that answers (an error page) is not called unreachable, whatever the mode', async () => {
    const server = new HostileHttpServer(webServerService(newState('2')), { behaviour: 'html-404' });
    servers.push(server);
    await server.listen();
    const { raw } = await failedDeploy(server.hostPort, 'PRIVATE_ONLY');
    expect(raw).not.toBeInstanceOf(TriggerUnreachableError);
    expect(raw).toBeInstanceOf(Error);
  });
});
