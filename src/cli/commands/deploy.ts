import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { awsErrorContext } from '../../config/aws-error-context.js';
import { explainRemoteError } from '../../mwaa/aws-errors.js';
import type { PlanRefusedError } from '../../deployer/deploy.js';
import {
  diffsMarkdown,
  formatDiffs,
  formatEvent,
  formatPlan,
  planJson,
  planMarkdown,
  resultJson,
  resultMarkdown,
} from '../../deployer/format.js';
import type { Plan, Refusal } from '../../deployer/plan.js';
import type { WorkflowEvent, WorkflowResult } from '../../workflows/deploy.js';
import { ExitCode, UserError } from '../../errors.js';
import { DEFAULT_OUT_DIR } from '../../generator/generate.js';
import { formatReport, reportJson } from '../../runtime-check/format.js';
import { COMMANDS, environmentOptions, SHARED_OPTIONS } from '../command-table.js';
import { cliContext } from '../context.js';
import { givenOptions, positiveDuration, refuseEmpty, refuseTogether } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { loadCliConfig } from '../load-config.js';
import { useProfile } from '../profile.js';
import { progressPrinter } from '../progress.js';
import pkg from '../../../package.json' with { type: 'json' };
import { writeJson } from '../json-output.js';

const FORMATS = ['text', 'json', 'markdown'] as const;
type Format = (typeof FORMATS)[number];

interface DeployArgs {
  env: string;
  config: string;
  out: string;
  plan: boolean;
  diff: boolean;
  'detailed-exitcode': boolean;
  yes: boolean;
  trigger: boolean;
  wait: boolean;
  'wait-for-available': boolean;
  timeout: string;
  conf: string[] | undefined;
  rollback: boolean;
  /** The rollback command's --to: the record to restore. */
  to?: string;
  json: boolean;
  format: Format | undefined;
  smoke: boolean;
  profile: string | undefined;
}

const CONF_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function parseConf(base: Record<string, string>, pairs: readonly string[] | undefined): Record<string, string> {
  const conf = { ...base };
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !CONF_KEY.test(key)) {
      throw new UserError(`--conf expects key=value with a key of letters, digits and "_"; got ${JSON.stringify(pair)}.`, ExitCode.usage);
    }
    conf[key] = pair.slice(eq + 1);
  }
  return conf;
}

/** Flags that contradict each other, with what to do instead. */
const CONFLICTS: ReadonlyArray<readonly [string, string, string]> = [
  ['plan', 'wait', '--plan triggers nothing, so there is no run to wait for'],
  ['plan', 'yes', '--plan changes nothing, so there is nothing to confirm'],
  ['plan', 'wait-for-available', '--plan shows a busy environment without waiting; drop --wait-for-available'],
  ['plan', 'conf', '--plan triggers nothing, so a run conf has no use'],
  ['json', 'format', '--json is --format json; give one of them'],
];

/** Validates the flags as given; returns the output format. */
function checkFlags(args: DeployArgs, argv: readonly string[]): Format {
  const given = givenOptions(argv, { y: 'yes' });
  refuseEmpty(args, argv, ['env', 'config', 'out', 'timeout', 'conf', 'profile']);
  refuseTogether(given, CONFLICTS);
  if (!args.plan) {
    for (const flag of ['detailed-exitcode', 'diff'] as const) {
      if (args[flag]) throw new UserError(`--${flag} goes with --plan.`, ExitCode.usage);
    }
  }
  if (!args.trigger && args.wait) {
    throw new UserError(
      '--no-trigger and --wait cannot be used together: without a triggered run there is nothing to wait for.',
      ExitCode.usage,
    );
  }
  return args.json ? 'json' : (args.format ?? 'text');
}

export type { DeployArgs };

const command: CommandModule<object, DeployArgs> = {
  command: 'deploy',
  describe: COMMANDS.deploy,
  builder: (yargs) =>
    environmentOptions(yargs)
      .option('out', { ...SHARED_OPTIONS.out, default: DEFAULT_OUT_DIR })
      .option('plan', { type: 'boolean', default: false, describe: 'Show what would change; change nothing' })
      .option('diff', {
        type: 'boolean',
        default: false,
        describe: 'With --plan: also show the content change of each object (unified diff; plugins.zip member list)',
      })
      .option('detailed-exitcode', {
        type: 'boolean',
        default: false,
        describe: 'With --plan: exit 0 when nothing would change, 3 when changes are pending',
      })
      .option('yes', SHARED_OPTIONS.yes)
      .option('trigger', SHARED_OPTIONS.trigger)
      .option('wait', SHARED_OPTIONS.wait)
      .option('wait-for-available', SHARED_OPTIONS.waitForAvailable)
      // An environment update takes 20 to 40 minutes on MWAA; the default leaves room past that.
      .option('timeout', {
        ...SHARED_OPTIONS.timeout,
        default: '60m',
        describe:
          'Limit for each wait (environment update, DAG parse, run); each request has its own deadline (README, "Limits and timeouts")',
      })
      .option('conf', { type: 'string', array: true, describe: 'Run conf key=value (repeatable); overrides dag.triggerConf' })
      .option('rollback', { type: 'boolean', default: false, describe: "Restore the previous deploy record's object versions" })
      .option('format', {
        type: 'string',
        choices: FORMATS,
        describe: 'Output: text, json, or markdown (for $GITHUB_STEP_SUMMARY and pull request comments)',
      })
      .option('json', { ...SHARED_OPTIONS.json, describe: 'Same as --format json' })
      .option('smoke', {
        type: 'boolean',
        default: true,
        describe: 'After a successful --wait, run the runtime check (--no-smoke: skip it)',
      })
      .option('profile', SHARED_OPTIONS.profile)
      .example('$0 deploy --env prod --plan --diff', 'What would change, with the content diff; changes nothing')
      .example('$0 deploy --env prod --plan --format markdown >> "$GITHUB_STEP_SUMMARY"', 'The plan as a CI job summary')
      .example('$0 deploy --env prod --yes --wait', 'Ship, trigger, wait for the run, smoke-check the servers')
      .example('$0 deploy --env prod --yes --rollback', "Back to the previous deploy record's object versions")
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    const format = checkFlags(args, context.argv);
    const timeoutMs = positiveDuration('timeout', args.timeout);
    useProfile(args.profile);
    const config = await loadCliConfig(args.config, args.env);
    // The workflow brings the AWS SDK: loaded only once there is something to deploy (not for --help).
    const [{ currentDeployer, runDeployWorkflow }, { PlanRefusedError }] = await Promise.all([
      import('../../workflows/deploy.js'),
      import('../../deployer/deploy.js'),
    ]);
    const progress = context.quiet ? { print: () => undefined, done: () => undefined } : progressPrinter();
    const { out, err } = context;
    let shownPlan: Plan | undefined;
    const emit = (event: WorkflowEvent) => {
      if (event.type === 'planned') {
        if (format === 'json') return;
        progress.done();
        shownPlan = event.plan;
        process.stdout.write(
          format === 'markdown'
            ? planMarkdown(event.plan, config.mwaa.environmentName, config.envName)
            : formatPlan(event.plan, config.mwaa.environmentName, out),
        );
      } else if (event.type === 'smoke-started') {
        progress.print({ text: 'runtime check: SSH to each server, compare version.yaml with the Airflow Variables...' });
      } else if (event.type === 'interrupted') {
        progress.done();
        process.stderr.write(`\n${event.signal}: ${event.lockHeld ? 'releasing the deploy lock and stopping' : 'stopping'}.\n`);
      } else if (event.type === 'remote-state') {
        if (context.verbose)
          progress.print({ text: `environment ${config.mwaa.environmentName}: ${event.status}, Airflow ${event.airflowVersion ?? '?'}` });
      } else {
        const line = formatEvent(event);
        if (line && event.type === 'warning') line.text = err.yellow(line.text);
        progress.print(line);
      }
    };
    let outcome: WorkflowResult;
    try {
      outcome = await runDeployWorkflow(
        {
          config,
          toolVersion: pkg.version,
          outDir: args.out,
          planOnly: args.plan,
          diff: args.diff,
          detailedExitCode: args['detailed-exitcode'],
          rollback: args.rollback,
          ...(args.to !== undefined ? { rollbackTo: args.to } : {}),
          trigger: args.trigger,
          waitForRun: args.wait,
          waitForAvailable: args['wait-for-available'],
          smoke: args.smoke,
          timeoutMs,
          conf: parseConf(config.dag.triggerConf, args.conf),
          yes: args.yes,
        },
        {
          emit,
          ask: process.stdin.isTTY ? askOnTerminal : undefined,
          who: currentDeployer(userInfo().username, hostname()),
          exitOnSignal: (signal) => process.exit(signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated),
        },
      );
    } catch (error) {
      throw refusalError(error, shownPlan, PlanRefusedError) ?? explainRemoteError(error, awsErrorContext(config));
    } finally {
      progress.done();
    }
    const { result, smoke, diffs, exitCode } = outcome;
    if (format === 'json') {
      const document: Record<string, unknown> = { ...resultJson(result) };
      if (diffs) document.diffs = diffs;
      if (!args.plan) Object.assign(document, { smoke: smoke ? reportJson(smoke) : null, exitCode });
      writeJson(exitCode === ExitCode.ok || exitCode === ExitCode.changesPending, document);
    } else if (format === 'markdown') {
      if (diffs) process.stdout.write(`\n${diffsMarkdown(diffs)}`);
      if (!args.plan) process.stdout.write(`\n${resultMarkdown(result, smoke)}`);
    } else {
      if (diffs) process.stdout.write(`\n${formatDiffs(diffs, out)}`);
      if (smoke) process.stdout.write(formatReport(smoke, out));
      if (result.runState) {
        const state = result.runState === 'success' ? out.green(result.runState) : out.red(result.runState);
        process.stdout.write(`Run ${result.runId} ${state}.\n`);
      } else if (result.runId) {
        process.stdout.write(`Triggered run ${result.runId}.\n`);
      }
    }
    if (exitCode !== ExitCode.ok) process.exitCode = exitCode;
  },
};

/** What each kind of refusal is about, for the one-line error after a plan that shows them in full. */
const REFUSAL_TOPICS: Record<Refusal['code'], string> = {
  versioning: 'bucket versioning',
  'airflow-version': 'Airflow version',
  bucket: 'bucket',
  'dag-path': 'DAG folder',
  status: 'environment status',
  'alarm-owner': 'CloudWatch alarm names',
};

/**
 * A refused plan that is already on screen (with its REFUSED lines) is not printed again: the
 * error says only that it was refused. A plan refused under the lock, never shown, keeps its
 * message. With --json the error carries the plan.
 */
function refusalError(error: unknown, shown: Plan | undefined, refused: typeof PlanRefusedError): UserError | undefined {
  if (!(error instanceof refused)) return undefined;
  const details = { refusals: error.plan.refusals, plan: planJson(error.plan) };
  const what = [...new Set(error.plan.refusals.map((r) => REFUSAL_TOPICS[r.code]))].join(', ');
  const message =
    shown === error.plan
      ? `Deploy refused (${what}); nothing was changed. The REFUSED lines of the plan say what to do.`
      : `Deploy refused; nothing was changed:\n${error.message}`;
  return new UserError(message, ExitCode.failure, { details });
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export default command;
