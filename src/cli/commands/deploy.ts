import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { loadCliConfig } from '../load-config.js';
import { ExitCode, UserError } from '../../errors.js';
import { createAwsClients } from '../../mwaa/clients.js';
import { DEFAULT_OUT_DIR, generateEnvironment, writeEnvironment } from '../../generator/generate.js';
import { parseDuration, systemClock } from '../../deployer/clock.js';
import { explainAwsError } from '../../deployer/aws-errors.js';
import { deploy, type DeployOptions } from '../../deployer/deploy.js';
import { defaultDeployOptions, deployDeps, deploySettings, deployTargets } from '../../deployer/from-config.js';
import type { DeployEvent } from '../../deployer/events.js';
import { formatEvent, formatPlan, resultJson } from '../../deployer/format.js';
import type { DeployLock } from '../../deployer/lock.js';
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

/**
 * Progress on stderr: a line rewritten in place on a TTY; plain lines otherwise (CI logs), where a
 * repeated status (UPDATING, UPDATING, ...) is printed again only once a minute.
 */
function progressPrinter(tty: boolean): { emit: (e: DeployEvent) => void; done: () => void } {
  let liveShown = false;
  let lastKey = '';
  let lastPrinted = 0;
  const clearLive = () => {
    if (liveShown) process.stderr.write('\r\x1b[2K');
    liveShown = false;
  };
  return {
    emit(event) {
      const line = formatEvent(event);
      if (!line) return;
      if (line.live && tty) {
        clearLive();
        process.stderr.write(line.text.split('\n')[0]!.slice(0, (process.stderr.columns || 100) - 1));
        liveShown = true;
        return;
      }
      if (line.live) {
        const key = line.text.replace(/\(\d+m?\d*s\)/, '');
        const now = Date.now();
        if (key === lastKey && now - lastPrinted < 60_000) return;
        lastKey = key;
        lastPrinted = now;
      } else {
        lastKey = '';
      }
      clearLive();
      process.stderr.write(`${line.text}\n`);
    },
    done: clearLive,
  };
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
    const conf = parseConf(config.dag.triggerConf, args.conf);
    const generated = await generateEnvironment(config, pkg.version);
    if (!args.plan) await writeEnvironment(args.out, generated);
    const targets = deployTargets(generated);
    const options: DeployOptions = {
      ...defaultDeployOptions(config, generated, timeoutMs),
      planOnly: args.plan,
      rollback: args.rollback,
      trigger: args.trigger,
      waitForRun: args.wait,
      waitForAvailable: args['wait-for-available'],
      conf,
    };
    // The SDK warns about Node 20 on every run; this tool supports Node >= 20 (package.json engines).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const clients = createAwsClients(config);

    const tty = Boolean(process.stderr.isTTY);
    const progress = progressPrinter(tty);
    let heldLock: DeployLock | undefined;
    // The lock must not outlive an interrupted deploy: release it, then exit as the signal asks.
    const onSignal = (signal: NodeJS.Signals) => {
      progress.done();
      process.stderr.write(`\n${signal}: releasing the deploy lock and stopping.\n`);
      const code = signal === 'SIGINT' ? 130 : 143;
      void (heldLock ? heldLock.release() : Promise.resolve()).finally(() => process.exit(code));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    const who = { user: userInfo().username, host: hostname(), pid: process.pid, ...(process.env.AWS_PROFILE ? { awsProfile: process.env.AWS_PROFILE } : {}) };
    let result;
    const emit = (event: DeployEvent) => {
      if (event.type === 'planned' && !args.json) {
        progress.done();
        process.stdout.write(formatPlan(event.plan, config.mwaa.environmentName));
      }
      progress.emit(event);
    };
    // The runtime check afterwards reads the Variables through the same web login (or CLI fallback).
    const deps = deployDeps(config, clients, systemClock, emit, who);
    try {
      result = await deploy(deploySettings(config, generated, pkg.version), targets, options, {
        ...deps,
        onLock: (lock) => {
          heldLock = lock;
        },
        confirm: async (plan) => {
          if (args.yes) return true;
          if (!process.stdin.isTTY) {
            throw new UserError(
              `${plan.changes} change(s) pending and no TTY to confirm them: re-run with --yes to apply (or --plan to only look).`,
              ExitCode.usage,
            );
          }
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Apply ${plan.changes} change(s) to ${config.mwaa.environmentName}? [y/N] `);
          rl.close();
          return /^y(es)?$/i.test(answer.trim());
        },
      });
    } catch (error) {
      throw explainAwsError(error, { envName: config.envName, localStack: config.localStack });
    } finally {
      progress.done();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }

    let exitCode: number = ExitCode.ok;
    if (args.plan) {
      if (args.json) process.stdout.write(`${JSON.stringify(resultJson(result), null, 2)}\n`);
      if (args['detailed-exitcode'] && result.plan.changes > 0) exitCode = ExitCode.changesPending;
      if (exitCode !== ExitCode.ok) process.exitCode = exitCode;
      return;
    }
    let smoke: { ok: boolean; report: object } | undefined;
    if (result.runState !== undefined && result.runState !== 'success') exitCode = ExitCode.failure;
    if (result.runState === 'success' && args.smoke) {
      const { runRuntimeCheck, formatReport, reportJson } = await import('../../runtime-check/index.js');
      process.stderr.write('runtime check: SSH to each server, compare version.yaml with the Airflow Variables...\n');
      const report = await runRuntimeCheck(config, { compareVariables: true, aws: clients, variableReader: deps.airflow });
      smoke = { ok: report.ok, report: reportJson(report) };
      if (!args.json) process.stdout.write(formatReport(report));
      if (!report.ok) exitCode = ExitCode.failure;
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ ...resultJson(result), smoke: smoke ?? null, exitCode }, null, 2)}\n`);
    } else if (result.runState) {
      process.stdout.write(`Run ${result.runId} ${result.runState}.\n`);
    } else if (result.runId) {
      process.stdout.write(`Triggered run ${result.runId}.\n`);
    }
    if (exitCode !== ExitCode.ok) process.exitCode = exitCode;
  },
};

export default command;
