/**
 * What `init --mwaa-environment X` learns from the environment itself (MWAA GetEnvironment): its
 * Airflow version, and its region, account and source bucket from its ARNs. One bounded call
 * through the client factory (connect timeout, request deadline, answer cap); the SDK's own
 * credential chain and endpoint variables (AWS_ENDPOINT_URL_MWAA) apply as for every command.
 */
import { GetEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { bucketFromArn } from '../mwaa/arns.js';
import { caBundleFor } from '../mwaa/ca-bundle.js';
import { createMwaaClient, endpointFor } from '../mwaa/clients.js';
import { transportLimits } from '../mwaa/limits.js';
import { isMwaaAirflowVersion, type AirflowVersion } from '../mwaa/versions.js';

export interface EnvironmentFacts {
  /** The environment's version when this tool knows it (versions.ts); else `unknownVersion` says what it runs. */
  airflowVersion?: AirflowVersion;
  unknownVersion?: string;
  region?: string;
  accountId?: string;
  bucket?: string;
}

/** `arn:aws:airflow:eu-west-1:111122223333:environment/name` → region and account. */
function arnParts(arn: string | undefined): { region?: string; accountId?: string } {
  const parts = arn?.split(':') ?? [];
  if (parts.length < 6 || parts[0] !== 'arn') return {};
  return { ...(parts[3] ? { region: parts[3] } : {}), ...(/^\d{12}$/.test(parts[4] ?? '') ? { accountId: parts[4] } : {}) };
}

/** The environment's facts; throws what the client throws (no credentials, not found, no answer). */
export async function readEnvironmentFacts(name: string, region: string, env: NodeJS.ProcessEnv = process.env): Promise<EnvironmentFacts> {
  const client = createMwaaClient({
    region,
    endpoint: endpointFor(undefined, 'AWS_ENDPOINT_URL_MWAA', env),
    limits: transportLimits(env),
    ca: caBundleFor({ aws: {} }, env)?.pem,
  });
  try {
    const environment = (await client.send(new GetEnvironmentCommand({ Name: name }))).Environment ?? {};
    const version = environment.AirflowVersion;
    const bucket = bucketFromArn(environment.SourceBucketArn);
    return {
      ...(version && isMwaaAirflowVersion(version) ? { airflowVersion: version } : {}),
      ...(version && !isMwaaAirflowVersion(version) ? { unknownVersion: version } : {}),
      ...arnParts(environment.Arn),
      ...(bucket ? { bucket } : {}),
    };
  } finally {
    client.destroy();
  }
}
