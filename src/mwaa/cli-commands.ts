/**
 * The Airflow CLI commands MWAA's `/aws_mwaa/cli` endpoint runs, per Airflow line, exactly as AWS
 * lists them; anything else answers HTTP 500. The deployer, the runtime check and the local
 * control plane all read this one table.
 * Source: MWAA user guide, "Apache Airflow CLI command reference", section "Supported commands":
 * https://docs.aws.amazon.com/mwaa/latest/userguide/airflow-cli-command-reference.html#airflow-cli-commands-supported
 * (v2 rows: 2.x; v3 rows: "v3.0.6, v3.2.1, v3.3.1").
 */
import { compareVersions, type AirflowLine } from './versions.js';

const PROVIDERS = ['behaviours', 'get', 'hooks', 'links', 'list', 'notifications', 'secrets', 'triggerer', 'widgets'];
const ROLES = ['add-perms', 'create', 'del-perms', 'list'];
const VARIABLES = ['delete', 'get', 'list', 'set'];
const CONNECTIONS = ['add', 'delete'];
const DAGS_COMMON = [
  'delete',
  'list',
  'list-import-errors',
  'list-jobs',
  'list-runs',
  'next-execution',
  'pause',
  'report',
  'reserialize',
  'show',
  'state',
  'test',
  'trigger',
  'unpause',
];
const TASKS_COMMON = ['clear', 'failed-deps', 'list', 'render', 'state', 'states-for-dag-run', 'test'];

/** `group sub` (or a single word) → supported. */
function table(groups: Record<string, readonly string[]>, singles: readonly string[]): ReadonlySet<string> {
  const commands = new Set<string>(singles);
  for (const [group, subs] of Object.entries(groups)) for (const sub of subs) commands.add(`${group} ${sub}`);
  return commands;
}

export const MWAA_CLI_COMMANDS: Readonly<Record<AirflowLine, ReadonlySet<string>>> = {
  // 45 commands.
  '2': table(
    {
      connections: CONNECTIONS,
      dags: ['backfill', ...DAGS_COMMON],
      db: ['clean'],
      providers: PROVIDERS,
      roles: ROLES,
      tasks: [...TASKS_COMMON, 'run'],
      variables: VARIABLES,
    },
    ['cheat-sheet', 'version'],
  ),
  // 47 commands: no `dags backfill` and no `tasks run`; `assets` and `backfill create` instead.
  '3': table(
    {
      assets: ['details', 'list', 'materialize'],
      backfill: ['create'],
      connections: CONNECTIONS,
      dags: DAGS_COMMON,
      db: ['clean'],
      providers: PROVIDERS,
      roles: ROLES,
      tasks: TASKS_COMMON,
      variables: VARIABLES,
    },
    ['cheat-sheet', 'version'],
  ),
};

/** Options the same page names as unsupported on otherwise supported commands. */
const FORBIDDEN_OPTIONS: Record<string, readonly string[]> = {
  'dags show': ['--save', '-s'],
  'dags test': ['--save-dagrun', '--show-dagrun'],
};

export type CommandCheck = { ok: true; command: string } | { ok: false; reason: string };

/** Whether MWAA runs `argv` (without `airflow`) on this line; the reason names what it does not run. */
export function checkCliCommand(line: AirflowLine, argv: readonly string[]): CommandCheck {
  const [first, second] = argv;
  if (first === undefined || first === '') return { ok: false, reason: 'empty command' };
  const supported = MWAA_CLI_COMMANDS[line];
  const command = supported.has(first)
    ? first
    : second !== undefined && supported.has(`${first} ${second}`)
      ? `${first} ${second}`
      : undefined;
  if (command === undefined) {
    return { ok: false, reason: `\`${[first, second].filter(Boolean).join(' ')}\` is not a supported command on Airflow ${line}.x` };
  }
  const forbidden = FORBIDDEN_OPTIONS[command] ?? [];
  for (const arg of argv.slice(command.split(' ').length)) {
    const name = arg.split('=')[0]!;
    if (forbidden.includes(name)) return { ok: false, reason: `unsupported option for ${command}: ${name}` };
  }
  return { ok: true, command };
}

/**
 * The first Airflow version whose CLI has `dags list --columns` (so `-o json` can carry tags and
 * parse times) and `dags unpause -o`: MWAA's 2.7.2 and 2.8.1 have neither. Source: each version's
 * `airflow/cli/cli_config.py` (src/mwaa/airflow-cli-table.json, which the unit tests hold
 * this against for every MWAA version).
 */
export const DAG_COLUMNS_SINCE = '2.9.0';

export function cliHasDagColumns(version: string): boolean {
  return compareVersions(version, DAG_COLUMNS_SINCE) >= 0;
}
