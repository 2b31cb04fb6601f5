/**
 * Which remote call an error came from: the service, the operation, the endpoint host it talked
 * to and the identifiers it named (bucket, key, environment, secret), attached to the error where
 * the call is made, so that the one explanation (aws-errors.ts) can name them wherever the error
 * is caught. The AWS SDK clients get it from one middleware on their stack (clients.ts); the
 * Airflow web server clients from a wrapped fetch (access.ts).
 */

/** The remotes a command talks to, as messages name them. */
export type RemoteService = 'S3' | 'MWAA' | 'CloudWatch' | 'Secrets Manager' | 'STS' | 'Airflow web server' | 'SSH';

export interface RemoteCall {
  service: RemoteService;
  /** The API operation (`UpdateEnvironment`), or `METHOD /path` for the web server. */
  operation: string;
  /** `host`, or `host:port` when the port is not the scheme's default; undefined before one was chosen. */
  endpoint?: string;
  /** The identifiers the request named (Bucket, Key, VersionId, Name, SecretId, ...): never a body. */
  input?: Record<string, string>;
  /** Milliseconds from the call to its failure (retries included). */
  elapsedMs?: number;
}

// A registered symbol: the CLI's bundles each carry their own copy of this module.
const REMOTE_CALL = Symbol.for('mwaa-gpu-cicd.remote-call');

/** The call an error came from, when one of our clients made it. */
export function remoteCallOf(error: unknown): RemoteCall | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [REMOTE_CALL]?: RemoteCall })[REMOTE_CALL];
}

/** Marks `error` as coming from `call` (the innermost call wins: a retry wrapper does not overwrite it). */
export function tagRemoteCall<T>(error: T, call: RemoteCall): T {
  if (typeof error !== 'object' || error === null || remoteCallOf(error) !== undefined) return error;
  try {
    Object.defineProperty(error, REMOTE_CALL, { value: call, enumerable: false, configurable: true });
  } catch {
    // A frozen error keeps no context; the explanation then says less.
  }
  return error;
}

/** `host`, with `:port` when the port is not the scheme's default. */
export function endpointHost(protocol: string, hostname: string, port: number | string | undefined): string {
  const scheme = protocol.replace(/:$/, '');
  const p = port === undefined || port === '' ? undefined : Number(port);
  const fallback = scheme === 'http' ? 80 : 443;
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  return p === undefined || p === fallback ? host : `${host}:${p}`;
}

/** The SDK client class names of the services we call. */
const SDK_SERVICES: Record<string, RemoteService> = {
  S3Client: 'S3',
  MWAAClient: 'MWAA',
  CloudWatchClient: 'CloudWatch',
  SecretsManagerClient: 'Secrets Manager',
  STSClient: 'STS',
};

/** Input members that identify what a call is about; bodies, tags and secrets are never copied. */
const IDENTIFYING_INPUT = [
  'Bucket',
  'Key',
  'VersionId',
  'CopySource',
  'Prefix',
  'Name',
  'SecretId',
  'ResourceARN',
  'AlarmName',
  'AlarmNamePrefix',
];

function identifiers(input: unknown): Record<string, string> | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const out: Record<string, string> = {};
  for (const name of IDENTIFYING_INPUT) {
    const value = (input as Record<string, unknown>)[name];
    if (typeof value === 'string') out[name] = value;
  }
  const alarms = (input as { AlarmNames?: unknown }).AlarmNames;
  if (Array.isArray(alarms)) out.AlarmNames = alarms.slice(0, 5).join(', ') + (alarms.length > 5 ? ', ...' : '');
  return Object.keys(out).length > 0 ? out : undefined;
}

const REQUEST_HOST = Symbol.for('mwaa-gpu-cicd.request-host');

interface HandlerContext {
  clientName?: string;
  commandName?: string;
  /** The resolved endpoint (before a host prefix), set once the endpoint is chosen. */
  endpointV2?: { url?: URL };
  [REQUEST_HOST]?: string;
}

interface HttpRequestLike {
  protocol?: string;
  hostname?: string;
  port?: number;
}

type Handler = (args: { input?: unknown; request?: unknown }) => Promise<unknown>;

/** The part of an SDK client's middleware stack this needs (every @smithy version has it). */
interface StackLike {
  add(middleware: (next: Handler, context: HandlerContext) => Handler, options: { step: string; name: string; priority?: string }): void;
}

/**
 * Adds the two middlewares to an SDK client: one on the outside that tags any failure of a call
 * (after all retries) with the service, operation, endpoint and identifiers, and one at the build
 * step that notes the host each request goes to (after host prefixes and bucket addressing).
 */
export function tagFailuresOf<C extends { middlewareStack: unknown }>(client: C): C {
  const stack = client.middlewareStack as StackLike;
  stack.add(
    (next, context) => async (args) => {
      const started = Date.now();
      try {
        return await next(args);
      } catch (error) {
        const service = SDK_SERVICES[context.clientName ?? ''];
        if (service) {
          const call: RemoteCall = {
            service,
            operation: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
            elapsedMs: Date.now() - started,
          };
          const url = context.endpointV2?.url;
          const endpoint = context[REQUEST_HOST] ?? (url ? endpointHost(url.protocol, url.hostname, url.port) : undefined);
          if (endpoint) call.endpoint = endpoint;
          const input = identifiers(args.input);
          if (input) call.input = input;
          tagRemoteCall(error, call);
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'mwaaGpuCicdTagFailures', priority: 'high' },
  );
  stack.add(
    (next, context) => async (args) => {
      const request = args.request as HttpRequestLike | undefined;
      if (request?.hostname) context[REQUEST_HOST] = endpointHost(request.protocol ?? 'https:', request.hostname, request.port);
      return next(args);
    },
    { step: 'build', name: 'mwaaGpuCicdRequestHost', priority: 'low' },
  );
  return client;
}

/**
 * A fetch for the Airflow web server: a request that fails (refused, reset, timed out) rejects
 * with its error tagged as a call to `Airflow web server`, `METHOD /path`, at the URL's host.
 */
export function tagFailuresOfFetch(doFetch: typeof fetch = fetch): typeof fetch {
  return async (resource, init) => {
    const started = Date.now();
    try {
      return await doFetch(resource, init);
    } catch (error) {
      const url = new URL(resource instanceof Request ? resource.url : String(resource));
      const method = (init?.method ?? (resource instanceof Request ? resource.method : 'GET')).toUpperCase();
      throw tagRemoteCall(error, {
        service: 'Airflow web server',
        operation: `${method} ${url.pathname}`,
        endpoint: endpointHost(url.protocol, url.hostname, url.port),
        elapsedMs: Date.now() - started,
      });
    }
  };
}
