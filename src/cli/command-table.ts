/**
 * The CLI's commands and the options several of them share, defined once.
 *
 * - COMMANDS: each command's one-line description, which the top-level --help lists, the
 *   command's own --help shows and the README's command table starts its row with
 *   (test/unit/cli/command-table.test.ts holds the README and the help output to it).
 * - GLOBAL_OPTIONS: the switches every command takes (yargs and the quick parser read them).
 * - SHARED_OPTIONS: the options several commands take, with type, default and description. A
 *   command takes one as it is, or spreads it and adds what is its own (`demandOption`, `array`,
 *   the default output folder, a description of what its --json prints).
 * - VALUE_HINTS: what a value of an option looks like, for "--x needs a value" (flags.ts).
 *
 * It imports nothing heavy, so that main.ts reads it before loading any command.
 */
import type { Argv } from 'yargs';
import { DEFAULT_CONFIG_PATH } from '../config/default-path.js';

export const COMMANDS = {
  init: 'Start a project: write a commented config/config.yaml (and what leads to the first deploy)',
  generate: 'Render the DAG, plugins.zip, requirements.txt, resolved config and manifest into <out>/<env>/',
  parse: 'Validate every environment and import each rendered DAG in a real Airflow DagBag',
  deploy: 'Upload what changed to the MWAA bucket, pin new plugin/requirements versions, trigger the DAG',
  check: 'Verify over SSH that each GPU server is reachable, on the configured branch, with a valid version file',
  local: 'Run a local MWAA-compatible stack (Airflow, S3, Secrets Manager, SSH) without Docker or AWS',
  // Day-two operations: what runs, what ran, going back, and the run's logs.
  status: "Show the environment's status, drift from what generate makes now, the DAG's state and its last runs",
  history: 'List the deploy records, newest first: when, who (IAM identity), what changed, object versions',
  rollback: 'Restore the object versions of any deploy record (plan shown and confirmed as a deploy is)',
  logs: "Print a run's task logs (default: the latest run) through Airflow's REST API, the end of each by default",
} as const;

/**
 * Commands other tools' users type, each with what does it here (shown for an unknown command,
 * with exit code usage): `use` is the command line (`<env>` stands for the environment's name),
 * `note` what it does or, without `use`, why nothing does.
 */
export const FOREIGN_COMMANDS: Readonly<Record<string, { use?: string; note: string }>> = {
  plan: { use: 'deploy --env <env> --plan', note: 'what would change; --diff for the content' },
  apply: { use: 'deploy --env <env>', note: 'plans, asks, applies; --yes without a terminal' },
  validate: { use: 'parse', note: 'validates every environment and imports each DAG in Airflow; generate --env <env> validates one' },
  diff: { use: 'deploy --env <env> --plan --diff', note: 'against what is deployed; status --env <env> says whether anything drifted' },
  destroy: {
    note:
      'nothing here deletes an environment (that is MWAA DeleteEnvironment: the console or `aws mwaa delete-environment`); ' +
      'to undo a deploy: rollback --env <env> --to <record id from history>',
  },
};

export type CommandName = keyof typeof COMMANDS;

export const GLOBAL_OPTIONS = {
  quiet: { type: 'boolean', alias: 'q', describe: 'Print only results and errors (no progress)' },
  verbose: { type: 'boolean', alias: 'v', describe: 'Print more: every progress event, the causes of errors' },
} as const;

export const SHARED_OPTIONS = {
  env: { type: 'string', describe: 'Environment from config.yaml' },
  config: { type: 'string', default: DEFAULT_CONFIG_PATH, describe: 'Config file' },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON' },
  // The default, dist-artifacts, is the generator's (DEFAULT_OUT_DIR): each command adds it.
  out: { type: 'string', describe: 'Where the generated artifacts are written, as <out>/<env>/' },
  profile: { type: 'string', describe: 'AWS profile to use (sets AWS_PROFILE)' },
  timeout: { type: 'string', describe: 'Time limit, e.g. 45m, 90s, 1h30m (README, "Limits and timeouts")' },
  // What deploy and rollback (a deploy of an older record) both take.
  yes: { type: 'boolean', alias: 'y', default: false, describe: 'Apply without asking (required without a TTY)' },
  trigger: { type: 'boolean', default: true, describe: 'Trigger the DAG afterwards (--no-trigger: do not)' },
  wait: { type: 'boolean', default: false, describe: 'Wait for the triggered run and exit by its result' },
  waitForAvailable: {
    type: 'boolean',
    default: false,
    describe: 'If the environment is busy (UPDATING, ...), wait for AVAILABLE instead of refusing',
  },
} as const;

/** The options a command about one environment opens with: --env (required) and --config. */
export function environmentOptions<T>(yargs: Argv<T>) {
  return yargs.option('env', { ...SHARED_OPTIONS.env, demandOption: true }).option('config', SHARED_OPTIONS.config);
}

export const VALUE_HINTS: Readonly<Record<string, string>> = {
  env: 'an environment name from the config file',
  config: 'a config file',
  out: 'a directory',
  profile: 'a profile name from your AWS config',
  timeout: 'a duration such as 60m',
  conf: 'key=value',
};
