/**
 * `rollback --to <record>`: a deploy of a recorded state. It runs the deploy command itself (plan
 * shown, confirmed or --yes, applied under the lock, a rollback record written, the DAG triggered
 * unless --no-trigger), with the recorded object versions copied back instead of fresh artifacts.
 */
import type { CommandModule } from 'yargs';
import { DEFAULT_OUT_DIR } from '../../generator/generate.js';
import { COMMANDS, environmentOptions, SHARED_OPTIONS } from '../command-table.js';
import { reportOptions, type Format } from '../day-two.js';
import { refuseEmpty } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { cliContext } from '../context.js';
import deployCommand, { type DeployArgs } from './deploy.js';

interface RollbackArgs {
  env: string;
  to: string;
  config: string;
  out: string;
  plan: boolean;
  yes: boolean;
  trigger: boolean;
  wait: boolean;
  'wait-for-available': boolean;
  smoke: boolean;
  timeout: string;
  json: boolean;
  format: Format | undefined;
  profile: string | undefined;
}

const command: CommandModule<object, RollbackArgs> = {
  command: 'rollback',
  describe: COMMANDS.rollback,
  builder: (yargs) =>
    reportOptions(
      environmentOptions(yargs)
        .option('to', {
          type: 'string',
          demandOption: true,
          describe: 'The deploy record to restore: its id as history shows it, its 12-digit hash, or a prefix only it has',
        })
        .option('out', { ...SHARED_OPTIONS.out, default: DEFAULT_OUT_DIR })
        .option('plan', { type: 'boolean', default: false, describe: 'Show what the rollback would change; change nothing' })
        .option('yes', SHARED_OPTIONS.yes)
        .option('trigger', SHARED_OPTIONS.trigger)
        .option('wait', SHARED_OPTIONS.wait)
        .option('wait-for-available', SHARED_OPTIONS.waitForAvailable)
        .option('smoke', {
          type: 'boolean',
          default: true,
          describe: 'After a successful --wait, run the runtime check (--no-smoke: skip it)',
        })
        .option('timeout', {
          ...SHARED_OPTIONS.timeout,
          default: '60m',
          describe: 'Limit for each wait (environment update, DAG parse, run)',
        }),
    )
      .example('$0 rollback --env prod --to 2026-12-07T19-52-44.123Z-0a1b2c3d4e5f --plan', 'What restoring that record would change')
      .example('$0 rollback --env prod --to 0a1b2c3d4e5f --yes', 'Restore it (its hash is enough)')
      .epilog(EXIT_CODES_EPILOG)
      .strictOptions(),
  handler: async (args) => {
    refuseEmpty(args, cliContext().argv, ['to']);
    const deployArgs: DeployArgs = {
      ...args,
      rollback: true,
      diff: false,
      'detailed-exitcode': false,
      conf: undefined,
    };
    await (deployCommand.handler as (a: DeployArgs) => Promise<void>)(deployArgs);
  },
};

export default command;
