/**
 * Turns the AWS SDK's most common failures into messages that say what to do next, naming what
 * this run actually used (the config's region, the AWS_PROFILE that is set) rather than listing
 * every knob there is.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';

interface SdkLike {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export interface AwsErrorContext {
  envName: string;
  localStack: boolean;
  /** The region the clients used (mwaa.region in the config). */
  region?: string;
  /** The process environment (AWS_PROFILE, AWS_CONFIG_FILE, ...); process.env when omitted. */
  env?: NodeJS.ProcessEnv;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH']);
const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'TokenProviderError',
]);

/** The profile names in the shared config and credentials files (`[profile x]`, `[x]`). */
export function sharedProfiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const files = [env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'), env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials')];
  const names = new Set<string>();
  for (const [index, file] of files.entries()) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const match of text.matchAll(/^\s*\[([^\]]+)\]\s*$/gm)) {
      const section = match[1]!.trim();
      // In the config file only `[default]` and `[profile x]` are profiles (`[sso-session x]` is not).
      if (index === 0) {
        if (section === 'default') names.add(section);
        else if (section.startsWith('profile ')) names.add(section.slice(8).trim());
      } else {
        names.add(section);
      }
    }
  }
  return [...names].sort();
}

function credentialsProblem(e: SdkLike, env: NodeJS.ProcessEnv): UserError {
  const profile = env.AWS_PROFILE;
  if (profile) {
    const known = sharedProfiles(env);
    if (!known.includes(profile)) {
      return new UserError(
        `AWS_PROFILE is "${profile}", but no profile of that name is in ~/.aws/config or ~/.aws/credentials` +
          `${known.length > 0 ? ` (there: ${known.join(', ')})` : ' (no profiles there)'}. ` +
          `Fix the name (--profile <name>), or create it: aws configure --profile ${profile}`,
        undefined,
        { cause: e },
      );
    }
    return new UserError(
      `The AWS profile "${profile}" gave no credentials (${e.message ?? e.name}). If it signs in with SSO, run: aws sso login --profile ${profile}`,
      undefined,
      { cause: e },
    );
  }
  return new UserError(
    'No AWS credentials found (tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the default profile, SSO, web identity and the instance role). ' +
      'Name a profile with --profile <name> (or AWS_PROFILE), or sign in: aws sso login / aws configure.',
    undefined,
    { cause: e },
  );
}

/** IAM said no (S3 answers AccessDenied, most JSON/query services AccessDeniedException). */
export function isAccessDenied(error: unknown): boolean {
  const e = error as SdkLike | null;
  return e?.name === 'AccessDenied' || e?.name === 'AccessDeniedException' || e?.$metadata?.httpStatusCode === 403;
}

export function explainAwsError(error: unknown, context: AwsErrorContext): unknown {
  if (error instanceof UserError || typeof error !== 'object' || error === null) return error;
  const env = context.env ?? process.env;
  const e = error as SdkLike;
  const cause = (e.cause ?? {}) as SdkLike;
  const code = e.code ?? cause.code;
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/.test(e.message ?? '')) return credentialsProblem(e, env);
  if (e.name !== undefined && REJECTED_CREDENTIALS.has(e.name)) {
    const refresh = env.AWS_PROFILE
      ? `aws sso login --profile ${env.AWS_PROFILE} (or new keys for that profile)`
      : 'new credentials (aws sso login, or new keys)';
    return new UserError(`AWS rejected the credentials: ${e.message ?? e.name}. Get ${refresh}.`, undefined, { cause: e });
  }
  if (code && NETWORK_CODES.has(code)) {
    const overrides = Object.keys(env).filter((name) => name.startsWith('AWS_ENDPOINT_URL'));
    const where = context.localStack
      ? ' Is the local stack up? Run: npx mwaa-gpu-cicd local status'
      : ` Check the network${context.region ? ` and the region (mwaa.region of ${context.envName} is ${context.region})` : ''}` +
        `${overrides.length > 0 ? `, and ${overrides.join(', ')}, which override the endpoints` : ''}.`;
    return new UserError(`Cannot reach an AWS endpoint (${code}: ${e.message ?? cause.message ?? ''}).${where}`, undefined, { cause: e });
  }
  if (isAccessDenied(e)) {
    return new UserError(
      `Access denied: ${e.message ?? e.name}. The deploying role needs the policy in dist-artifacts/${context.envName}/iam/deploy-role-policy.json (see docs/MWAA_SETUP.md).`,
      undefined,
      { cause: e },
    );
  }
  return error;
}
