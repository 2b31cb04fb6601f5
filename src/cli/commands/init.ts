import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULT_CONFIG_PATH, readConfigFile, resolveEveryEnvironment } from '../../config/load.js';
import { ConfigError, ExitCode, UserError } from '../../errors.js';
import { packageRoot } from '../../util/package-root.js';
import { ensureIgnored } from '../../init/gitignore.js';
import { refuseExistingConfig, schemaCopyNeeded, writeBeside } from '../../init/files.js';
import { renderScaffold, type ScaffoldValues } from '../../init/scaffold.js';
import { AIRFLOW_VERSIONS, DEFAULT_AIRFLOW_VERSION, type AirflowVersion } from '../../mwaa/versions.js';
import { COMMANDS, SHARED_OPTIONS } from '../command-table.js';
import { cliContext, commandLine } from '../context.js';
import { refuseEmpty } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { writeJson } from '../json-output.js';

interface InitArgs {
  config: string;
  env: string;
  region: string | undefined;
  'mwaa-environment': string | undefined;
  bucket: string | undefined;
  'account-id': string | undefined;
  'secret-arn': string | undefined;
  repo: string | undefined;
  branch: string | undefined;
  server: string[] | undefined;
  airflow: AirflowVersion | undefined;
  force: boolean;
  json: boolean;
}

const SCHEMA_FILE = 'config.schema.json';

/**
 * Where editors find the JSON Schema: the installed package's copy when the package lives inside
 * this project (node_modules), so it stays current with upgrades; otherwise a copy beside the config.
 */
function schemaReference(configFile: string): { ref: string; copyFrom?: string } {
  const schema = join(packageRoot(), 'config', SCHEMA_FILE);
  const configDir = dirname(configFile);
  if (!existsSync(schema)) return { ref: `./${SCHEMA_FILE}` };
  const fromConfig = relative(configDir, schema);
  if (!relative(process.cwd(), schema).startsWith('..')) return { ref: fromConfig.startsWith('.') ? fromConfig : `./${fromConfig}` };
  return { ref: `./${SCHEMA_FILE}`, copyFrom: schema };
}

/**
 * With --mwaa-environment and no --airflow: the environment's own Airflow version (and its region,
 * account and bucket where not given) from GetEnvironment. Init works offline too: when the
 * environment cannot be read (no credentials, no region, not found) it says why on stderr and
 * writes the default version.
 */
async function environmentFacts(
  args: InitArgs,
  quiet: boolean,
): Promise<{ values: Partial<ScaffoldValues>; read: Record<string, unknown> | undefined }> {
  const name = args['mwaa-environment'];
  if (name === undefined || args.airflow !== undefined) return { values: {}, read: undefined };
  const region = args.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const fallback = `airflow.version is ${DEFAULT_AIRFLOW_VERSION}: check it, or give --airflow`;
  const note = (why: string) => {
    if (!quiet) process.stderr.write(`Could not read MWAA environment ${name} (${why}); ${fallback}.\n`);
    return { values: {}, read: { environmentName: name, read: false, reason: why } };
  };
  if (!region) return note('no region: give --region or set AWS_REGION');
  const { readEnvironmentFacts } = await import('../../init/environment-lookup.js');
  let facts: Awaited<ReturnType<typeof readEnvironmentFacts>>;
  try {
    facts = await readEnvironmentFacts(name, region);
  } catch (error) {
    return note((error instanceof Error ? error.message : String(error)).split('\n')[0]!);
  }
  if (facts.unknownVersion) return note(`it runs Airflow ${facts.unknownVersion}, which this version of mwaa-gpu-cicd does not know`);
  const values: Partial<ScaffoldValues> = {
    ...(facts.airflowVersion && { airflowVersion: facts.airflowVersion }),
    ...(facts.region && { region: facts.region }),
    ...(facts.accountId && { accountId: facts.accountId }),
    ...(facts.bucket && { bucket: facts.bucket }),
  };
  if (!quiet && facts.airflowVersion) process.stderr.write(`MWAA environment ${name} runs Airflow ${facts.airflowVersion}.\n`);
  return { values, read: { environmentName: name, read: true, ...facts } };
}

const command: CommandModule<object, InitArgs> = {
  command: 'init',
  describe: COMMANDS.init,
  builder: (yargs) =>
    yargs
      .option('config', { ...SHARED_OPTIONS.config, describe: 'Where to write the config' })
      .option('env', { ...SHARED_OPTIONS.env, default: 'dev', describe: 'Name of the first environment' })
      .option('region', { type: 'string', describe: 'AWS region of the MWAA environment' })
      .option('mwaa-environment', { type: 'string', describe: 'Name of the MWAA environment' })
      .option('bucket', { type: 'string', describe: 'MWAA source bucket (starts with airflow-)' })
      .option('account-id', { type: 'string', describe: '12-digit AWS account ID of the environment' })
      .option('secret-arn', { type: 'string', describe: 'ARN of the Secrets Manager secret with the SSH private key' })
      .option('repo', { type: 'string', describe: 'Git repository the GPU servers check out' })
      .option('branch', { type: 'string', describe: 'Branch to check out (default cicd_01_etl)' })
      .option('server', { type: 'string', array: true, describe: 'Address of a GPU server (repeatable)' })
      .option('airflow', {
        type: 'string',
        choices: AIRFLOW_VERSIONS,
        describe: `Airflow version of the environment (default: the MWAA environment's own with --mwaa-environment and AWS credentials, else ${DEFAULT_AIRFLOW_VERSION})`,
      })
      .option('force', { type: 'boolean', default: false, describe: 'Replace an existing config file' })
      .option('json', { ...SHARED_OPTIONS.json, describe: 'Print what was written as JSON' })
      .example('$0 init', 'config/config.yaml with placeholders marked TODO')
      .example('$0 init --env prod --region eu-west-1 --bucket airflow-acme-prod --server 10.0.0.5', 'Fill in what you know')
      .epilog(`Values not given are placeholders marked "# TODO" that validate, so generate works at once.\n\n${EXIT_CODES_EPILOG}`)
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    refuseEmpty(args, context.argv, [
      'config',
      'env',
      'region',
      'mwaa-environment',
      'bucket',
      'account-id',
      'secret-arn',
      'repo',
      'branch',
      'server',
    ]);
    if (args.env === 'local')
      throw new UserError(
        "--env local is the local stack's environment, which init always writes; name another one (e.g. dev).",
        ExitCode.usage,
      );
    const target = resolve(args.config);
    refuseExistingConfig(target, args.config, args.force);
    const schema = schemaReference(target);
    // The schema copy beside the config, checked before anything is written.
    const schemaCopy = schema.copyFrom ? { to: join(dirname(target), SCHEMA_FILE), bytes: readFileSync(schema.copyFrom) } : undefined;
    const writeSchema =
      schemaCopy !== undefined && schemaCopyNeeded(schemaCopy.to, join(dirname(args.config), SCHEMA_FILE), schemaCopy.bytes, args.force);
    const learned = await environmentFacts(args, context.quiet);
    const values: ScaffoldValues = {
      env: args.env,
      schemaRef: schema.ref,
      ...learned.values,
      ...(args.region !== undefined && { region: args.region }),
      ...(args['mwaa-environment'] !== undefined && { environmentName: args['mwaa-environment'] }),
      ...(args.bucket !== undefined && { bucket: args.bucket }),
      ...(args['account-id'] !== undefined && { accountId: args['account-id'] }),
      ...(args['secret-arn'] !== undefined && { sshKeyArn: args['secret-arn'] }),
      ...(args.repo !== undefined && { repoUrl: args.repo }),
      ...(args.branch !== undefined && { branch: args.branch }),
      ...(args.server !== undefined && { servers: args.server }),
      ...(args.airflow !== undefined && { airflowVersion: args.airflow }),
    };

    // Written beside the target and validated by the real loader before it takes the target's
    // place: a value given on the command line that the schema refuses writes nothing.
    mkdirSync(dirname(target), { recursive: true });
    const temporary = writeBeside(target, renderScaffold(values));
    try {
      resolveEveryEnvironment(await readConfigFile({ configPath: temporary }));
    } catch (error) {
      rmSync(temporary, { force: true });
      if (error instanceof ConfigError) {
        throw new UserError(
          `The values given make an invalid config; nothing was written:\n${error.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
          ExitCode.usage,
          { details: { issues: error.issues } },
        );
      }
      throw error;
    }
    if (writeSchema && schemaCopy) renameSync(writeBeside(schemaCopy.to, schemaCopy.bytes), schemaCopy.to);
    renameSync(temporary, target);
    const ignored = ensureIgnored(resolve('.gitignore'));

    const env = args.env;
    const configArgs = args.config === DEFAULT_CONFIG_PATH ? [] : ['--config', args.config];
    const { out } = context;
    const steps = [
      `${out.bold(`Wrote ${args.config}`)} (environments ${env} and local).`,
      ...(ignored.length > 0 ? [`Added ${ignored.join(' and ')} to .gitignore.`] : []),
      '',
      'Next:',
      `  1. Fill in the values marked "# TODO" in ${args.config} (region, MWAA environment, bucket, secret, servers).`,
      "  2. Pin each GPU server's SSH host key: run",
      `       ${commandLine('check', ['--env', env, '--print-host-keys', ...configArgs])}`,
      "     compare each fingerprint with the server's own, and paste the hostPublicKey lines into the config.",
      `  3. Render the DAG, plugins.zip and requirements.txt into dist-artifacts/${env}/:`,
      `       ${commandLine('generate', ['--env', env, ...configArgs])}`,
      `  4. One-time AWS setup (bucket versioning, IAM from dist-artifacts/${env}/iam/): docs/MWAA_SETUP.md in the package.`,
      '  5. See what a deploy would change, as a diff:',
      `       ${commandLine('deploy', ['--env', env, '--plan', '--diff', ...configArgs])}`,
      '',
      `No AWS account yet? ${commandLine('local', ['up'])}, then deploy and check with --env local.`,
    ];
    if (args.json) {
      writeJson(true, {
        config: args.config,
        environments: [env, 'local'],
        airflowVersion: values.airflowVersion ?? DEFAULT_AIRFLOW_VERSION,
        ...(learned.read && { mwaaEnvironment: learned.read }),
        gitignoreAdded: ignored,
        schemaCopy: writeSchema && schemaCopy ? relative(process.cwd(), schemaCopy.to) : null,
      });
      return;
    }
    process.stdout.write(`${steps.join('\n')}\n`);
  },
};

export default command;
