/**
 * The one factory for AWS SDK clients. It follows the SDK's own conventions (default credential
 * chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL*, and AWS_MAX_ATTEMPTS / AWS_RETRY_MODE for
 * retries: 3 attempts in the standard mode unless set) and adds what the config says (the region
 * and, for the local stack, endpoint overrides) and the bounds of limits.ts: a connect timeout, a
 * silence timeout, and a deadline on each attempt that covers the answer's body. Every client tags
 * its failures with the call they came from (remote-call.ts). Loaded only by commands that talk to AWS.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { MWAAClient } from '@aws-sdk/client-mwaa';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { caBundleFor } from './ca-bundle.js';
import { transportLimits, type TransportLimits } from './limits.js';
import { tagFailuresOf } from './remote-call.js';
import { type RequestHandlerLike, withRequestBounds } from './request-deadline.js';

/** What the clients need from an environment's config (a ResolvedConfig satisfies it). */
export interface AwsSettings {
  mwaa: { region: string };
  aws: {
    endpoints: {
      s3?: string | undefined;
      secretsManager?: string | undefined;
      mwaa?: string | undefined;
      cloudWatch?: string | undefined;
      sts?: string | undefined;
    };
    /** A CA bundle to trust instead of the default roots (ca-bundle.ts: also AWS_CA_BUNDLE, ca_bundle). */
    caBundle?: string | undefined;
  };
  localStack: boolean;
}

/** The local stack checks no signatures; real environments use the default credential chain. */
export const LOCAL_STACK_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Pass these when an endpoint is overridden by config or the standard environment variables. */
export function endpointFor(explicit: string | undefined, serviceEnvVar: string, env: NodeJS.ProcessEnv): string | undefined {
  return explicit ?? env[serviceEnvVar] ?? env.AWS_ENDPOINT_URL;
}

/** Where one client talks to: the region, an endpoint override, and whether it is the local stack. */
export interface ClientTarget {
  region: string;
  endpoint?: string | undefined;
  localStack?: boolean;
  /** SDK retry attempts (default: the SDK's). */
  maxAttempts?: number;
  /** Timeouts (default: transportLimits() of the process environment). */
  limits?: TransportLimits;
  /** PEM certificates to trust instead of the default roots (a CaBundle's pem). */
  ca?: string | undefined;
}

/** The https agent's options: the client's CA bundle, when it has one (the handler adds keep-alive). */
function httpsAgent(target: ClientTarget): { httpsAgent?: { ca: string } } {
  return target.ca ? { httpsAgent: { ca: target.ca } } : {};
}

function common(target: ClientTarget) {
  const limits = target.limits ?? transportLimits();
  return {
    region: target.region,
    ...(target.localStack ? { credentials: LOCAL_STACK_CREDENTIALS } : {}),
    ...(target.maxAttempts ? { maxAttempts: target.maxAttempts } : {}),
    // @smithy/node-http-handler 4 (S3, CloudWatch, Secrets Manager): socketTimeout is the longest
    // silence on an open connection. Its requestTimeout would also cut an upload that takes longer
    // than the deadline to send, so the deadline is ours (withRequestBounds) instead.
    requestHandler: { connectionTimeout: limits.connectTimeoutMs, socketTimeout: limits.requestTimeoutMs, ...httpsAgent(target) },
  };
}

/** S3 GetObject/PutObject/CopyObject (the SDK names the operation in `x-id`) move object bodies. */
function isObjectTransfer(request: { query?: Record<string, unknown> }): boolean {
  const operation = request.query?.['x-id'];
  return operation === 'GetObject' || operation === 'PutObject' || operation === 'CopyObject';
}

/**
 * Replaces the handler the client built with one that bounds each attempt, body included: the
 * request deadline, and the answer cap (object bodies have a larger one; aws-ports.ts reads each
 * with a cap of its own call, too).
 */
function bounded<C extends { config: unknown }>(client: C, service: string, target: ClientTarget): C {
  const limits = target.limits ?? transportLimits();
  const config = client.config as { requestHandler: RequestHandlerLike };
  config.requestHandler = withRequestBounds(config.requestHandler, service, {
    deadlineFor: (request) => (isObjectTransfer(request) ? limits.objectTransferTimeoutMs : limits.requestTimeoutMs),
    // Only an object read answers with the object; PutObject and CopyObject answer a few headers.
    maxAnswerBytesFor: (request) => (request.query?.['x-id'] === 'GetObject' ? limits.maxObjectBytes : limits.maxAnswerBytes),
    connectTimeoutMs: limits.connectTimeoutMs,
    silenceTimeoutMs: limits.requestTimeoutMs,
  });
  return client;
}

export function createS3Client(target: ClientTarget): S3Client {
  const client = new S3Client({
    ...common(target),
    // Path-style addressing: an overridden endpoint (moto, MinIO) has no per-bucket DNS names; and
    // checksums only where S3 requires them, which every S3-compatible server supports.
    ...(target.endpoint
      ? {
          endpoint: target.endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : {}),
  });
  return tagFailuresOf(bounded(client, 'S3', target));
}

export function createSecretsManagerClient(target: ClientTarget): SecretsManagerClient {
  const client = new SecretsManagerClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
  return tagFailuresOf(bounded(client, 'Secrets Manager', target));
}

export function createMwaaClient(target: ClientTarget): MWAAClient {
  const limits = target.limits ?? transportLimits();
  // CreateCliToken carries an `env.` host prefix and the others `api.`; an overridden endpoint
  // is one host, so the prefixes must go.
  const client = new MWAAClient({
    ...common(target),
    // @aws-sdk/client-mwaa 3.523 builds @smithy/node-http-handler 2, whose requestTimeout is the
    // longest silence on an open connection (it has no socketTimeout).
    requestHandler: { connectionTimeout: limits.connectTimeoutMs, requestTimeout: limits.requestTimeoutMs, ...httpsAgent(target) },
    ...(target.endpoint ? { endpoint: target.endpoint, disableHostPrefix: true } : {}),
  });
  return tagFailuresOf(bounded(client, 'MWAA', target));
}

export function createCloudWatchClient(target: ClientTarget): CloudWatchClient {
  const client = new CloudWatchClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
  return tagFailuresOf(bounded(client, 'CloudWatch', target));
}

export function createStsClient(target: ClientTarget): STSClient {
  const client = new STSClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint } : {}) });
  return tagFailuresOf(bounded(client, 'STS', target));
}

export interface AwsClients {
  s3: S3Client;
  secretsManager: SecretsManagerClient;
  mwaa: MWAAClient;
  /** The alarms deploy manages (monitoring.alarms). */
  cloudWatch: CloudWatchClient;
  /** GetCallerIdentity: the IAM identity deploy records name. */
  sts: STSClient;
}

export function createAwsClients(config: AwsSettings, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const base = {
    region: config.mwaa.region,
    localStack: config.localStack,
    limits: transportLimits(env),
    ca: caBundleFor(config, env)?.pem,
  };
  return {
    s3: createS3Client({ ...base, endpoint: endpointFor(config.aws.endpoints.s3, 'AWS_ENDPOINT_URL_S3', env) }),
    secretsManager: createSecretsManagerClient({
      ...base,
      endpoint: endpointFor(config.aws.endpoints.secretsManager, 'AWS_ENDPOINT_URL_SECRETS_MANAGER', env),
    }),
    mwaa: createMwaaClient({ ...base, endpoint: endpointFor(config.aws.endpoints.mwaa, 'AWS_ENDPOINT_URL_MWAA', env) }),
    cloudWatch: createCloudWatchClient({
      ...base,
      endpoint: endpointFor(config.aws.endpoints.cloudWatch, 'AWS_ENDPOINT_URL_CLOUDWATCH', env),
    }),
    sts: createStsClient({ ...base, endpoint: endpointFor(config.aws.endpoints.sts, 'AWS_ENDPOINT_URL_STS', env) }),
  };
}

/** `host:port` of a client's endpoint override, for messages; undefined for AWS's own endpoints. */
export async function overriddenEndpoint(client: { config: unknown }): Promise<string | undefined> {
  const endpoint = (client.config as { endpoint?: () => Promise<{ hostname?: string; port?: number; protocol?: string }> }).endpoint;
  if (typeof endpoint !== 'function') return undefined;
  try {
    const { hostname, port, protocol } = await endpoint();
    if (!hostname) return undefined;
    return `${hostname}:${port ?? (protocol === 'http:' ? 80 : 443)}`;
  } catch {
    return undefined;
  }
}
