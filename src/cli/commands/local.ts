import type { Argv, CommandModule } from 'yargs';
import { existsSync, readFileSync } from 'node:fs';
import { ExitCode, UserError } from '../../errors.js';
import { COMMANDS, SHARED_OPTIONS } from '../command-table.js';
import { cliContext } from '../context.js';
import { givenOptions, refuseEmpty, wholeNumber } from '../flags.js';
import { EXIT_CODES_EPILOG } from '../help.js';
import { AIRFLOW_LINES, DEFAULT_AIRFLOW_LINE } from '../../mwaa/versions.js';
import { down } from '../../../local-stack/src/down.js';
import { AIRFLOW_VERSIONS, layoutFor } from '../../../local-stack/src/layout.js';
import { descendants } from '../../../local-stack/src/processes.js';
import type { StackEvent } from '../../../local-stack/src/progress.js';
import { readState, readStateIfPresent, stackRoot, type AirflowLine } from '../../../local-stack/src/state.js';
import { renderClientEnv } from '../../../local-stack/src/client-env.js';
import { stackStatus, type StackStatus } from '../../../local-stack/src/status.js';
import { provision, up } from '../../../local-stack/src/up.js';
import { writeJson } from '../json-output.js';

/** Progress lines on stderr: `[  12.3s] venv airflow-2.11.2: installed ... (95.1s)`. */
function progressPrinter(startedAt: number, quiet: boolean): (event: StackEvent) => void {
  if (quiet) return () => undefined;
  const tty = Boolean(process.stderr.isTTY);
  const stamp = () => `[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s]`;
  return (event) => {
    if (event.kind === 'step-start') {
      // On a terminal show the running step; it is overwritten by its result line.
      if (tty) process.stderr.write(`${stamp()} ${event.step} ...`);
    } else if (event.kind === 'step-done') {
      const took = `${(event.elapsedMs / 1000).toFixed(1)}s`;
      const line = `${stamp()} ${event.step}: ${event.detail} (${event.cached ? `reused, ${took}` : took})`;
      process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    } else {
      process.stderr.write(`${stamp()} ${event.message}\n`);
    }
  };
}

function formatStatus(status: StackStatus): string {
  const lines: string[] = [];
  const state = status.state;
  if (!state) {
    lines.push(`Local stack at ${status.root}: not up (no state.json). Run: npm run local -- up`);
  } else {
    lines.push(`Local stack at ${state.root}: ${status.up ? 'up' : 'DEGRADED (some processes are down; run up again)'}`);
    lines.push(`  Airflow     ${state.airflowVersion} (line ${state.airflowLine}, Python ${state.pythonVersion})`);
    if (state.pythonNote) lines.push(`  note        ${state.pythonNote}`);
    lines.push(`  MWAA        ${state.endpoints.mwaa}  environment ${state.environmentName}`);
    lines.push(`  S3 + SM     ${state.endpoints.s3}  bucket ${state.bucket}`);
    lines.push(`  secret      ${state.secretArn}`);
    lines.push(`  ssh         ${state.ssh.user}@${state.ssh.host}:${state.ssh.port}  key ${state.ssh.clientKeyPath}`);
    lines.push(`  git         ${state.git.remoteUrl} (${state.git.branch})`);
    lines.push(`  AIRFLOW_HOME ${state.airflowHome}`);
  }
  if (status.processes.length > 0) {
    lines.push('', '  PROCESS                 PID      STATE  RSS MiB  LOG');
    for (const p of status.processes) {
      const rss = p.rssKiB === null ? '-' : (p.rssKiB / 1024).toFixed(0);
      lines.push(`  ${p.name.padEnd(22)}  ${String(p.pid).padEnd(7)}  ${(p.up ? 'up' : 'DOWN').padEnd(5)}  ${rss.padStart(7)}  ${p.log}`);
    }
    lines.push(`  total RSS incl. children: ${(status.totalRssKiB / 1024).toFixed(0)} MiB`);
  }
  if (status.strays.length > 0) {
    lines.push('', `  STRAY processes under ${status.root} (no record accounts for them; \`local down\` stops them):`);
    for (const stray of status.strays) lines.push(`  ${String(stray.pid).padEnd(7)}  ${stray.command.slice(0, 100)}`);
  }
  return `${lines.join('\n')}\n`;
}

function tail(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log yet)\n';
  const text = readFileSync(path, 'utf8').trimEnd().split('\n');
  return `${text.slice(-lines).join('\n')}\n`;
}

type Action = 'up' | 'provision' | 'status' | 'down' | 'logs' | 'env';

/** The options each action takes; any other given option is a usage error. */
const ACTION_OPTIONS: Record<Action, readonly string[]> = {
  up: ['airflow'],
  provision: ['airflow'],
  status: ['json'],
  down: ['wipe', 'wipe-venvs'],
  logs: ['name', 'lines', 'paths'],
  env: [],
};
const ALL_ACTION_OPTIONS = new Set(Object.values(ACTION_OPTIONS).flat());

function checkActionOptions(action: Action, argv: readonly string[]): void {
  for (const name of givenOptions(argv)) {
    if (!ALL_ACTION_OPTIONS.has(name) || ACTION_OPTIONS[action].includes(name)) continue;
    const owner = (Object.keys(ACTION_OPTIONS) as Action[]).filter((a) => ACTION_OPTIONS[a].includes(name));
    throw new UserError(`--${name} goes with \`local ${owner.join('` or `local ')}\`, not \`local ${action}\`.`, ExitCode.usage);
  }
}

interface LocalArgs {
  action: Action;
  airflow: string | undefined;
  json: boolean;
  wipe: boolean;
  'wipe-venvs': boolean;
  name: string[] | undefined;
  lines: number;
  paths: boolean;
}

const command: CommandModule<object, LocalArgs> = {
  command: 'local <action>',
  describe: COMMANDS.local,
  builder: (yargs: Argv) =>
    yargs
      .positional('action', {
        choices: ['up', 'provision', 'status', 'down', 'logs', 'env'] as const,
        describe:
          'up: provision and start (idempotent); provision: only install (venv, migrated DB); status; down: stop; logs: log files; ' +
          'env: export lines that point AWS clients at the stack (eval "$(... local env)")',
        demandOption: true,
      })
      .option('airflow', {
        type: 'string',
        choices: AIRFLOW_LINES,
        describe: `up, provision: Airflow line (${AIRFLOW_LINES.map((l) => `${l} = ${AIRFLOW_VERSIONS[l]}`).join(', ')}); default: the line of the stack that is up, else ${DEFAULT_AIRFLOW_LINE}`,
      })
      .option('json', { ...SHARED_OPTIONS.json, describe: 'status: print JSON' })
      .option('wipe', { type: 'boolean', default: false, describe: 'down: also delete the stack data (keeps venvs)' })
      .option('wipe-venvs', { type: 'boolean', default: false, describe: 'down --wipe: delete the venvs too' })
      .option('name', { type: 'string', array: true, describe: 'logs: only these processes (e.g. moto, airflow-scheduler)' })
      .option('lines', {
        type: 'string',
        default: '20',
        coerce: wholeNumber('lines', 1, 100_000),
        describe: 'logs: lines of each log to print',
      })
      .option('paths', { type: 'boolean', default: false, describe: 'logs: print only the log paths' })
      .example('$0 local up --airflow 3', 'Provision and start the stack with Airflow 3')
      .example('$0 local logs --name moto --lines 50', 'The last 50 lines of the moto log')
      .example('eval "$($0 local env)"', 'Point the AWS CLI, boto3, curl and Node at the stack (endpoints, CA bundles)')
      .epilog(`The stack lives in $MWAA_LOCAL_HOME or ./.local-stack. See local-stack/README.md.\n\n${EXIT_CODES_EPILOG}`)
      .strictOptions() as unknown as Argv<LocalArgs>,
  handler: async (args) => {
    const context = cliContext();
    checkActionOptions(args.action, context.argv);
    refuseEmpty(args, context.argv, ['name']);
    const root = stackRoot();
    const startedAt = Date.now();
    const progress = progressPrinter(startedAt, context.quiet);
    if (args.action === 'up') {
      const line = (args.airflow ?? readStateIfPresent(root)?.airflowLine ?? DEFAULT_AIRFLOW_LINE) as AirflowLine;
      const result = await up({ root, line, progress, now: Date.now });
      const s = result.state;
      process.stderr.write(
        `[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] local stack up: Airflow ${s.airflowVersion} on Python ${s.pythonVersion}, ` +
          `MWAA ${s.endpoints.mwaa}, S3 ${s.endpoints.s3}, ssh ${s.ssh.user}@${s.ssh.host}:${s.ssh.port}` +
          `${result.started.length === 0 ? ' (everything was already running)' : ''}\n`,
      );
      process.stdout.write(`${s.root}/state.json\n`);
      return;
    }
    if (args.action === 'provision') {
      const line = (args.airflow ?? readStateIfPresent(root)?.airflowLine ?? DEFAULT_AIRFLOW_LINE) as AirflowLine;
      await provision({ root, line, progress, now: Date.now });
      process.stderr.write(
        `[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] local stack provisioned for Airflow line ${line}\n`,
      );
      return;
    }
    if (args.action === 'down') {
      if (args['wipe-venvs'] && !args.wipe) throw new UserError('--wipe-venvs goes with --wipe.', ExitCode.usage);
      const result = await down({ root, wipe: args.wipe, wipeVenvs: args['wipe-venvs'], progress, now: Date.now });
      const alive = result.stopped.filter((p) => p.outcome !== 'not-running').length;
      process.stderr.write(`local stack down: ${alive} process(es) stopped${args.wipe ? `, ${root} wiped` : ''}\n`);
      return;
    }
    if (args.action === 'env') {
      process.stdout.write(renderClientEnv(readState(root)));
      return;
    }
    const status = stackStatus(root, descendants);
    if (args.action === 'status') {
      if (args.json) {
        const { state, ...rest } = status;
        writeJson(status.up, { ...(state ?? {}), ...rest, processes: status.processes });
      } else {
        process.stdout.write(formatStatus(status));
      }
      process.exitCode = status.up ? ExitCode.ok : ExitCode.failure;
      return;
    }
    // logs
    const logs = status.processes.map((p) => ({ name: p.name, path: p.log }));
    if (status.state) {
      const layout = layoutFor(root, status.state.airflowVersion);
      logs.push(
        { name: 'pip', path: `${layout.logsDir}/pip-${status.state.airflowVersion}.log` },
        { name: 'airflow-db-migrate', path: `${layout.logsDir}/airflow-db-migrate-${status.state.airflowVersion}.log` },
      );
    }
    const wanted = args.name && args.name.length > 0 ? logs.filter((l) => args.name!.includes(l.name)) : logs;
    if (wanted.length === 0) throw new UserError(`No such log. Known: ${logs.map((l) => l.name).join(', ') || '(stack not up)'}`);
    for (const log of wanted) {
      if (args.paths) process.stdout.write(`${log.name}\t${log.path}\n`);
      else process.stdout.write(`==> ${log.name}: ${log.path} <==\n${tail(log.path, args.lines)}\n`);
    }
  },
};

export default command;
