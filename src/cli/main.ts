#!/usr/bin/env node
/**
 * The CLI entry point. Each command lives in its own module, loaded only when that command runs,
 * so `generate` never pays for the AWS SDK or ssh2.
 */
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode } from '../errors.js';
import { reportAndExit } from './report-error.js';
import pkg from '../../package.json' with { type: 'json' };

interface LazyCommand {
  describe: string;
  // Each module's handler is typed with its own arguments; yargs checks them at parse time.
  load: () => Promise<{ default: CommandModule<any, any> }>;
}

const commands: Record<string, LazyCommand> = {
  generate: {
    describe: 'Render the DAG, plugins.zip, requirements.txt and manifest into dist-artifacts/<env>/',
    load: () => import('./commands/generate.js'),
  },
  deploy: {
    describe: 'Upload what changed to the MWAA bucket, update the environment, trigger the DAG',
    load: () => import('./commands/deploy.js'),
  },
  check: {
    describe: 'Verify over SSH that each GPU server is reachable and carries the expected version',
    load: () => import('./commands/check.js'),
  },
  local: {
    describe: 'Run a local MWAA-compatible stack (Airflow, S3, Secrets Manager, SSH) without Docker or AWS',
    load: () => import('./commands/local.js'),
  },
};

// The AWS SDK warns on every client about Node 20's support window; this tool declares its engine
// in package.json, so the warning would only repeat on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('mwaa-gpu-cicd')
    .version(pkg.version)
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Errors from handlers reach the catch below; yargs' own usage errors get exit code 2.
    .fail((message, error, instance) => {
      if (error) throw error;
      process.stderr.write(`${instance.help() ?? ''}`);
      process.stderr.write(`\n${message}\n`);
      process.exit(ExitCode.usage);
    });

  const requested = argv.find((arg) => !arg.startsWith('-'));
  const chosen = requested ? commands[requested] : undefined;
  if (chosen && requested) {
    cli.command((await chosen.load()).default);
  } else {
    for (const [name, command] of Object.entries(commands)) cli.command(name, command.describe);
  }
  await cli.parseAsync();
}

// A reader that went away (`generate | head -2`) ends the program quietly with the status a
// SIGPIPE'd Unix tool has (128 + 13); Node ignores SIGPIPE and would report EPIPE as a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCode.brokenPipe);
    throw error;
  });
}

main(hideBin(process.argv)).catch(reportAndExit);
