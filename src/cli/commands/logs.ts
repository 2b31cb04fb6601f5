import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../errors.js';
import { COMMANDS, environmentOptions } from '../command-table.js';
import { cliContext } from '../context.js';
import { explained, printReport, type ReportArgs, reportOptions, startReport, warnUnlessQuiet } from '../day-two.js';
import { givenOptions, wholeNumber } from '../flags.js';
import { DEFAULT_LOG_LINES } from '../../deployer/run-logs.js';
import { EXIT_CODES_EPILOG } from '../help.js';

interface LogsArgs extends ReportArgs {
  run: string | undefined;
  task: string | undefined;
  server: string | undefined;
  lines: number;
  full: boolean;
}

const command: CommandModule<object, LogsArgs> = {
  command: 'logs',
  describe: COMMANDS.logs,
  builder: (yargs) =>
    reportOptions(
      environmentOptions(yargs)
        .option('run', { type: 'string', describe: 'Run id (default: the latest run; status lists the last runs)' })
        .option('task', { type: 'string', describe: 'Only this task (e.g. clone_and_checkout_repo)' })
        .option('server', { type: 'string', describe: "Only the tasks this server's map index ran (a server name from the config)" })
        .option('lines', {
          type: 'string',
          default: String(DEFAULT_LOG_LINES),
          coerce: wholeNumber('lines', 1, 100_000),
          describe: 'Lines from the end of each log',
        })
        .option('full', { type: 'boolean', default: false, describe: 'Each whole log (up to the answer cap, 16 MiB by default)' }),
    )
      .example('$0 logs --env prod', `The last ${DEFAULT_LOG_LINES} lines of each task of the latest run`)
      .example('$0 logs --env prod --server gpu-1 --task clone_and_checkout_repo --full', "One server's clone, whole log")
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    if (args.full && givenOptions(cliContext().argv).has('lines')) {
      throw new UserError('--full and --lines cannot be used together: --full shows each whole log.', ExitCode.usage);
    }
    const { format, config } = await startReport(args, ['run', 'task', 'server']);
    const [{ createAwsClients }, { environmentLogs }, logs] = await Promise.all([
      import('../../mwaa/clients.js'),
      import('../../workflows/day-two.js'),
      import('../../deployer/run-logs.js'),
    ]);
    const read = await explained(config, () =>
      environmentLogs(config, createAwsClients(config), {
        ...(args.run !== undefined ? { runId: args.run } : {}),
        ...(args.task !== undefined ? { task: args.task } : {}),
        ...(args.server !== undefined ? { server: args.server } : {}),
        lines: args.full ? Number.POSITIVE_INFINITY : args.lines,
        warn: warnUnlessQuiet,
      }),
    );
    printReport(format, read, { json: logs.runLogsJson, markdown: logs.runLogsMarkdown, text: logs.formatRunLogs });
  },
};

export default command;
