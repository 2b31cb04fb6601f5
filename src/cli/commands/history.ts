import type { CommandModule } from 'yargs';
import { COMMANDS, environmentOptions } from '../command-table.js';
import { explained, printReport, type ReportArgs, reportOptions, startReport } from '../day-two.js';
import { EXIT_CODES_EPILOG } from '../help.js';

const command: CommandModule<object, ReportArgs> = {
  command: 'history',
  describe: COMMANDS.history,
  builder: (yargs) =>
    reportOptions(environmentOptions(yargs))
      .example('$0 history --env prod', 'Every deploy and rollback of prod, newest first, with the record ids rollback takes')
      .example('$0 history --env prod --format markdown >> "$GITHUB_STEP_SUMMARY"', 'The history as a CI job summary')
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    const { format, config } = await startReport(args);
    const [{ createAwsClients }, { environmentHistory }, history] = await Promise.all([
      import('../../mwaa/clients.js'),
      import('../../workflows/day-two.js'),
      import('../../deployer/history.js'),
    ]);
    const read = await explained(config, () => environmentHistory(config, createAwsClients(config)));
    printReport(format, read, { json: history.historyJson, markdown: history.historyMarkdown, text: history.formatHistory });
  },
};

export default command;
