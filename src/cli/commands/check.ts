import type { CommandModule } from 'yargs';
import { awsErrorContext } from '../../config/aws-error-context.js';
import { explainRemoteError } from '../../mwaa/aws-errors.js';
import { ExitCode, UserError } from '../../errors.js';
import {
  DEFAULT_CONCURRENCY,
  formatReport,
  MAX_CONCURRENCY,
  reportJson,
  runRuntimeCheck,
  type CheckEvent,
  type CheckReport,
} from '../../runtime-check/index.js';
import { COMMANDS, environmentOptions, SHARED_OPTIONS } from '../command-table.js';
import { cliContext } from '../context.js';
import { positiveDuration, refuseEmpty, wholeNumber } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { loadCliConfig } from '../load-config.js';
import { useProfile } from '../profile.js';
import { progressPrinter } from '../progress.js';
import { writeJson } from '../json-output.js';

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
  profile: string | undefined;
  timeout: string;
}

/** How often a long check says how far it got. */
const HEARTBEAT_MS = 15_000;

/**
 * The whole check's bound. One server's check ends within ssh.connectTimeoutSeconds plus
 * ssh.commandTimeoutSeconds (10 s and 10 min by default); this caps a fleet, however many rounds
 * of --concurrency it takes, and the Variables read after it.
 */
const DEFAULT_CHECK_TIMEOUT = '30m';

/** `work`, or the error of `timedOut()` when it has not settled within `ms`. */
function within<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

const command: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: COMMANDS.check,
  builder: (yargs) =>
    environmentOptions(yargs)
      .option('server', { type: 'string', array: true, describe: 'Check only these servers (repeatable)' })
      .option('concurrency', {
        type: 'string',
        default: String(DEFAULT_CONCURRENCY),
        coerce: wholeNumber('concurrency', 1, MAX_CONCURRENCY),
        describe: `Servers checked at once (1-${MAX_CONCURRENCY})`,
      })
      .option('compare-variables', {
        type: 'boolean',
        default: false,
        describe: "Also compare the version file with the Airflow Variables (Airflow's REST API through MWAA's web login)",
      })
      .option('identity-file', { type: 'string', describe: 'SSH private key file instead of the Secrets Manager secret' })
      .option('json', { ...SHARED_OPTIONS.json, describe: 'Print the report as JSON' })
      .option('print-host-keys', {
        type: 'boolean',
        default: false,
        describe: "First-time setup: print each server's host key and fingerprint for the config; checks nothing else",
      })
      .option('quick', {
        type: 'boolean',
        default: false,
        describe: 'Only reachability and whoami (no git, no version file): a fast fleet-wide probe',
      })
      .option('profile', SHARED_OPTIONS.profile)
      .option('timeout', {
        ...SHARED_OPTIONS.timeout,
        default: DEFAULT_CHECK_TIMEOUT,
        describe:
          'Limit for the whole check (e.g. 10m, 90s); each SSH connect, command and request has its own (README, "Limits and timeouts")',
      })
      .example('$0 check --env prod', 'Every server: reachable, whoami, checkout, version file')
      .example('$0 check --env prod --print-host-keys', 'First-time setup: the hostPublicKey lines to pin in the config')
      .example('$0 check --env prod --compare-variables --json', 'Also compare with the Airflow Variables; JSON report')
      .example('$0 check --env prod --timeout 5m', 'Give up on the whole check after 5 minutes')
      .epilog(`A skipped check (after an earlier one failed) shows as "skip", not as a failure.\n\n${EXIT_CODES_EPILOG}`)
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    refuseEmpty(args, context.argv, ['env', 'config', 'server', 'identity-file', 'profile', 'timeout']);
    const timeoutMs = positiveDuration('timeout', args.timeout);
    // Checked here rather than with yargs' conflicts(), which counts boolean defaults as given.
    const modes = (['print-host-keys', 'quick', 'compare-variables'] as const).filter((name) => args[name]);
    if (modes.length > 1) {
      throw new UserError(`--${modes.join(' and --')} cannot be combined.`, ExitCode.usage);
    }
    useProfile(args.profile);
    // A config without pinned host keys loads (generate refuses it), so --print-host-keys can make the first pin.
    const config = await loadCliConfig(args.config, args.env);

    // Progress on stderr: on a terminal always; in a pipe or CI log too, except with --json
    // (whose reader wants stdout only) or --quiet.
    const showProgress = !context.quiet && (!args.json || Boolean(process.stderr.isTTY));
    const progress = progressPrinter();
    const { err } = context;
    let done = 0;
    const total = args.server?.length ? new Set(args.server).size : config.servers.length;
    const started = Date.now();
    let announced = false;
    const onEvent = (event: CheckEvent) => {
      if (event.type === 'warning' && !context.quiet) process.stderr.write(`${err.yellow('warning:')} ${event.message}\n`);
      if (!showProgress) return;
      if (event.type === 'server-started' && !announced) {
        announced = true;
        progress.print({ text: `checking ${total} server${total === 1 ? '' : 's'} (${Math.min(total, args.concurrency)} at a time)...` });
      }
      if (event.type === 'server-finished') {
        done += 1;
        const failed = event.server.checks.find((c) => !c.ok);
        progress.print({
          text: event.server.ok
            ? `${err.green('ok  ')} ${event.server.name}`
            : `${err.red('FAIL')} ${event.server.name}${failed ? `: ${failed.name}` : ''}`,
        });
      } else if (event.type === 'variables-started') {
        progress.print({ text: `reading ${event.count} Airflow Variables...` });
      } else if (context.verbose && event.type === 'key-loaded') {
        progress.print({ text: `SSH key from ${event.source}` });
      } else if (context.verbose && event.type === 'server-started') {
        progress.print({ text: `checking ${event.server}...` });
      }
    };
    const heartbeat = showProgress
      ? setInterval(
          () => progress.print({ text: `${done} of ${total} servers done (${Math.round((Date.now() - started) / 1000)}s)`, live: true }),
          HEARTBEAT_MS,
        )
      : undefined;
    let report: CheckReport;
    try {
      report = await within(
        runRuntimeCheck(
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
        ),
        timeoutMs,
        () =>
          new UserError(
            `The check did not finish within ${args.timeout} (--timeout): ${done} of ${total} servers done. ` +
              'Raise --timeout, check fewer servers at once (--server), or look at the servers that did not answer.',
          ),
      );
    } catch (error) {
      // Reading the key secret is the one AWS call that ends a check (the runtime check explains it).
      throw explainRemoteError(error, awsErrorContext(config));
    } finally {
      clearInterval(heartbeat);
      progress.done();
    }
    if (args.json) writeJson(report.ok, { ...reportJson(report) });
    else process.stdout.write(formatReport(report, context.out));
    process.exitCode = report.ok ? ExitCode.ok : ExitCode.failure;
  },
};

export default command;
