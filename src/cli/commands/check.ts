import type { CommandModule } from 'yargs';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { loadCliConfig } from '../load-config.js';
import { ExitCode, UserError } from '../../errors.js';
import { DEFAULT_CONCURRENCY, formatReport, reportJson, runRuntimeCheck, type CheckEvent } from '../../runtime-check/index.js';

interface CheckArgs {
  env: string;
  config: string;
  server: string[] | undefined;
  concurrency: number;
  'compare-variables': boolean;
  'identity-file': string | undefined;
  json: boolean;
  'print-host-keys': boolean;
  quick: boolean;
}

const command: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Verify over SSH that each GPU server is reachable, on the configured branch, with a valid version file',
  builder: (yargs) =>
    yargs
      .option('env', { type: 'string', demandOption: true, describe: 'Environment from config.yaml' })
      .option('config', { type: 'string', default: DEFAULT_CONFIG_PATH, describe: 'Config file' })
      .option('server', { type: 'string', array: true, describe: 'Check only these servers (repeatable)' })
      .option('concurrency', { type: 'number', default: DEFAULT_CONCURRENCY, describe: 'Servers checked at once' })
      .option('compare-variables', {
        type: 'boolean',
        default: false,
        describe: "Also compare the version file with the Airflow Variables (Airflow's REST API through MWAA's web login)",
      })
      .option('identity-file', { type: 'string', describe: 'SSH private key file instead of the Secrets Manager secret' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
      .option('print-host-keys', {
        type: 'boolean',
        default: false,
        describe: 'First-time setup: print each server\'s host key and fingerprint for the config; checks nothing else',
      })
      .option('quick', {
        type: 'boolean',
        default: false,
        describe: 'Only reachability and whoami (no git, no version file): a fast fleet-wide probe',
      })
      .strictOptions(),
  handler: async (args) => {
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 1024) {
      throw new UserError(`--concurrency must be an integer from 1 to 1024, got ${String(args.concurrency)}.`, ExitCode.usage);
    }
    // Checked here rather than with yargs' conflicts(), which counts boolean defaults as given.
    const modes = (['print-host-keys', 'quick', 'compare-variables'] as const).filter((name) => args[name]);
    if (modes.length > 1) {
      throw new UserError(`--${modes.join(' and --')} cannot be combined.`, ExitCode.usage);
    }
    const config = await loadCliConfig(args.config, args.env);
    const progress = !args.json && process.stderr.isTTY;
    const onEvent = (event: CheckEvent) => {
      if (event.type === 'warning') process.stderr.write(`warning: ${event.message}\n`);
      if (!progress) return;
      if (event.type === 'server-finished') {
        process.stderr.write(`${event.server.ok ? 'ok  ' : 'FAIL'} ${event.server.name}\n`);
      } else if (event.type === 'variables-started') {
        process.stderr.write(`reading ${event.count} Airflow Variables...\n`);
      }
    };
    const report = await runRuntimeCheck(
      config,
      {
        servers: args.server,
        concurrency: args.concurrency,
        compareVariables: args['compare-variables'],
        identityFile: args['identity-file'],
        printHostKeys: args['print-host-keys'],
        quick: args.quick,
      },
      onEvent,
    );
    process.stdout.write(args.json ? `${JSON.stringify(reportJson(report), null, 2)}\n` : formatReport(report));
    process.exitCode = report.ok ? ExitCode.ok : ExitCode.failure;
  },
};

export default command;
