/**
 * The one explanation of a failed remote call (AWS through the SDK clients, the Airflow web
 * server through its fetch), for every command that makes one. The first line names the service,
 * the operation, the endpoint, the error code and the remote's own message; the lines after it
 * say what that means and what to do, naming what this run used (the config's fields and region,
 * the AWS_PROFILE and AWS_ENDPOINT_URL* that are set) rather than listing every knob there is.
 */
import { createBucketCommand, versioningCommand } from './bucket-setup.js';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RemoteError, type RemoteFacts, type RemoteFailureKind, UserError } from '../errors.js';
import { remoteCallOf, type RemoteCall, type RemoteService } from './remote-call.js';
// Only types from the web server clients: this module must not load the AWS SDK (the CLI imports it
// before it knows whether a command talks to AWS at all).
import type { MwaaCliError } from './cli-client.js';
import type { AirflowRestError, WebLoginDeniedError } from './rest-client.js';

interface SdkLike {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  cause?: unknown;
  $fault?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; attempts?: number };
  $response?: { statusCode?: number; headers?: Record<string, string> };
  Region?: string;
  Endpoint?: string;
}

export interface AwsErrorContext {
  envName: string;
  localStack: boolean;
  /** The region the clients used (mwaa.region in the config). */
  region?: string;
  /** The process environment (AWS_PROFILE, AWS_ENDPOINT_URL*, ...); process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** Config fields that override a service's endpoint, with their values, when set. */
  endpointFields?: Partial<Record<RemoteService, { field: string; value: string }>>;
  /** What an AWS request member comes from in the config (`Bucket` → `mwaa.bucket`, `Name` → ...). */
  inputFields?: Record<string, string>;
}

/** The standard variables that override each service's endpoint (the SDK reads them; clients.ts too). */
const ENDPOINT_VARIABLES: Record<Exclude<RemoteService, 'Airflow web server' | 'SSH'>, string> = {
  S3: 'AWS_ENDPOINT_URL_S3',
  MWAA: 'AWS_ENDPOINT_URL_MWAA',
  'Secrets Manager': 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  CloudWatch: 'AWS_ENDPOINT_URL_CLOUDWATCH',
  STS: 'AWS_ENDPOINT_URL_STS',
};

/** The deploying role's policy, which covers every AWS call deploy and check make. */
export function deployPolicyPath(envName: string): string {
  return `dist-artifacts/${envName}/iam/deploy-role-policy.json`;
}

/**
 * Network codes of a request that got no answer at all: nothing listens, no route, no name, a
 * connect that timed out, or a connection closed before the status line. A refused TLS
 * certificate is not here: something answered.
 */
export const NO_ANSWER_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNRESET',
  'UND_ERR_SOCKET',
]);
/** Of those, the ones that are a connect that timed out. */
export const CONNECT_TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Connection failures: nothing (or nothing complete, or nothing trusted) came back. */
const NETWORK_CODES = new Set([
  ...NO_ANSWER_CODES,
  'EPIPE',
  'ECONNABORTED',
  'EPROTO',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const TIMEOUT_CODES = new Set([...CONNECT_TIMEOUT_CODES, 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeoutError']);

/** The codes AWS answers when it throttles (the SDK retries them with a longer back-off). */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
/** AWS's own failures: retried by the SDK, worth a rerun. */
const SERVER_CODES = new Set([
  'InternalServerException',
  'InternalServerError',
  'InternalError',
  'InternalFailure',
  'InternalServiceError',
  'InternalServiceFault',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailure',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'AuthFailure',
  'InvalidToken',
  'TokenRefreshRequired',
  'RequestExpired',
  'RequestTimeTooSkewed',
  'TokenProviderError',
]);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'Forbidden', 'NotAuthorized', 'UnauthorizedOperation']);
const INVALID_REQUEST = new Set([
  'ValidationException',
  'ValidationError',
  'InvalidParameterException',
  'InvalidParameterValue',
  'InvalidParameterValueException',
  'InvalidParameterCombination',
  'InvalidRequest',
  'InvalidRequestException',
  'InvalidArgument',
  'MissingParameter',
  'MalformedQueryString',
  'InvalidQueryParameter',
  'InvalidNextToken',
  'InvalidAction',
  'InvalidObjectState',
  'ObjectNotInActiveTierError',
  'InvalidWriteOffset',
  'TooManyParts',
  'EncryptionTypeMismatch',
  'LimitExceeded',
  'LimitExceededFault',
  'DecryptionFailure',
  'UnknownOperationException',
]);
const NOT_FOUND = new Set([
  'ResourceNotFoundException',
  'ResourceNotFound',
  'NoSuchBucket',
  'NoSuchKey',
  'NoSuchVersion',
  'NoSuchUpload',
  'NotFound',
]);
const WRONG_REGION = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException', 'Redirect']);

/** The IAM action each call needs, where it is not `<service prefix>:<Operation>`. */
const IAM_ACTIONS: Record<string, string> = {
  'S3 HeadObject': 's3:GetObject',
  'S3 ListObjectsV2': 's3:ListBucket',
  'S3 CopyObject': 's3:PutObject and s3:GetObjectVersion',
  'CloudWatch PutMetricAlarm': 'cloudwatch:PutMetricAlarm (and cloudwatch:TagResource for a new alarm)',
};
const IAM_PREFIXES: Partial<Record<RemoteService, string>> = {
  S3: 's3',
  MWAA: 'airflow',
  'Secrets Manager': 'secretsmanager',
  CloudWatch: 'cloudwatch',
};

export function iamActionOf(call: Pick<RemoteCall, 'service' | 'operation' | 'input'>): string | undefined {
  const known = IAM_ACTIONS[`${call.service} ${call.operation}`];
  if (known) return known;
  const prefix = IAM_PREFIXES[call.service];
  if (!prefix) return undefined;
  // Reading a given version is its own action.
  if (call.service === 'S3' && call.input?.VersionId && /^(GetObject|HeadObject)$/.test(call.operation)) return 's3:GetObjectVersion';
  return `${prefix}:${call.operation}`;
}

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

function missingCredentials(e: SdkLike, env: NodeJS.ProcessEnv): string {
  const profile = env.AWS_PROFILE;
  if (profile) {
    const known = sharedProfiles(env);
    if (!known.includes(profile)) {
      return (
        `AWS_PROFILE is "${profile}", but no profile of that name is in ~/.aws/config or ~/.aws/credentials` +
        `${known.length > 0 ? ` (there: ${known.join(', ')})` : ' (no profiles there)'}. ` +
        `Fix the name (--profile <name>), or create it: aws configure --profile ${profile}`
      );
    }
    return `The AWS profile "${profile}" gave no credentials (${e.message ?? e.name}). If it signs in with SSO, run: aws sso login --profile ${profile}`;
  }
  return (
    'No AWS credentials found (tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the default profile, SSO, web identity and the instance role). ' +
    'Name a profile with --profile <name> (or AWS_PROFILE), or sign in: aws sso login / aws configure.'
  );
}

function isSdkError(e: SdkLike): boolean {
  return e.$metadata !== undefined || e.$fault !== undefined;
}

function headerOf(e: SdkLike, name: string): string | undefined {
  const headers = e.$response?.headers ?? {};
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The facts of an AWS SDK error: its code, AWS's message, status, request id and attempts. */
function sdkFacts(e: SdkLike): {
  code: string;
  message?: string;
  status?: number;
  requestId?: string;
  attempts?: number;
  parsed: boolean;
} {
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const requestId = e.$metadata?.requestId ?? headerOf(e, 'x-amz-request-id') ?? headerOf(e, 'x-amzn-requestid');
  // A body the SDK could not read as the protocol's error document.
  const unparsed = e.name === 'SyntaxError' || /Deserialization error/.test(e.message ?? '') || e.message === 'UnknownError';
  // awsQueryCompatible services (CloudWatch) carry the query protocol's code beside the shape name.
  const code = typeof e.Code === 'string' && e.Code !== '' ? e.Code : (e.name ?? 'Error');
  const facts: ReturnType<typeof sdkFacts> = { code, parsed: !unparsed };
  if (!unparsed && e.message) facts.message = e.message;
  if (status !== undefined) facts.status = status;
  if (requestId) facts.requestId = requestId;
  if (e.$metadata?.attempts !== undefined) facts.attempts = e.$metadata.attempts;
  return facts;
}

function retried(attempts: number | undefined): string {
  if (attempts === undefined) return 'the SDK retried it';
  if (attempts <= 1) return 'not retried';
  return `retried ${attempts - 1} time${attempts === 2 ? '' : 's'} (${attempts} attempts)`;
}

/** What a connection failure says about the endpoint. */
function unanswered(code: string, host: string): string {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `The name ${host.replace(/:\d+$/, '')} does not resolve (${code})`;
  if (code === 'ECONNREFUSED') return `Nothing listens at ${host}: the connection was refused`;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || code === 'UND_ERR_SOCKET') {
    return `${host} closed the connection before it answered`;
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `There is no route to ${host}`;
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO') {
    return `${host}'s TLS certificate or handshake was refused (${code}): is it the endpoint you meant, and is its CA trusted (AWS_CA_BUNDLE, or aws.caBundle in the config)?`;
  }
  return `Nothing answered at ${host}`;
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The endpoint overrides in force for a service: the config's field and the variables that are set. */
function overridesOf(service: RemoteService, context: AwsErrorContext, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const field = context.endpointFields?.[service];
  if (field) out.push(`${field.field} in the config (${field.value})`);
  const specific = service in ENDPOINT_VARIABLES ? ENDPOINT_VARIABLES[service as keyof typeof ENDPOINT_VARIABLES] : undefined;
  for (const name of [specific, 'AWS_ENDPOINT_URL']) {
    if (name && env[name]) out.push(`${name}=${env[name]}`);
  }
  return out;
}

/** Where to look when an endpoint does not answer. */
function reachHint(service: RemoteService, context: AwsErrorContext, env: NodeJS.ProcessEnv): string {
  if (service === 'Airflow web server') {
    return 'Check the network path to the web server (a private environment is reachable only from its VPC), or rerun later.';
  }
  if (context.localStack) return 'Is the local stack up? Run: npx mwaa-gpu-cicd local status';
  const overrides = overridesOf(service, context, env);
  const region = context.region ? ` and the region (mwaa.region of ${context.envName} is ${context.region})` : '';
  return `Check the network${region}${overrides.length > 0 ? `, and ${overrides.join(', ')}, which override${overrides.length === 1 ? 's' : ''} the endpoint` : ''}.`;
}

/**
 * The request members AWS's message names: quoted as AWS's validation messages quote them
 * (`Value 'x' at 'pluginsS3ObjectVersion' failed ...`), or spelt exactly as the API spells them.
 */
function namedFields(message: string, inputFields: Record<string, string>): Array<[member: string, field: string]> {
  const found: Array<[string, string]> = [];
  for (const [member, field] of Object.entries(inputFields)) {
    const camel = `${member.charAt(0).toLowerCase()}${member.slice(1)}`;
    const quoted = new RegExp(`'(${member}|${camel})'`);
    const exact = new RegExp(`(^|[^A-Za-z0-9])${member}($|[^A-Za-z0-9])`);
    if (quoted.test(message) || exact.test(message)) found.push([member, field]);
  }
  return found;
}

function describeInput(call: RemoteCall | undefined): string {
  const input = call?.input ?? {};
  if (input.Bucket && input.Key) return `s3://${input.Bucket}/${input.Key}${input.VersionId ? ` (version ${input.VersionId})` : ''}`;
  if (input.Bucket) return `bucket ${input.Bucket}`;
  if (input.Name) return `environment ${input.Name}`;
  if (input.SecretId) return `secret ${input.SecretId}`;
  if (input.ResourceARN) return input.ResourceARN;
  if (input.AlarmName) return `alarm ${input.AlarmName}`;
  if (input.AlarmNames) return `alarm ${input.AlarmNames}`;
  return 'the resource';
}

function field(context: AwsErrorContext, member: string): string {
  const name = context.inputFields?.[member];
  return name ? ` (${name})` : '';
}

/** What is missing and how to create or name it. */
function notFoundHint(code: string, call: RemoteCall | undefined, context: AwsErrorContext): string {
  const input = call?.input ?? {};
  const region = context.region ?? 'this region';
  switch (call?.service) {
    case 'MWAA':
      return context.localStack
        ? `The local stack has no environment ${input.Name ?? ''}${field(context, 'Name')}: is it up with this config? Run: npx mwaa-gpu-cicd local status`
        : `No MWAA environment named ${input.Name ?? '(unnamed)'}${field(context, 'Name')} in ${region}: create it first (see docs/MWAA_SETUP.md), or fix the name and mwaa.region.`;
    case 'Secrets Manager':
      return (
        `No secret ${input.SecretId ?? ''}${field(context, 'SecretId')} in ${region}: create it with the SSH private key ` +
        `(aws secretsmanager create-secret --name gpu-server-ssh-key --secret-string file://<key file> --region ${region}) ` +
        'and put its ARN in the config, or fix the ARN.'
      );
    case 'CloudWatch':
      return `${describeInput(call)} no longer exists (deleted while this ran?). Run the command again: it plans from what exists now.`;
    default:
      break;
  }
  if (code === 'NoSuchBucket') {
    const bucket = input.Bucket ?? '(unnamed)';
    return (
      `No bucket named ${bucket}${field(context, 'Bucket')}. Create it (name starting with airflow-) and enable versioning: ` +
      `${createBucketCommand(bucket, context.region ?? '<region>')} && ${versioningCommand(bucket)}`
    );
  }
  if (call?.operation === 'CopyObject') {
    return `The object version to restore, ${input.CopySource ?? describeInput(call)}, no longer exists (deleted from the bucket): choose another deploy record to roll back to, or deploy again.`;
  }
  return `${describeInput(call)} does not exist. Run the command again: it plans from what the bucket holds now.`;
}

/** Builds the message for AWS errors and web server transport failures. */
function explainTagged(e: SdkLike, call: RemoteCall | undefined, context: AwsErrorContext, env: NodeJS.ProcessEnv): unknown {
  const service: RemoteService | undefined = call?.service;
  const cause = (e.cause ?? {}) as SdkLike;
  const networkCode = [e.code, cause.code].find((c): c is string => typeof c === 'string' && NETWORK_CODES.has(c));
  const sdk = isSdkError(e) ? sdkFacts(e) : undefined;
  const answered = sdk?.status !== undefined;
  const where = call ? `${call.service} ${call.operation}${call.endpoint ? ` at ${call.endpoint}` : ''}` : 'AWS';
  const first = (code: string, message: string | undefined) => `${where} failed: ${code}${message ? `: ${oneLine(message)}` : ''}`;
  /** `shown`: what the first line says after the code when it is not the remote's own message (our deadline's). */
  const make = (kind: RemoteFailureKind, code: string, remoteMessage: string | undefined, lines: string[], shown = remoteMessage) => {
    const facts: RemoteFacts = { service: service ?? 'AWS', operation: call?.operation ?? 'unknown', code, kind };
    if (call?.endpoint) facts.endpoint = call.endpoint;
    if (remoteMessage) facts.remoteMessage = remoteMessage;
    if (sdk?.status !== undefined) facts.httpStatus = sdk.status;
    if (sdk?.requestId) facts.requestId = sdk.requestId;
    if (sdk?.attempts !== undefined) facts.attempts = sdk.attempts;
    return new RemoteError([first(code, shown), ...lines].join('\n'), facts, { cause: e });
  };

  // No credentials to sign with: nothing was sent.
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/.test(e.message ?? '')) {
    return make('credentials-missing', e.name ?? 'CredentialsProviderError', e.message, [missingCredentials(e, env)]);
  }
  // Nothing (complete) came back: refused, reset, unresolvable, or slower than the bound.
  const timedOut =
    !answered &&
    (TIMEOUT_NAMES.has(e.name ?? '') ||
      TIMEOUT_NAMES.has(cause.name ?? '') ||
      (networkCode !== undefined && TIMEOUT_CODES.has(networkCode)));
  if (timedOut || (!answered && networkCode)) {
    const code = networkCode ?? (TIMEOUT_NAMES.has(e.name ?? '') ? e.name! : (cause.name ?? 'TimeoutError'));
    const detail = e.message && e.message !== 'fetch failed' ? e.message : (cause.message ?? e.message);
    const own = e instanceof UserError;
    const bound = (e as { deadlineMs?: number }).deadlineMs ?? /(\d+)\s*ms/.exec(detail ?? '')?.[1];
    const host = call?.endpoint ?? 'the endpoint';
    const attempts = sdk?.attempts ?? 1;
    // Our own deadline: what the endpoint did goes in the first line, where the AWS message would.
    const ownReason = own ? (e as { reason?: unknown }).reason : undefined;
    const lines = own
      ? typeof ownReason === 'string'
        ? [`Check the endpoint and the network. ${reachHint(service ?? 'S3', context, env)}`]
        : [detail ?? '']
      : timedOut
        ? [
            `${host} did not answer within ${bound ? seconds(Number(bound)) : call?.elapsedMs !== undefined ? `about ${seconds(call.elapsedMs)}` : 'the request timeout'}` +
              `${attempts > 1 ? ` (retried ${attempts - 1} time${attempts === 2 ? '' : 's'})` : ''}. ${reachHint(service ?? 'S3', context, env)}`,
          ]
        : [`${unanswered(code, host)}${attempts > 1 ? ` (${attempts} attempts)` : ''}. ${reachHint(service ?? 'S3', context, env)}`];
    // The remote said nothing of its own here: our deadline's words are shown, never reported as its message.
    const remoteMessage = own ? undefined : detail;
    return make(
      timedOut ? 'timeout' : 'unreachable',
      code,
      remoteMessage,
      lines,
      typeof ownReason === 'string' ? ownReason : remoteMessage,
    );
  }
  // An endpoint override that is not a URL: the SDK cannot even build the request.
  if (e.name === 'TypeError' && /Invalid URL/.test(e.message ?? '') && service) {
    const overrides = overridesOf(service, context, env);
    return make('bad-endpoint', 'Invalid URL', e.message, [
      overrides.length > 0
        ? `${overrides.join(' and ')} ${overrides.length === 1 ? 'is' : 'are'} not a URL the SDK can use: give one such as https://host:port, or unset it.`
        : 'The endpoint is not a URL the SDK can use: check the AWS_ENDPOINT_URL* variables and aws.endpoints in the config.',
    ]);
  }
  // Any other error of ours raised inside the call (an answer over its cap): its message says it.
  if (e instanceof UserError) return make(/TooLarge/.test(e.name) ? 'too-large' : 'refused', e.name, undefined, [e.message]);
  if (!sdk) return undefined;

  const { message } = sdk;
  const status = sdk.status;
  // A HEAD answer has no body, and a body the SDK could not read has no code: the status is all there is.
  const code = (!sdk.parsed || sdk.code === 'Unknown' || sdk.code === 'UnknownError') && status !== undefined ? `HTTP ${status}` : sdk.code;
  // Something answered, but not an AWS API: an HTML page, a 404 without AWS's request id.
  const unknownCode = !sdk.parsed || code === 'NotFound' || code.startsWith('HTTP ');
  if (!sdk.requestId && unknownCode && (status === undefined || status < 500)) {
    const overrides = service ? overridesOf(service, context, env) : [];
    const type = headerOf(e, 'content-type');
    const what = `HTTP ${status ?? '?'}${type ? ` (${type.split(';')[0]})` : ''}`;
    const fix =
      overrides.length > 0
        ? `Check ${overrides.join(' and ')}: ${overrides.length === 1 ? 'it points' : 'they point'} at something that is not ${service ?? 'AWS'}.`
        : `Check the AWS_ENDPOINT_URL* variables and aws.endpoints in the config${context.region ? `, and the region (mwaa.region of ${context.envName} is ${context.region})` : ''}.`;
    return make('not-aws', `HTTP ${status ?? '?'}`, undefined, [
      `${call?.endpoint ?? 'The endpoint'} answered ${what} without an AWS request id: it is not an AWS API. ${fix}`,
    ]);
  }
  if (REJECTED_CREDENTIALS.has(code) || REJECTED_CREDENTIALS.has(e.name ?? '')) {
    const refresh = env.AWS_PROFILE
      ? `aws sso login --profile ${env.AWS_PROFILE} (or new keys for that profile)`
      : 'new credentials (aws sso login, or new keys)';
    return make('credentials-rejected', code, message, [`AWS rejected the credentials. Get ${refresh}, then run the command again.`]);
  }
  if (THROTTLING_CODES.has(code) || THROTTLING_CODES.has(e.name ?? '') || status === 429) {
    return make('throttled', code, message, [
      `AWS throttled the request: too many requests to ${service ?? 'the service'} from this account and region; ${retried(sdk.attempts)}. Try again in a few minutes.`,
    ]);
  }
  if (WRONG_REGION.has(code)) {
    const elsewhere =
      e.Region ?? /expecting '([a-z0-9-]+)'/.exec(message ?? '')?.[1] ?? (e.Endpoint ? `the one of ${e.Endpoint}` : undefined);
    return make('wrong-region', code, message, [
      `The bucket is in another region${elsewhere ? ` (${elsewhere})` : ''} than the clients use${context.region ? ` (mwaa.region of ${context.envName} is ${context.region})` : ''}: set mwaa.region to the bucket's region, or use a bucket in the environment's region.`,
    ]);
  }
  const accessDenied = () => {
    const action = call ? iamActionOf(call) : undefined;
    return make('access-denied', code, message, [
      `The credentials in use may not ${action ? `call ${action} on ${describeInput(call)}` : 'make this call'}: attach ${deployPolicyPath(context.envName)} ` +
        `to the role or user that runs this (run generate first if it is not there; see docs/MWAA_SETUP.md).`,
    ]);
  };
  const serverError = () =>
    code === 'HTTP 503' && service === 'S3'
      ? // S3 answers a HEAD without a body: 503 is SlowDown as often as an outage.
        make('throttled', code, message, [
          `S3 answered 503 without a body (a HEAD request): it is throttling (SlowDown) or unavailable; ${retried(sdk.attempts)}. Try again in a few minutes.`,
        ])
      : make('server-error', code, message, [
          `AWS had a problem answering (HTTP ${status ?? '5xx'}); ${retried(sdk.attempts)}. Run the command again; ` +
            `if it keeps failing, see the AWS Health Dashboard for ${service ?? 'the service'}${context.region ? ` in ${context.region}` : ''}.`,
        ]);
  const invalid = () => {
    const named = namedFields(message ?? '', context.inputFields ?? {});
    const which =
      named.length > 0
        ? `AWS refused ${named.map(([member, from]) => `${member} (from ${from})`).join(' and ')} in the request.`
        : 'AWS refused the request as invalid; its message says which value.';
    return make('invalid-request', code, message, [`${which} ${invalidHint(code, call, named.length > 0)}`.trim()]);
  };
  // By AWS's code first; by the status only where the code says nothing (a HEAD answer).
  if (ACCESS_DENIED.has(code)) return accessDenied();
  if (NOT_FOUND.has(code)) return make('not-found', code, message, [notFoundHint(code, call, context)]);
  if (SERVER_CODES.has(code)) return serverError();
  if (INVALID_REQUEST.has(code)) return invalid();
  if (status === 403) return accessDenied();
  if (status === 404) return make('not-found', code, message, [notFoundHint(code, call, context)]);
  if ((status !== undefined && status >= 500) || e.$fault === 'server') return serverError();
  if ((status !== undefined && status >= 400) || e.$fault === 'client') return invalid();
  return make('refused', code, message, [`${service ?? 'AWS'} refused the call (HTTP ${status ?? '?'}).`]);
}

/** What to do about a refused request, for the codes with one answer. */
function invalidHint(code: string, call: RemoteCall | undefined, named: boolean): string {
  if (code === 'DecryptionFailure') return 'The credentials need kms:Decrypt on the KMS key that encrypts the secret.';
  if (code === 'LimitExceeded' || code === 'LimitExceededFault')
    return 'An account limit is reached: raise it (Service Quotas) or delete unused resources.';
  if (code === 'InvalidObjectState' || code === 'ObjectNotInActiveTierError') return 'The object is archived: restore it first.';
  if (call?.service === 'MWAA' && call.operation === 'UpdateEnvironment') {
    return `${named ? 'Fix that setting' : 'Fix the setting it names'}, or read the environment's own settings in the MWAA console.`;
  }
  return named ? 'Fix that setting in the config.' : '';
}

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > 400 ? `${flat.slice(0, 400)}...` : flat;
}

/** Airflow's error bodies carry `detail` (v1: problem+json, v2: FastAPI); show that when present. */
function airflowDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown; title?: unknown };
    if (typeof parsed.detail === 'string') return parsed.detail;
    if (parsed.detail !== undefined) return JSON.stringify(parsed.detail);
    if (typeof parsed.title === 'string') return parsed.title;
  } catch {
    // not JSON
  }
  return text;
}

/** The web server answered, but not as asked: status errors of the REST and CLI clients (by name). */
function explainWebServer(error: UserError, call: RemoteCall, context: AwsErrorContext): RemoteError | undefined {
  let status: number;
  let operation = call.operation;
  let detail: string | undefined;
  let unsupportedCommand = false;
  if (error.name === 'AirflowRestError') {
    const e = error as AirflowRestError;
    status = e.status;
    detail = e.responseText ? airflowDetail(e.responseText) : undefined;
    operation = `${e.method} ${call.input?.apiPrefix ?? ''}${e.path}`;
  } else if (error.name === 'MwaaCliError') {
    const e = error as MwaaCliError;
    status = e.status;
    operation = `POST /aws_mwaa/cli (${e.command.split(' ').slice(0, 2).join(' ')})`;
    detail = e.responseText || undefined;
    unsupportedCommand = status === 500;
  } else if (error.name === 'WebLoginDeniedError') {
    status = 403;
    detail = (error as WebLoginDeniedError).detail;
  } else {
    return undefined;
  }
  const facts: RemoteFacts = {
    service: 'Airflow web server',
    operation,
    code: `HTTP ${status}`,
    kind: status === 401 || status === 403 ? 'access-denied' : status === 404 ? 'not-found' : status >= 500 ? 'server-error' : 'refused',
    httpStatus: status,
  };
  if (call.endpoint) facts.endpoint = call.endpoint;
  if (detail) facts.remoteMessage = detail;
  const firstLine = `Airflow web server ${operation}${call.endpoint ? ` at ${call.endpoint}` : ''} failed: HTTP ${status}${detail ? `: ${oneLine(detail)}` : ''}`;
  const hint =
    facts.kind === 'access-denied'
      ? `The web login was refused: the credentials need airflow:CreateWebLoginToken on the environment's Op role (${deployPolicyPath(context.envName)}).`
      : facts.kind === 'server-error'
        ? unsupportedCommand
          ? 'MWAA answers 500 to CLI commands it does not support on this Airflow version, and when the web server fails: run the command again.'
          : 'The Airflow web server had a problem: run the command again; if it keeps failing, look at the environment in the MWAA console.'
        : facts.kind === 'not-found'
          ? 'Airflow has no such object (a DAG not parsed yet, a run that was deleted): run the command again once it exists.'
          : 'Airflow refused the request.';
  return new RemoteError(`${firstLine}\n${hint}`, facts, { cause: error });
}

/**
 * A failed remote call as a RemoteError that says what happened and what to do; any other error
 * (a UserError that already says it, a bug) is returned as it is.
 */
export function explainRemoteError(error: unknown, context: AwsErrorContext): unknown {
  if (error instanceof RemoteError || typeof error !== 'object' || error === null) return error;
  const call = remoteCallOf(error);
  const env = context.env ?? process.env;
  if (error instanceof UserError) {
    if (call?.service === 'Airflow web server') return explainWebServer(error, call, context) ?? error;
    // Raised inside an AWS call (a bound of the request handler): the call's first line, its own words after.
    return call ? (explainTagged(error as SdkLike, call, context, env) ?? error) : error;
  }
  return explainTagged(error as SdkLike, call, context, env) ?? error;
}
