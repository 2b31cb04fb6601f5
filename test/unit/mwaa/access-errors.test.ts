/**
 * Failures of the Airflow web server, through the clients mwaaAccess builds and a real HTTP
 * server on 127.0.0.1: the explanation names the web server's host and the request.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { mwaaAccess } from '../../../src/mwaa/access.js';
import { explainRemoteError } from '../../../src/mwaa/aws-errors.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** MWAA's token calls, answering with a web server at `host`. */
function tokens(host: string) {
  return {
    send: async (command: { constructor: { name: string } }) =>
      command.constructor.name === 'CreateWebLoginTokenCommand'
        ? { WebToken: 'web-token', WebServerHostname: host }
        : { CliToken: 'cli-token', WebServerHostname: host },
  } as never;
}

const settings = { environmentName: 'env-x', webserverScheme: 'http' as const, airflowVersion: '2.11.2' as const };
const context = { envName: 'prod', localStack: false };

describe('the Airflow web server through mwaaAccess', () => {
  it('an HTTP 500 from the REST API names the host, the request and Airflow detail', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/aws_mwaa/login') {
        res.writeHead(302, { location: '/home', 'set-cookie': 'session=s1; Path=/' }).end();
      } else {
        res
          .writeHead(500, { 'content-type': 'application/problem+json' })
          .end(JSON.stringify({ detail: 'database is locked', status: 500 }));
      }
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const error = await mwaaAccess(tokens(host), settings)
      .airflow.dag('gpu_server_cicd_workflow')
      .catch((e: unknown) => e);
    const explained = explainRemoteError(error, context);
    expect(explained).toBeInstanceOf(RemoteError);
    expect((explained as Error).message.split('\n')).toEqual([
      `Airflow web server GET /api/v1/dags/gpu_server_cicd_workflow at ${host} failed: HTTP 500: database is locked`,
      'The Airflow web server had a problem: run the command again; if it keeps failing, look at the environment in the MWAA console.',
    ]);
    expect((explained as RemoteError).facts).toMatchObject({
      service: 'Airflow web server',
      endpoint: host,
      code: 'HTTP 500',
      kind: 'server-error',
    });
  });

  it('a web server nothing listens on names the host and the login request', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await mwaaAccess(tokens(host), settings)
      .airflow.dag('gpu_server_cicd_workflow')
      .catch((e: unknown) => e);
    const lines = (explainRemoteError(error, context) as Error).message.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Airflow web server POST /aws_mwaa/login at ${host} failed: ECONNREFUSED: connect ECONNREFUSED`));
    expect(lines[1]).toBe(
      `Nothing listens at ${host}: the connection was refused. Check the network path to the web server (a private environment is reachable only from its VPC), or rerun later.`,
    );
  });
});
