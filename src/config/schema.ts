/**
 * The one schema of config/config.yaml. The TypeScript types, the validation and
 * config/config.schema.json all come from here; every field has a description and a default
 * where a sensible one exists.
 */
import { z } from 'zod';
import {
  AIRFLOW_KEY,
  AWS_REGION,
  SECRETS_MANAGER_ARN,
  SSH_PUBLIC_KEY,
  bucketProblem,
  gitBranchProblem,
  gitRemoteProblem,
  gpuModelProblem,
  isHostname,
  isLoopbackUrl,
  isSafeAbsolutePath,
  isSafeRelativePath,
  MAX_AIRFLOW_VARIABLE_KEY,
  scheduleProblem,
} from './validators.js';
import { variableKey } from './variables.js';
import { configuredRepositories, REPOSITORY_NAME, SHORTHAND_REPOSITORY_NAME } from './repositories.js';
import { AIRFLOW_VERSIONS, DEFAULT_AIRFLOW_VERSION, PYTHON_VERSIONS } from '../mwaa/versions.js';
import { keyedByConfig } from '../artifacts/kinds.js';
import { ALARM_COMPARISONS, ALARM_MISSING_DATA, ALARM_STATISTICS, DAG_METRIC_NAMES, ITEM_DIMENSIONS } from './metrics.js';

const checked = (test: (value: string) => boolean, expected: string) => z.string().refine(test, { message: `expected ${expected}` });
const problemChecked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

const airflowKey = (what: string) => z.string().regex(AIRFLOW_KEY, { message: `expected ${what}: 1-250 letters, digits, "_", "." or "-"` });
const positiveInt = (max: number) => z.number().int().positive().max(max);

export const dagSchema = z
  .strictObject({
    id: airflowKey('a DAG id').default('gpu_server_cicd_workflow').describe('The DAG id.'),
    description: z
      .string()
      .max(500)
      .default('Checks out the CI/CD branch on each GPU server and publishes its version as Airflow Variables.')
      .describe('DAG description shown in the Airflow UI.'),
    owner: z.string().min(1).max(100).default('mlops').describe('The owner shown in the Airflow UI.'),
    schedule: z
      .union([problemChecked(scheduleProblem), z.null()])
      .default(null)
      .describe('Cron expression or preset; null means the DAG runs only when triggered.'),
    tags: z.array(z.string().min(1).max(100)).default(['cicd', 'gpu']).describe('DAG tags.'),
    retries: z.number().int().min(0).max(10).default(1).describe('Retries for each task.'),
    retryDelaySeconds: positiveInt(3600).default(60).describe('Delay between retries, in seconds.'),
    taskTimeoutSeconds: positiveInt(86_400).default(900).describe('execution_timeout of each task, in seconds.'),
    maxActiveRuns: positiveInt(32).default(1).describe('How many runs of the DAG may be active at once.'),
    serverConcurrency: positiveInt(256)
      .default(8)
      .describe('How many GPU servers the DAG works on in parallel (max_active_tis_per_dagrun).'),
    maxActiveTasks: positiveInt(1024)
      .default(16)
      .describe(
        'How many tasks of the DAG run at once over all its runs (max_active_tasks). Every SSH task holds one SSH session, ' +
          'so this bounds the sessions that repositories x servers open at the same time.',
      ),
    triggerConf: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/), z.string().max(1000))
      .default({})
      .describe('Run conf that `deploy` passes when it triggers the DAG (override with --conf key=value).'),
  })
  .describe('The generated DAG.');

export const airflowSchema = z
  .strictObject({
    version: z.enum(AIRFLOW_VERSIONS).default(DEFAULT_AIRFLOW_VERSION).describe('The Airflow version of the MWAA environment.'),
    pythonVersion: z
      .enum(PYTHON_VERSIONS)
      .optional()
      .describe('Python version; derived from the Airflow version as MWAA pairs them when omitted.'),
  })
  .describe('Target Airflow.');

export const mwaaSchema = z
  .strictObject({
    environmentName: z
      .string()
      .regex(/^[A-Za-z][0-9A-Za-z_-]{0,79}$/, {
        message: 'expected an MWAA environment name: a letter, then up to 79 letters, digits, "_" or "-"',
      })
      .describe('The MWAA environment name.'),
    region: z.string().regex(AWS_REGION, { message: 'expected an AWS region such as us-east-1' }).describe('AWS region.'),
    accountId: z
      .string()
      .regex(/^\d{12}$/, { message: 'expected the 12-digit AWS account ID of the environment, quoted: "123456789012"' })
      .nullable()
      .default(null)
      .describe(
        'The AWS account that owns the environment, for the environment ARN in the generated IAM policies. null: any account ' +
          "(IAM grants only on the caller's own account here: MWAA environments have no resource policies).",
      ),
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/, {
        message: 'expected a KMS key ARN: arn:aws:kms:<region>:<account>:key/<id>',
      })
      .nullable()
      .default(null)
      .describe('The KMS key of an SSE-KMS bucket; the generated policies then allow it for S3 in the region. null: SSE-S3.'),
    bucket: problemChecked(bucketProblem).describe('The MWAA source bucket (name, not ARN); versioning must be enabled.'),
    dagsPrefix: checked(isSafeRelativePath, 'a relative S3 prefix such as "dags"').default('dags').describe('DagS3Path.'),
    pluginsKey: checked(isSafeRelativePath, 'a relative S3 key').default('plugins.zip').describe('PluginsS3Path.'),
    requirementsKey: checked(isSafeRelativePath, 'a relative S3 key').default('requirements.txt').describe('RequirementsS3Path.'),
    deploymentsPrefix: checked(isSafeRelativePath, 'a relative S3 prefix')
      .default('deployments')
      .describe('Where deploy records and the deploy lock live in the bucket.'),
    webserverScheme: z
      .enum(['https', 'http'])
      .default('https')
      .describe(
        'Scheme of the MWAA web server (CLI and web login). http only for the local stack (localStack: true) or an aws.endpoints.mwaa on loopback: tokens and the session cookie would otherwise travel in clear text.',
      ),
  })
  .describe('The MWAA environment.');

export const awsSchema = z
  .strictObject({
    endpoints: z
      .strictObject({
        s3: z.url().optional().describe('S3 endpoint override.'),
        secretsManager: z.url().optional().describe('Secrets Manager endpoint override.'),
        mwaa: z.url().optional().describe('MWAA endpoint override.'),
        cloudWatch: z.url().optional().describe('CloudWatch endpoint override (the alarms deploy manages).'),
        sts: z.url().optional().describe('STS endpoint override (GetCallerIdentity: the IAM identity deploy records name).'),
      })
      .default({})
      .describe('Endpoint overrides (the local stack sets these); AWS_ENDPOINT_URL* also apply.'),
    caBundle: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A PEM file of CA certificates to trust instead of the default roots, for AWS and the MWAA web server, as the AWS CLI's ca_bundle (which applies too, as does AWS_CA_BUNDLE; this wins). The local stack sets its own CA.",
      ),
  })
  .default({ endpoints: {} })
  .describe('AWS client settings.');

export const sshSchema = z
  .strictObject({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'expected a POSIX user name such as ubuntu' })
      .default('ubuntu')
      .describe('SSH user on the GPU servers.'),
    port: z.number().int().min(1).max(65_535).default(22).describe('SSH port.'),
    connectTimeoutSeconds: positiveInt(300).default(10).describe('TCP connect and handshake timeout.'),
    commandTimeoutSeconds: positiveInt(86_400).default(600).describe('Timeout of one remote command.'),
    keepaliveSeconds: z.number().int().min(0).max(3600).default(30).describe('SSH keepalive interval; 0 turns it off.'),
    connectRetries: z.number().int().min(0).max(10).default(3).describe('Retries on refused or reset connections.'),
    hostKeyPolicy: z
      .enum(['strict'], {
        message:
          'expected "strict" (every server needs its pinned servers[].hostPublicKey; "accept-new" is no longer ' +
          'supported): print the keys with `npm run check -- --env <env> --print-host-keys`, verify them, and pin them',
      })
      .default('strict')
      .describe('strict: verify each server against its pinned hostPublicKey (the only policy).'),
  })
  .describe('SSH settings shared by all servers.');

export const secretsSchema = z
  .strictObject({
    sshKeyArn: z
      .string()
      .regex(SECRETS_MANAGER_ARN, { message: 'expected a Secrets Manager ARN: arn:aws:secretsmanager:<region>:<account>:secret:<name>' })
      .describe('ARN of the secret that holds the SSH private key (secret gpu-server-ssh-key).'),
    sshKeyJsonField: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/)
      .nullable()
      .default(null)
      .describe('When the secret is JSON, the field that holds the key; null for a raw key.'),
    cacheTtlSeconds: z.number().int().min(0).max(3600).default(300).describe('In-process key cache lifetime.'),
  })
  .describe('AWS Secrets Manager.');

/** A version as nvidia-smi prints it: numbers joined by dots (535.129.03, 12.2). */
const DOTTED_VERSION = /^\d{1,4}(\.\d{1,4}){0,3}$/;

export const gpusSchema = z
  .strictObject({
    count: z.number().int().min(1).max(64).optional().describe('How many GPUs the server must show, exactly.'),
    model: problemChecked(gpuModelProblem)
      .optional()
      .describe(
        'A regular expression every GPU name must contain a match of, e.g. "A100|H100" (names as nvidia-smi prints them, ' +
          'such as "NVIDIA A100-SXM4-80GB"). Letters, digits, space and . _ - | ( ) [ ] * + ? ^ $ \\ only.',
      ),
    minMemoryMiB: z
      .number()
      .int()
      .min(1)
      .max(16_777_216)
      .optional()
      .describe("Least total memory of every GPU, in MiB as nvidia-smi's memory.total reports it (an A100 80GB shows 81920)."),
    minDriverVersion: z
      .string()
      .regex(DOTTED_VERSION, { message: 'expected a driver version such as "535.104.05"' })
      .optional()
      .describe('Least NVIDIA driver version (driver_version).'),
    minCudaVersion: z
      .string()
      .regex(DOTTED_VERSION, { message: 'expected a CUDA version such as "12.2"' })
      .optional()
      .describe(
        'Least CUDA version the driver supports, as nvidia-smi\'s header prints it ("CUDA Version: 12.2"). This is the ' +
          'newest CUDA the installed driver can run, not the CUDA toolkit installed on the server.',
      ),
    noUncorrectedEcc: z
      .boolean()
      .default(true)
      .describe(
        'Fail a GPU that reports uncorrected ECC errors since the driver loaded (ecc.errors.uncorrected.volatile.total). ' +
          'GPUs without ECC ("[N/A]", "[Not Supported]") pass.',
      ),
    mig: z
      .enum(['enabled', 'disabled'])
      .optional()
      .describe('The MIG mode every GPU must be in (mig.mode.current); GPUs without MIG support count as disabled.'),
  })
  .describe(
    "What the GPUs of a server must be, read with nvidia-smi over the SSH connection of the check and of the DAG's check_gpus task.",
  );

export const serverSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'expected 1-63 lowercase letters, digits, "_" or "-"' })
      .describe('Short name; used in task ids and Variable namespaces.'),
    host: checked(isHostname, 'an IPv4/IPv6 address or hostname').describe('Address of the GPU server.'),
    port: z.number().int().min(1).max(65_535).optional().describe('SSH port; ssh.port when omitted.'),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'expected a POSIX user name' })
      .optional()
      .describe('SSH user; ssh.user when omitted.'),
    workspacePath: checked(isSafeAbsolutePath, 'an absolute path of letters, digits, ".", "_", "-" and "/" (no "..")')
      .default('/home/ubuntu/workspace')
      .describe('Workspace on the server; the repository is checked out inside it.'),
    hostPublicKey: z
      .string()
      .regex(SSH_PUBLIC_KEY, { message: 'expected an OpenSSH public key line such as "ssh-ed25519 AAAA..."' })
      .nullable()
      .default(null)
      .describe(
        'Pinned host key (as in known_hosts, without the host); generate and check refuse a server without one. ' +
          'Get it with `npm run check -- --env <env> --print-host-keys` (or `ssh-keyscan -t ed25519 <host>`) and verify it out of band.',
      ),
    gpus: gpusSchema
      .nullable()
      .optional()
      .describe("This server's GPU expectation, replacing the environment's gpus; null: no GPU check on this server."),
  })
  .describe('A GPU server.');

const checkoutDirSchema = z
  .string()
  .max(200)
  .refine(isSafeRelativePath, {
    message: 'expected a directory relative to the workspace: letters, digits, ".", "_", "-" and "/", without ".." or empty parts',
  })
  .refine((value) => value !== '.' && !value.split('/').includes('.'), { message: 'expected a directory inside the workspace, not "."' });
const remoteNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,50}$/)
  .default('origin')
  .describe('Name of the git remote.');

export const gitSchema = z
  .strictObject({
    repoUrl: problemChecked(gitRemoteProblem).describe(
      'Repository cloned on each GPU server (no credentials in the URL: use a deploy key or a credential helper on the server).',
    ),
    branch: problemChecked(gitBranchProblem).default('cicd_01_etl').describe('Branch to check out.'),
    checkoutDir: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, { message: 'expected a directory name of letters, digits, ".", "_" or "-"' })
      .refine((value) => value !== '.' && value !== '..', { message: 'expected a directory name, not . or ..' })
      .default('cicd-test')
      .describe('Directory of the checkout inside the workspace.'),
    remoteName: remoteNameSchema,
  })
  .describe(
    `One repository on the GPU servers: shorthand for a repositories list of one, named "${SHORTHAND_REPOSITORY_NAME}", ` +
      'whose version file is versionFile.path.',
  );

export const variableMappingSchema = z.strictObject({
  key: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, { message: 'expected a YAML key of letters, digits, "_", "." or "-"' })
    .describe('Key in the version file.'),
  variable: airflowKey('an Airflow Variable key').describe('Airflow Variable that receives the value.'),
  type: z
    .enum(['string', 'number', 'integer', 'boolean', 'scalar'])
    .default('scalar')
    .describe('Expected type of the value; scalar is any string, number or boolean.'),
});

const versionFilePath = checked(isSafeRelativePath, 'a relative path inside the checkout such as www/version.yaml');
const versionFileVariables = z.array(variableMappingSchema).min(1);

export const versionFileSchema = z
  .strictObject({
    path: versionFilePath.default('www/version.yaml').describe('Version file inside the checkout.'),
    maxBytes: z.number().int().min(16).max(1_048_576).default(65_536).describe('Largest version file accepted.'),
    variables: versionFileVariables
      .default([
        { key: 'a', variable: 'a', type: 'scalar' },
        { key: 'b', variable: 'b', type: 'scalar' },
        { key: 'c', variable: 'c', type: 'scalar' },
        { key: 'd', variable: 'd', type: 'scalar' },
      ])
      .describe('Which keys of the version file become which Airflow Variables.'),
  })
  .describe('The version file and its mapping to Airflow Variables.');

export const repositorySchema = z
  .strictObject({
    name: z
      .string()
      .max(40)
      .regex(REPOSITORY_NAME, {
        message: 'expected 1-40 lowercase letters and digits, in words joined by single "-" or "_" (no "__")',
      })
      .describe('Short unique name; used in task ids, METRIC lines and (with several version files) Variable names.'),
    url: problemChecked(gitRemoteProblem).describe('The git remote, as git.repoUrl (no credentials in the URL).'),
    branch: problemChecked(gitBranchProblem).default('cicd_01_etl').describe('Branch to check out.'),
    checkoutDir: checkoutDirSchema.describe('Directory of the checkout, relative to the workspace; one per repository.'),
    remoteName: remoteNameSchema,
    versionFile: z
      .union([
        versionFilePath,
        z.strictObject({
          path: versionFilePath,
          maxBytes: z.number().int().min(16).max(1_048_576).optional(),
          variables: versionFileVariables.optional(),
        }),
      ])
      .optional()
      .describe(
        'The version file inside this checkout whose keys become Airflow Variables: a path, or { path, maxBytes?, variables? }; ' +
          'what is left out comes from the top-level versionFile. Without it the repository is only checked out.',
      ),
  })
  .describe('A repository checked out on every GPU server.');

const cloudWatchName = (what: string) =>
  z.string().regex(/^[A-Za-z0-9 ._\-/#:]{1,255}$/, { message: `expected ${what}: 1-255 letters, digits, spaces or . _ - / # :` });

export const alarmSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'expected 1-63 lowercase letters, digits or "-"' })
      .describe('Short name; the CloudWatch alarm is named <environment name>-<name>.'),
    metric: z.enum(DAG_METRIC_NAMES).describe('Which metric of the DAG the alarm watches (its environment-wide series).'),
    statistic: z.enum(ALARM_STATISTICS).describe('How the datapoints of one period are combined.'),
    comparison: z.enum(ALARM_COMPARISONS).describe('How the statistic is compared with the threshold.'),
    threshold: z.number().finite().describe('The value the statistic is compared with.'),
    periodSeconds: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .refine((value) => value % 60 === 0, { message: 'expected a multiple of 60 seconds' })
      .default(300)
      .describe('Length of one evaluation period.'),
    evaluationPeriods: z.number().int().min(1).max(100).default(1).describe('Periods that must breach before the alarm fires.'),
    treatMissingData: z.enum(ALARM_MISSING_DATA).default('notBreaching').describe('How a period without data counts.'),
    description: z.string().max(1024).optional().describe('Shown with the alarm.'),
  })
  .describe("A CloudWatch alarm on one of the DAG's metrics, notifying monitoring.notifyTopicArn.");

export const monitoringSchema = z
  .strictObject({
    metrics: z
      .strictObject({
        namespace: cloudWatchName('a CloudWatch namespace such as GpuCicd')
          .nullable()
          .default(null)
          .describe("CloudWatch namespace of the DAG's metrics; null: the DAG publishes none (its METRIC log lines remain)."),
        dimensions: z
          .record(cloudWatchName('a dimension name'), cloudWatchName('a dimension value'))
          .refine((d) => Object.keys(d).length <= 20, {
            message: 'expected at most 20 dimensions (CloudWatch allows 30, the DAG adds its own)',
          })
          .superRefine((dimensions, ctx) => {
            for (const name of Object.keys(dimensions).filter((key) => ITEM_DIMENSIONS.includes(key))) {
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message:
                  `"${name}" is a dimension the DAG adds itself (${ITEM_DIMENSIONS.join(', ')}); CloudWatch refuses a datum that ` +
                  'names a dimension twice. Rename it (e.g. Gpu' +
                  name +
                  ')',
              });
            }
          })
          .default({})
          .describe('Dimensions on every datum, e.g. { Environment: prod }.'),
      })
      .default({ namespace: null, dimensions: {} })
      .describe('Custom metrics in CloudWatch.'),
    alarms: z.array(alarmSchema).default([]).describe('Alarms deploy creates or updates (and removes when they leave the config).'),
    notifyTopicArn: z
      .string()
      .regex(/^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, {
        message: 'expected an SNS topic ARN: arn:aws:sns:<region>:<account>:<topic>',
      })
      .nullable()
      .default(null)
      .describe('SNS topic told about every failed run and every alarm; null: no notices.'),
  })
  .describe('Operations: metrics, alarms and failure notices.');

/** One environment after defaults and overrides are merged. */
export const environmentSchema = z
  .strictObject({
    localStack: z
      .boolean()
      .default(false)
      .describe('Take servers, secret, bucket and endpoints from the running local stack (npm run local -- up).'),
    dag: dagSchema.default(dagSchema.parse({})),
    airflow: airflowSchema.default({ version: DEFAULT_AIRFLOW_VERSION }),
    mwaa: mwaaSchema,
    aws: awsSchema,
    ssh: sshSchema.default(sshSchema.parse({})),
    secrets: secretsSchema,
    servers: z.array(serverSchema).min(1, { message: 'expected at least one GPU server' }).describe('The GPU servers.'),
    git: gitSchema
      .nullable()
      .optional()
      .describe('One repository (shorthand); use repositories for several. null drops a git block set in defaults.'),
    repositories: z
      .array(repositorySchema)
      .min(1, { message: 'expected at least one repository' })
      .optional()
      .describe('The repositories checked out on every GPU server, in parallel; replaces git.'),
    versionFile: versionFileSchema.default(versionFileSchema.parse({})),
    gpus: gpusSchema
      .nullable()
      .default(null)
      .describe('What the GPUs of every server must be (a server may set its own); null: the GPUs are not checked.'),
    monitoring: monitoringSchema.default(monitoringSchema.parse({})),
  })
  .superRefine((env, ctx) => {
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
    const alarmNames = new Map<string, number>();
    env.monitoring.alarms.forEach((alarm, index) => {
      const first = alarmNames.get(alarm.name);
      if (first !== undefined)
        issue(['monitoring', 'alarms', index, 'name'], `duplicate alarm name "${alarm.name}" (also alarms[${first}])`);
      else alarmNames.set(alarm.name, index);
      if (env.monitoring.metrics.namespace === null) {
        issue(
          ['monitoring', 'alarms', index, 'metric'],
          'needs monitoring.metrics.namespace: without it the DAG publishes no metrics to watch',
        );
      }
    });
    const seen = new Map<string, number>();
    env.servers.forEach((server, index) => {
      const first = seen.get(server.name);
      if (first !== undefined) {
        issue(['servers', index, 'name'], `duplicate server name "${server.name}" (also servers[${first}]); names must be unique`);
      } else seen.set(server.name, index);
    });
    // gpu_server_ip takes a server name or a host: one value must never mean two servers.
    env.servers.forEach((server, index) => {
      const named = env.servers.findIndex((other, otherIndex) => otherIndex !== index && other.name === server.host);
      if (named >= 0) {
        issue(
          ['servers', index, 'host'],
          `"${server.host}" is also the name of servers[${named}], so the DAG's gpu_server_ip "${server.host}" would ` +
            `select both servers[${named}] (${env.servers[named]?.name}) and servers[${index}] (${server.name}); rename one of them`,
        );
      }
    });
    // The CLI token, the web login token and the 12-hour session cookie go to the web server.
    if (env.mwaa.webserverScheme === 'http' && !env.localStack && !isLoopbackUrl(env.aws.endpoints.mwaa)) {
      const endpoint = env.aws.endpoints.mwaa;
      issue(
        ['mwaa', 'webserverScheme'],
        '"http" would send the CLI token, the web login token and the 12-hour session cookie in clear text; ' +
          (endpoint === undefined ? 'this is a real MWAA environment, so ' : `aws.endpoints.mwaa ${endpoint} is not on loopback, so `) +
          'use https (the default): plain HTTP is only for the local stack (localStack: true) or an aws.endpoints.mwaa on loopback',
      );
    }
    const hasGit = env.git !== undefined && env.git !== null;
    if (hasGit && env.repositories) {
      issue(
        ['repositories'],
        'set either git (one repository) or repositories, not both; in an environment whose defaults set git, add `git: null`',
      );
    } else if (!hasGit && !env.repositories) {
      issue(['repositories'], 'expected the repositories to check out: a repositories list, or the git block for one repository');
    }
    const configured = configuredRepositories(env);
    const repositories = configured.map((entry) => entry.repository);
    configured.forEach(({ repository, configPath }, index) => {
      repositories.slice(0, index).forEach((earlier, earlierIndex) => {
        if (earlier.name === repository.name) {
          issue([...configPath, 'name'], `duplicate repository name "${repository.name}" (also repositories[${earlierIndex}])`);
        }
        const [a, b] = [earlier.checkoutDir, repository.checkoutDir];
        if (a === b || b.startsWith(`${a}/`) || a.startsWith(`${b}/`)) {
          issue(
            [...configPath, 'checkoutDir'],
            `"${b}" and the checkoutDir "${a}" of repository "${earlier.name}" overlap; every repository needs its own directory`,
          );
        }
      });
    });
    const versioned = configured.filter((entry) => entry.repository.versionFile !== null);
    const mappingLists = new Map(versioned.map((entry) => [entry.variablesPath.join('.'), entry]));
    for (const { repository, variablesPath } of mappingLists.values()) {
      const variables = new Set<string>();
      repository.versionFile?.variables.forEach((mapping, index) => {
        if (variables.has(mapping.variable))
          issue([...variablesPath, index, 'variable'], `duplicate Airflow Variable "${mapping.variable}"`);
        variables.add(mapping.variable);
      });
    }
    // Every (server, repository, variable) must write its own Airflow Variable, within Airflow's key limit.
    const scope = { servers: env.servers, repositories };
    const several = versioned.length > 1;
    const written = new Map<string, { field: string; serverIndex: number; repository: string }>();
    env.servers.forEach((server, serverIndex) => {
      for (const { repository, variablesPath } of versioned) {
        const repositoryText = several ? `repositories[${repositories.indexOf(repository)}].name "${repository.name}" and ` : '';
        repository.versionFile?.variables.forEach((mapping, index) => {
          const key = variableKey(scope, server.name, repository.name, mapping.variable);
          const field = `servers[${serverIndex}].name "${server.name}" with ${repositoryText}${variablesPath.join('.')}[${index}].variable "${mapping.variable}"`;
          const path = [...variablesPath, index, 'variable'];
          if (key.length > MAX_AIRFLOW_VARIABLE_KEY) {
            issue(
              path,
              `${field} makes the Airflow Variable key "${key.slice(0, 40)}..." of ${key.length} characters; Airflow allows ${MAX_AIRFLOW_VARIABLE_KEY}`,
            );
          }
          const other = written.get(key);
          if (other === undefined) written.set(key, { field, serverIndex, repository: repository.name });
          else if (other.serverIndex !== serverIndex || other.repository !== repository.name) {
            issue(
              path,
              `${field} and ${other.field} both write the Airflow Variable "${key}"; rename a ${several ? 'server, repository' : 'server'} or a variable`,
            );
          }
        });
      }
    });
    if (env.dag.schedule === '@continuous' && env.dag.maxActiveRuns !== 1) {
      issue(['dag', 'maxActiveRuns'], `must be 1 with schedule @continuous (Airflow refuses more), got ${env.dag.maxActiveRuns}`);
    }
    // deploy uploads one object per artifact: one key for two of them would overwrite one with the other.
    const objects = keyedByConfig(env.mwaa);
    objects.forEach(([field, key], index) => {
      const clash = objects.slice(0, index).find(([, earlier]) => earlier === key);
      if (clash) {
        issue(field.split('.'), `${field} names the S3 object "${key}", which ${clash[0]} already names; every artifact needs its own key`);
      }
    });
  })
  .describe('One deployment environment.');

const environmentName = /^[a-z][a-z0-9-]{0,30}$/;

/** The file as written: defaults plus partial per-environment overrides. */
export const configFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema reference for editors.'),
    defaults: z.record(z.string(), z.unknown()).default({}).describe('Settings every environment starts from.'),
    environments: z
      .record(
        z.string().regex(environmentName, { message: 'expected an environment name: lowercase letters, digits and "-"' }),
        z.record(z.string(), z.unknown()),
      )
      .refine((envs) => Object.keys(envs).length > 0, { message: 'expected at least one environment' })
      .describe('Per-environment overrides, deep-merged over defaults (lists replace).'),
  })
  .describe('mwaa-gpu-cicd configuration.');

export type EnvironmentInput = z.input<typeof environmentSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type GpuExpectation = z.output<typeof gpusSchema>;
