/**
 * What an explanation of a failed AWS call may name from this environment's config: the region,
 * the endpoint overrides that are set, and which config field each request member came from
 * (`Bucket` → `mwaa.bucket`, `PluginsS3ObjectVersion` → the upload of `mwaa.pluginsKey`).
 */
import { ARTIFACT_KINDS, PINNED_KINDS } from '../artifacts/kinds.js';
import type { AwsErrorContext } from '../mwaa/aws-errors.js';
import type { RemoteService } from '../mwaa/remote-call.js';
import type { ResolvedConfig } from './resolved.js';

type ContextConfig = Pick<ResolvedConfig, 'envName' | 'localStack' | 'mwaa' | 'aws'>;

const ENDPOINT_FIELDS: Record<keyof ResolvedConfig['aws']['endpoints'], RemoteService> = {
  s3: 'S3',
  mwaa: 'MWAA',
  secretsManager: 'Secrets Manager',
  cloudWatch: 'CloudWatch',
  sts: 'STS',
};

/** AWS request members → the config field they come from. */
export function requestFields(): Record<string, string> {
  const fields: Record<string, string> = {
    Name: 'mwaa.environmentName',
    Bucket: 'mwaa.bucket',
    SourceBucketArn: 'mwaa.bucket',
    SecretId: 'secrets.sshKeyArn',
    DagS3Path: 'mwaa.dagsPrefix',
  };
  for (const kind of PINNED_KINDS) {
    const spec = ARTIFACT_KINDS[kind];
    fields[spec.environmentFields.path] = spec.keyField;
    fields[spec.environmentFields.version] = `the version S3 gave the upload of ${spec.keyField}; is versioning enabled on mwaa.bucket?`;
  }
  return fields;
}

export function awsErrorContext(config: ContextConfig, env: NodeJS.ProcessEnv = process.env): AwsErrorContext {
  const endpointFields: AwsErrorContext['endpointFields'] = {};
  // The local stack's endpoints are its own, not the user's overrides.
  if (!config.localStack) {
    for (const [name, service] of Object.entries(ENDPOINT_FIELDS) as Array<[keyof typeof ENDPOINT_FIELDS, RemoteService]>) {
      const value = config.aws.endpoints[name];
      if (value) endpointFields[service] = { field: `aws.endpoints.${name}`, value };
    }
  }
  return {
    envName: config.envName,
    localStack: config.localStack,
    region: config.mwaa.region,
    env,
    endpointFields,
    inputFields: requestFields(),
  };
}
