/**
 * GetEnvironment's WebserverAccessMode, read to explain a web server that did not answer (see
 * web-server-access.ts). Its own module: it loads the MWAA SDK, which the modules that classify
 * the failure must not load before one happens.
 */
import { GetEnvironmentCommand, type MWAAClient } from '@aws-sdk/client-mwaa';

/** The environment's WebserverAccessMode; undefined when MWAA does not say (or cannot be asked: the explanation then goes without it). */
export async function readWebserverAccessMode(client: Pick<MWAAClient, 'send'>, environmentName: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetEnvironmentCommand({ Name: environmentName }))).Environment?.WebserverAccessMode;
  } catch {
    return undefined;
  }
}
