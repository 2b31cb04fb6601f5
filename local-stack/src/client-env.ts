/**
 * `local env`: the settings an unmodified client (the AWS CLI, boto3, Apache's MwaaHook, curl,
 * Node programs) needs to use the stack as it would use AWS, as `export` lines for `eval`. Only
 * settings AWS and the clients document: endpoint overrides, dummy credentials, the region, the
 * CA bundle of each client family, and botocore's switch that drops MWAA's `api.`/`env.` host
 * prefixes (an overridden endpoint is one host, and `api.127.0.0.1` resolves nowhere).
 */
import { shellQuote } from '../../src/util/shell-quote.js';
import type { LocalStackState } from './state.js';

/** The variables, in the order they are printed. */
export function clientEnv(state: LocalStackState): [string, string][] {
  const vars: [string, string][] = [
    ['MWAA_LOCAL_HOME', state.root],
    ['AWS_ENDPOINT_URL_MWAA', state.endpoints.mwaa],
    ['AWS_ENDPOINT_URL_S3', state.endpoints.s3],
    ['AWS_ENDPOINT_URL_SECRETS_MANAGER', state.endpoints.secretsManager],
    // moto serves CloudWatch and STS at the same URL as S3 and Secrets Manager.
    ['AWS_ENDPOINT_URL_CLOUDWATCH', state.endpoints.s3],
    ['AWS_ENDPOINT_URL_STS', state.endpoints.s3],
    ['AWS_REGION', state.region],
    ['AWS_DEFAULT_REGION', state.region],
    // The stack checks no signatures, but every SDK refuses to sign without credentials.
    ['AWS_ACCESS_KEY_ID', 'test'],
    ['AWS_SECRET_ACCESS_KEY', 'test'],
    // botocore (configprovider.py: disable_host_prefix_injection) reads this variable too.
    ['AWS_DISABLE_HOST_PREFIX_INJECTION', 'true'],
  ];
  // The stack's pinned AWS CLI v1 (its tools venv): "$MWAA_LOCAL_AWS_CLI" mwaa get-environment ...
  if (state.awsCli) vars.push(['MWAA_LOCAL_AWS_CLI', state.awsCli]);
  if (state.tls) {
    const ca = state.tls.caCert;
    // AWS CLI and boto3; Node (read at start); Python requests (MwaaHook's web login); curl.
    vars.push(['AWS_CA_BUNDLE', ca], ['NODE_EXTRA_CA_CERTS', ca], ['REQUESTS_CA_BUNDLE', ca], ['CURL_CA_BUNDLE', ca]);
  }
  return vars;
}

/** `export NAME='value'` lines, each value quoted for a POSIX shell. */
export function renderClientEnv(state: LocalStackState): string {
  return `${clientEnv(state)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}`)
    .join('\n')}\n`;
}
