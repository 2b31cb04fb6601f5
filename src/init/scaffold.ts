/**
 * The config `init` writes for a new project: every section commented, one deployment
 * environment filled with the values given (placeholders marked TODO otherwise), and a `local`
 * environment for the local stack. Placeholders are valid values, so the file validates and
 * `generate` works at once; each one says what to put there.
 */
import { AIRFLOW_VERSIONS, DEFAULT_AIRFLOW_VERSION, MWAA_AIRFLOW_VERSIONS, type AirflowVersion } from '../mwaa/versions.js';

export interface ScaffoldValues {
  /** Name of the first environment (e.g. dev). */
  env: string;
  region?: string;
  /** The MWAA environment's name. */
  environmentName?: string;
  bucket?: string;
  accountId?: string;
  sshKeyArn?: string;
  repoUrl?: string;
  branch?: string;
  /** Hosts (IP or DNS name) of the GPU servers. */
  servers?: string[];
  airflowVersion?: AirflowVersion;
  /** `$schema` reference for editors (relative to the config file), or null for none. */
  schemaRef: string | null;
}

/**
 * An ed25519 public key of 32 zero bytes: well formed, so the config validates, but the key of
 * no server, so a strict check fails closed until the real key is pinned.
 */
export function placeholderHostKey(): string {
  const ssh = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  const blob = Buffer.concat([ssh(Buffer.from('ssh-ed25519')), ssh(Buffer.alloc(32))]);
  return `ssh-ed25519 ${blob.toString('base64')} placeholder-replace-with-check-print-host-keys`;
}

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
function q(value: string): string {
  return JSON.stringify(value);
}

function todo(given: string | undefined, placeholder: string, what: string): { value: string; comment: string } {
  return given === undefined ? { value: q(placeholder), comment: `  # TODO: ${what}` } : { value: q(given), comment: '' };
}

export function renderScaffold(values: ScaffoldValues): string {
  const env = values.env;
  const region = todo(values.region, 'us-east-1', 'the AWS region of the MWAA environment');
  const name = todo(values.environmentName, `my-mwaa-${env}`, 'the MWAA environment name');
  const bucket = todo(values.bucket, `airflow-my-project-${env}`, 'the MWAA source bucket (starts with airflow-, versioning enabled)');
  const account = todo(values.accountId, '111122223333', 'the 12-digit AWS account ID of the environment');
  const accountId = values.accountId ?? '111122223333';
  const secret = todo(
    values.sshKeyArn,
    `arn:aws:secretsmanager:${values.region ?? 'us-east-1'}:${accountId}:secret:gpu-server-ssh-key-AbCdEf`,
    'ARN of the Secrets Manager secret holding the SSH private key',
  );
  const repo = todo(values.repoUrl, 'git@github.com:example-org/cicd-test.git', 'the repository each GPU server checks out');
  const branch = values.branch ?? 'cicd_01_etl';
  const airflow = values.airflowVersion ?? DEFAULT_AIRFLOW_VERSION;
  const hosts = values.servers && values.servers.length > 0 ? values.servers : undefined;
  const serverLines = (hosts ?? ['10.0.0.10']).flatMap((host, i) => [
    `      - name: gpu-${env}-${String(i + 1).padStart(2, '0')}`,
    `        host: ${q(host)}${hosts ? '' : "  # TODO: the GPU server's address"}`,
    '        workspacePath: /home/ubuntu/workspace',
    "        # TODO: pin the server's real host key: run the command below and paste its hostPublicKey line.",
    `        #   npx mwaa-gpu-cicd check --env ${env} --print-host-keys`,
    '        # Until then this placeholder matches no server, so every SSH connection is refused.',
    `        hostPublicKey: ${placeholderHostKey()}`,
  ]);

  const lines = [
    ...(values.schemaRef ? [`# yaml-language-server: $schema=${values.schemaRef}`, '#'] : []),
    '# mwaa-gpu-cicd configuration. Every environment starts from `defaults` and deep-merges its',
    '# own overrides (lists replace). Render the artifacts with `npx mwaa-gpu-cicd generate --env <name>`;',
    '# every field is described in the JSON Schema (config.schema.json in the package).',
    'defaults:',
    '  dag:',
    '    id: gpu_server_cicd_workflow',
    '    schedule: null            # runs when `deploy` triggers it; or a cron such as "0 2 * * *"',
    '    retries: 1',
    '    taskTimeoutSeconds: 900',
    '    serverConcurrency: 8      # GPU servers worked on in parallel',
    '  airflow:',
    `    version: ${q(airflow)}         # quote it; the MWAA versions: ${AIRFLOW_VERSIONS.join(', ')}`,
    `                              # (Python ${MWAA_AIRFLOW_VERSIONS[airflow]} is derived, as MWAA pairs them)`,
    '  ssh:',
    '    user: ubuntu',
    '    port: 22',
    "    hostKeyPolicy: strict     # every server's host key must be pinned below",
    '  git:',
    `    repoUrl: ${repo.value}${repo.comment}`,
    `    branch: ${q(branch)}`,
    '    checkoutDir: cicd-test',
    '  versionFile:',
    '    path: www/version.yaml    # read on each server; its keys become Airflow Variables',
    '    variables:',
    '      - { key: a, variable: a }',
    '      - { key: b, variable: b }',
    '      - { key: c, variable: c }',
    '      - { key: d, variable: d }',
    '',
    'environments:',
    `  ${env}:`,
    '    mwaa:',
    `      environmentName: ${name.value}${name.comment}`,
    `      region: ${region.value}${region.comment}`,
    `      accountId: ${account.value}${account.comment}`,
    `      bucket: ${bucket.value}${bucket.comment}`,
    '    secrets:',
    `      sshKeyArn: ${secret.value}${secret.comment}`,
    '    servers:',
    ...serverLines,
    '',
    '  # The local stack (`npx mwaa-gpu-cicd local up`) supplies servers, secret, bucket, endpoints',
    '  # and the Airflow version: deploy and check against it with no AWS account.',
    '  local:',
    '    localStack: true',
    '    mwaa:',
    '      environmentName: local-gpu-cicd',
    '      region: us-east-1',
    '      bucket: airflow-local-gpu-cicd',
    '    dag:',
    '      retries: 0',
    '',
  ];
  return lines.join('\n');
}
