/**
 * The one factory for AWS SDK clients. It follows the SDK's own conventions (default credential
 * chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL*) and adds only what the config says:
 * the region and, for the local stack, endpoint overrides. Loaded only by commands that talk to AWS.
 * Every client tags its failures with the call they came from (remote-call.ts).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { MWAAClient } from '@aws-sdk/client-mwaa';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tagFailuresOf } from './remote-call.js';

/** What the clients need from an environment's config (a ResolvedConfig satisfies it). */
export interface AwsSettings {
  mwaa: { region: string };
  aws: {
    endpoints: {
      s3?: string | undefined;
      secretsManager?: string | undefined;
      mwaa?: string | undefined;
      cloudWatch?: string | undefined;
    };
  };
  localStack: boolean;
}

/** The local stack checks no signatures; real environments use the default credential chain. */
export const LOCAL_STACK_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Pass these when an endpoint is overridden by config or the standard environment variables. */
function endpointFor(explicit: string | undefined, serviceEnvVar: string, env: NodeJS.ProcessEnv): string | undefined {
  return explicit ?? env[serviceEnvVar] ?? env.AWS_ENDPOINT_URL;
}

/** Where one client talks to: the region, an endpoint override, and whether it is the local stack. */
export interface ClientTarget {
  region: string;
  endpoint?: string | undefined;
  localStack?: boolean;
  /** SDK retry attempts (default: the SDK's). */
  maxAttempts?: number;
}

function common(target: ClientTarget) {
  return {
    region: target.region,
    ...(target.localStack ? { credentials: LOCAL_STACK_CREDENTIALS } : {}),
    ...(target.maxAttempts ? { maxAttempts: target.maxAttempts } : {}),
  };
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
  return tagFailuresOf(client);
}

export function createSecretsManagerClient(target: ClientTarget): SecretsManagerClient {
  return tagFailuresOf(new SecretsManagerClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint } : {}) }));
}

export function createMwaaClient(target: ClientTarget): MWAAClient {
  // CreateCliToken carries an `env.` host prefix and the others `api.`; an overridden endpoint
  // is one host, so the prefixes must go.
  return tagFailuresOf(
    new MWAAClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint, disableHostPrefix: true } : {}) }),
  );
}

export function createCloudWatchClient(target: ClientTarget): CloudWatchClient {
  return tagFailuresOf(new CloudWatchClient({ ...common(target), ...(target.endpoint ? { endpoint: target.endpoint } : {}) }));
}

export interface AwsClients {
  s3: S3Client;
  secretsManager: SecretsManagerClient;
  mwaa: MWAAClient;
  /** The alarms deploy manages (monitoring.alarms). */
  cloudWatch: CloudWatchClient;
}

export function createAwsClients(config: AwsSettings, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const base = { region: config.mwaa.region, localStack: config.localStack };
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
  };
}
