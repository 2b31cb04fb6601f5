/** Turns the AWS SDK's most common failures into messages that say what to do next. */
import { UserError } from '../errors.js';

interface SdkLike {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH']);

export function explainAwsError(error: unknown, context: { envName: string; localStack: boolean }): unknown {
  if (error instanceof UserError || typeof error !== 'object' || error === null) return error;
  const e = error as SdkLike;
  const cause = (e.cause ?? {}) as SdkLike;
  const code = e.code ?? cause.code;
  if (e.name === 'CredentialsProviderError') {
    return new UserError(
      'No AWS credentials found (default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, web identity, instance role). ' +
        'Set AWS_PROFILE or run `aws sso login`.',
    );
  }
  if (code && NETWORK_CODES.has(code)) {
    return new UserError(
      `Cannot reach an AWS endpoint (${code}: ${e.message ?? cause.message ?? ''}).` +
        (context.localStack ? ' Is the local stack up? Run: npm run local -- status' : ' Check the network, AWS_REGION and AWS_ENDPOINT_URL*.'),
    );
  }
  if (e.name === 'AccessDenied' || e.name === 'AccessDeniedException' || e.$metadata?.httpStatusCode === 403) {
    return new UserError(
      `Access denied: ${e.message ?? e.name}. The deploying role needs the policy in dist-artifacts/${context.envName}/iam/deploy-role-policy.json (see docs/MWAA_SETUP.md).`,
    );
  }
  return error;
}
