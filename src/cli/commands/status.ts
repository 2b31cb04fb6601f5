import type { CommandModule } from 'yargs';
import { COMMANDS, environmentOptions } from '../command-table.js';
import { explained, printReport, type ReportArgs, reportOptions, startReport, warnUnlessQuiet } from '../day-two.js';
import { wholeNumber } from '../flags.js';
import { DEFAULT_STATUS_RUNS } from '../../deployer/status.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import pkg from '../../../package.json' with { type: 'json' };

interface StatusArgs extends ReportArgs {
  runs: number;
}

const command: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: COMMANDS.status,
  builder: (yargs) =>
    reportOptions(
      environmentOptions(yargs).option('runs', {
        type: 'string',
        default: String(DEFAULT_STATUS_RUNS),
        coerce: wholeNumber('runs', 0, 100),
        describe: 'How many of the last runs to show (0-100)',
      }),
    )
      .example('$0 status --env prod', 'Status, drift, the DAG and its last runs')
      .example('$0 status --env prod --json', 'The same as one JSON document ("drift": true when anything differs)')
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    const { format, config } = await startReport(args);
    const [{ createAwsClients }, { runStatus }, view] = await Promise.all([
      import('../../mwaa/clients.js'),
      import('../../workflows/status.js'),
      import('../../deployer/status-format.js'),
    ]);
    const report = await explained(config, () =>
      runStatus({ config, toolVersion: pkg.version, runs: args.runs, warn: warnUnlessQuiet }, createAwsClients(config)),
    );
    printReport(format, report, { json: view.statusJson, markdown: view.statusMarkdown, text: view.formatStatus });
  },
};

export default command;
