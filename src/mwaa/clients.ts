/**
 * The one factory for AWS SDK clients. It follows the SDK's own conventions (default credential
 * chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL*) and adds only what the config says:
 * the region and, for the local stack, endpoint overrides. Loaded only by commands that talk to AWS.
 */
import { MWAAClient } from '@aws-sdk/client-mwaa';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** What the clients need from an environment's config (a ResolvedConfig satisfies it). */
export interface AwsSettings {
  mwaa: { region: string };
  aws: { endpoints: { s3?: string | undefined; secretsManager?: string | undefined; mwaa?: string | undefined } };
  localStack: boolean;
}

/** The local stack checks no signatures; real environments use the default credential chain. */
const LOCAL_STACK_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Pass these when an endpoint is overridden by config or the standard environment variables. */
function endpointFor(explicit: string | undefined, serviceEnvVar: string, env: NodeJS.ProcessEnv): string | undefined {
  return explicit ?? env[serviceEnvVar] ?? env.AWS_ENDPOINT_URL;
}

export interface AwsClients {
  s3: S3Client;
  secretsManager: SecretsManagerClient;
  mwaa: MWAAClient;
}

export function createAwsClients(config: AwsSettings, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const region = config.mwaa.region;
  const common = config.localStack ? { region, credentials: LOCAL_STACK_CREDENTIALS } : { region };
  const s3Endpoint = endpointFor(config.aws.endpoints.s3, 'AWS_ENDPOINT_URL_S3', env);
  const smEndpoint = endpointFor(config.aws.endpoints.secretsManager, 'AWS_ENDPOINT_URL_SECRETS_MANAGER', env);
  const mwaaEndpoint = endpointFor(config.aws.endpoints.mwaa, 'AWS_ENDPOINT_URL_MWAA', env);
  return {
    // Path-style addressing: an overridden endpoint (moto, MinIO) has no per-bucket DNS names.
    s3: new S3Client({ ...common, ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}) }),
    secretsManager: new SecretsManagerClient({ ...common, ...(smEndpoint ? { endpoint: smEndpoint } : {}) }),
    // CreateCliToken carries an `env.` host prefix and the others `api.`; an overridden endpoint
    // is one host, so the prefixes must go.
    mwaa: new MWAAClient({ ...common, ...(mwaaEndpoint ? { endpoint: mwaaEndpoint, disableHostPrefix: true } : {}) }),
  };
}
