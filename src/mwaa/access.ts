/**
 * The two ways into an environment's Airflow, built once per command: the CLI token client (for
 * `dags trigger`, and as the fallback) and Airflow's REST API through the web login. The deployer
 * and the runtime check both build theirs here. Failures name the web server they came from
 * (remote-call.ts), so that aws-errors.ts can say which host did not answer or refused.
 */
import type { MWAAClient } from '@aws-sdk/client-mwaa';
import { airflowApi, type AirflowApi } from './airflow-api.js';
import { createMwaaCli, type MwaaCli } from './cli-client.js';
import { fetchTrusting } from './ca-bundle.js';
import { transportLimits, type TransportLimits } from './limits.js';
import { endpointHost, remoteCallOf, tagFailuresOfFetch, tagRemoteCall } from './remote-call.js';
import { createAirflowRest, WEB_LOGIN } from './rest-client.js';
import { airflowLine, type AirflowVersion } from './versions.js';

export interface MwaaAccessSettings {
  environmentName: string;
  webserverScheme: 'https' | 'http';
  /** The environment's Airflow version: the REST prefix follows its line, the CLI forms the version. */
  airflowVersion: AirflowVersion;
  /** PEM certificates the web server's certificate must chain to, instead of the default roots (ca-bundle.ts). */
  ca?: string | undefined;
}

export interface MwaaAccess {
  cli: MwaaCli;
  airflow: AirflowApi;
}

/**
 * `target` with every method that returns a promise rejecting with its error tagged as a call to
 * the web server `host()` last talked to (an answer the clients turned into an error: a 500, a
 * refused login), unless the error already names its call.
 */
function taggingWebServerErrors<T extends object>(target: T, host: () => string | undefined, apiPrefix: string): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(object, args);
        if (!(out instanceof Promise)) return out;
        return out.catch((error: unknown) => {
          const endpoint = host();
          if (remoteCallOf(error) === undefined && endpoint !== undefined) {
            tagRemoteCall(error, { service: 'Airflow web server', operation: String(property), endpoint, input: { apiPrefix } });
          }
          throw error;
        });
      };
    },
  });
}

export function mwaaAccess(
  client: Pick<MWAAClient, 'send'>,
  settings: MwaaAccessSettings,
  onFallback?: (message: string) => void,
  limits: TransportLimits = transportLimits(),
): MwaaAccess {
  const bounds = { requestTimeoutMs: limits.requestTimeoutMs, maxAnswerBytes: limits.maxAnswerBytes };
  let lastHost: string | undefined;
  const tagged = tagFailuresOfFetch(settings.ca === undefined ? fetch : fetchTrusting(settings.ca));
  const doFetch: typeof fetch = (resource, init) => {
    const url = new URL(resource instanceof Request ? resource.url : String(resource));
    lastHost = endpointHost(url.protocol, url.hostname, url.port);
    return tagged(resource, init);
  };
  const line = airflowLine(settings.airflowVersion);
  const apiPrefix = WEB_LOGIN[line].apiPrefix;
  const cli = taggingWebServerErrors(
    createMwaaCli(client, settings.environmentName, settings.webserverScheme, settings.airflowVersion, { ...bounds, fetch: doFetch }),
    () => lastHost,
    apiPrefix,
  );
  const rest = createAirflowRest(client, settings.environmentName, settings.webserverScheme, line, { ...bounds, fetch: doFetch });
  const options: Parameters<typeof airflowApi>[0] = { version: settings.airflowVersion, cli, rest, logTailBytes: limits.logTailBytes };
  if (onFallback) options.onFallback = onFallback;
  return { cli, airflow: taggingWebServerErrors(airflowApi(options), () => lastHost, apiPrefix) };
}
