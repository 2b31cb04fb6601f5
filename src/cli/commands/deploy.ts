import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { parseDuration } from '../../deployer/clock.js';
import { formatEvent, formatPlan, resultJson } from '../../deployer/format.js';
import { currentDeployer, runDeployWorkflow, type WorkflowEvent } from '../../deployer/workflow.js';
import { ExitCode, UserError } from '../../errors.js';
import { DEFAULT_OUT_DIR } from '../../generator/generate.js';
import { formatReport, reportJson } from '../../runtime-check/format.js';
import { loadCliConfig } from '../load-config.js';
import { progressPrinter } from '../progress.js';
import pkg from '../../../package.json' with { type: 'json' };

interface DeployArgs {
  env: string;
  config: string;
  out: string;
  plan: boolean;
  'detailed-exitcode': boolean;
  yes: boolean;
  trigger: boolean;
  wait: boolean;
  'wait-for-available': boolean;
  timeout: string;
  conf: string[] | undefined;
  rollback: boolean;
  json: boolean;
  smoke: boolean;
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

const command: CommandModule<object, DeployArgs> = {
  command: 'deploy',
  describe: 'Upload what changed to the MWAA bucket, pin new plugin/requirements versions, trigger the DAG',
  builder: (yargs) =>
    yargs
      .option('env', { type: 'string', demandOption: true, describe: 'Environment from config.yaml' })
      .option('config', { type: 'string', default: DEFAULT_CONFIG_PATH, describe: 'Config file' })
      .option('out', { type: 'string', default: DEFAULT_OUT_DIR, describe: 'Where the generated artifacts are written too' })
      .option('plan', { type: 'boolean', default: false, describe: 'Show what would change; change nothing' })
      .option('detailed-exitcode', {
        type: 'boolean',
        default: false,
        describe: 'With --plan: exit 0 when nothing would change, 3 when changes are pending',
      })
      .option('yes', { type: 'boolean', alias: 'y', default: false, describe: 'Apply without asking (required without a TTY)' })
      .option('trigger', { type: 'boolean', default: true, describe: 'Trigger the DAG after deploying (--no-trigger: do not)' })
      .option('wait', { type: 'boolean', default: false, describe: 'Wait for the triggered run and exit by its result' })
      .option('wait-for-available', {
        type: 'boolean',
        default: false,
        describe: 'If the environment is busy (UPDATING, ...), wait for AVAILABLE instead of refusing',
      })
      .option('timeout', { type: 'string', default: '45m', describe: 'Limit for each wait (environment update, DAG parse, run)' })
      .option('conf', { type: 'string', array: true, describe: 'Run conf key=value (repeatable); overrides dag.triggerConf' })
      .option('rollback', { type: 'boolean', default: false, describe: "Restore the previous deploy record's object versions" })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result (or plan) as JSON on stdout' })
      .option('smoke', {
        type: 'boolean',
        default: true,
        describe: 'After a successful --wait, run the runtime check (--no-smoke: skip it)',
      })
      .check((args) => {
        if (args['detailed-exitcode'] && !args.plan) throw new UserError('--detailed-exitcode needs --plan', ExitCode.usage);
        return true;
      })
      .strictOptions(),
  handler: async (args) => {
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(args.timeout);
    } catch (error) {
      throw new UserError(`--timeout: ${(error as Error).message}`, ExitCode.usage);
    }
    const config = await loadCliConfig(args.config, args.env);
    const progress = progressPrinter();
    const emit = (event: WorkflowEvent) => {
      if (event.type === 'planned') {
        if (args.json) return;
        progress.done();
        process.stdout.write(formatPlan(event.plan, config.mwaa.environmentName));
      } else if (event.type === 'smoke-started') {
        progress.print({ text: 'runtime check: SSH to each server, compare version.yaml with the Airflow Variables...' });
      } else if (event.type === 'interrupted') {
        progress.done();
        process.stderr.write(`\n${event.signal}: releasing the deploy lock and stopping.\n`);
      } else {
        progress.print(formatEvent(event));
      }
    };
    let outcome;
    try {
      outcome = await runDeployWorkflow(
        {
          config,
          toolVersion: pkg.version,
          outDir: args.out,
          planOnly: args.plan,
          rollback: args.rollback,
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
    } finally {
      progress.done();
    }
    const { result, smoke } = outcome;
    let exitCode = outcome.exitCode;
    if (args.plan) {
      if (args.json) process.stdout.write(`${JSON.stringify(resultJson(result), null, 2)}\n`);
      if (args['detailed-exitcode'] && result.plan.changes > 0) exitCode = ExitCode.changesPending;
    } else if (args.json) {
      process.stdout.write(`${JSON.stringify({ ...resultJson(result), smoke: smoke ? reportJson(smoke) : null, exitCode }, null, 2)}\n`);
    } else {
      if (smoke) process.stdout.write(formatReport(smoke));
      if (result.runState) process.stdout.write(`Run ${result.runId} ${result.runState}.\n`);
      else if (result.runId) process.stdout.write(`Triggered run ${result.runId}.\n`);
    }
    if (exitCode !== ExitCode.ok) process.exitCode = exitCode;
  },
};

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export default command;
