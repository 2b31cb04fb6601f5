import type { CommandModule } from 'yargs';
import { COMMANDS, environmentOptions } from '../command-table.js';
import { cliContext } from '../context.js';
import { explained, formatOf, printReport, reportOptions, type Format } from '../day-two.js';
import { refuseEmpty } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { loadCliConfig } from '../load-config.js';
import { useProfile } from '../profile.js';

interface HistoryArgs {
  env: string;
  config: string;
  json: boolean;
  format: Format | undefined;
  profile: string | undefined;
}

const command: CommandModule<object, HistoryArgs> = {
  command: 'history',
  describe: COMMANDS.history,
  builder: (yargs) =>
    reportOptions(environmentOptions(yargs))
      .example('$0 history --env prod', 'Every deploy and rollback of prod, newest first, with the record ids rollback takes')
      .example('$0 history --env prod --format markdown >> "$GITHUB_STEP_SUMMARY"', 'The history as a CI job summary')
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    refuseEmpty(args, context.argv, ['env', 'config', 'profile']);
    const format = formatOf(args);
    useProfile(args.profile);
    const config = await loadCliConfig(args.config, args.env);
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
