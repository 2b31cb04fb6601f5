import type { CommandModule } from 'yargs';
import { COMMANDS, SHARED_OPTIONS } from '../command-table.js';
import { cliContext } from '../context.js';
import { explained, printReport, FORMAT_OPTION, formatOf, JSON_OPTION, type Format } from '../day-two.js';
import { refuseEmpty, wholeNumber } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { loadCliConfig } from '../load-config.js';
import { useProfile } from '../profile.js';
import pkg from '../../../package.json' with { type: 'json' };

interface StatusArgs {
  env: string;
  config: string;
  runs: number;
  json: boolean;
  format: Format | undefined;
  profile: string | undefined;
}

const command: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: COMMANDS.status,
  builder: (yargs) =>
    yargs
      .option('env', { ...SHARED_OPTIONS.env, demandOption: true })
      .option('config', SHARED_OPTIONS.config)
      .option('runs', {
        type: 'string',
        default: '5',
        coerce: wholeNumber('runs', 0, 100),
        describe: 'How many of the last runs to show (0-100)',
      })
      .option('format', FORMAT_OPTION)
      .option('json', JSON_OPTION)
      .option('profile', SHARED_OPTIONS.profile)
      .example('$0 status --env prod', 'Status, drift, the DAG and its last runs')
      .example('$0 status --env prod --json', 'The same as one JSON document ("drift": true when anything differs)')
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    const context = cliContext();
    refuseEmpty(args, context.argv, ['env', 'config', 'profile']);
    const format = formatOf(args);
    useProfile(args.profile);
    const config = await loadCliConfig(args.config, args.env);
    const [{ createAwsClients }, { runStatus }, view] = await Promise.all([
      import('../../mwaa/clients.js'),
      import('../../workflows/status.js'),
      import('../../deployer/status-format.js'),
    ]);
    const warn = (message: string) => {
      if (!context.quiet) process.stderr.write(`${context.err.yellow('warning:')} ${message}\n`);
    };
    const report = await explained(config, () =>
      runStatus({ config, toolVersion: pkg.version, runs: args.runs, warn }, createAwsClients(config)),
    );
    printReport(format, report, { json: view.statusJson, markdown: view.statusMarkdown, text: view.formatStatus });
  },
};

export default command;
