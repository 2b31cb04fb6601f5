/**
 * Which Airflow CLI commands the `/aws_mwaa/cli` endpoint accepts. MWAA runs only a fixed list
 * (MWAA user guide, "Apache Airflow CLI command reference"); anything else answers HTTP 500. The
 * list below follows that page for Airflow 2.x: the commands marked supported there, minus the
 * options it names as unsupported (`dags show --save`, `dags test --save-dagrun/--show-dagrun`).
 * Server-side commands (scheduler, webserver, db, users, celery, tasks run, ...) stay unsupported.
 */

const SINGLE_COMMANDS = new Set(['version', 'cheat-sheet']);

const GROUP_COMMANDS: Record<string, ReadonlySet<string>> = {
  dags: new Set([
    'backfill',
    'delete',
    'details',
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
  ]),
  tasks: new Set(['clear', 'failed-deps', 'list', 'render', 'state', 'states-for-dag-run', 'test']),
  variables: new Set(['delete', 'export', 'get', 'import', 'list', 'set']),
  connections: new Set(['add', 'delete', 'export', 'get', 'import', 'list']),
  pools: new Set(['delete', 'export', 'get', 'import', 'list', 'set']),
  providers: new Set(['behaviours', 'get', 'hooks', 'links', 'list', 'widgets']),
  roles: new Set(['create', 'list']),
};

/** Options MWAA rejects on otherwise supported commands. */
const FORBIDDEN_OPTIONS: Record<string, readonly string[]> = {
  'dags show': ['--save', '-s'],
  'dags test': ['--save-dagrun', '--show-dagrun'],
};

export type CommandCheck = { ok: true; command: string } | { ok: false; reason: string };

export function checkCliCommand(argv: readonly string[]): CommandCheck {
  const [first, second] = argv;
  if (first === undefined) return { ok: false, reason: 'empty command' };
  if (SINGLE_COMMANDS.has(first)) return { ok: true, command: first };
  const group = GROUP_COMMANDS[first];
  if (!group) return { ok: false, reason: `unsupported command: ${first}` };
  if (second === undefined || !group.has(second)) {
    return { ok: false, reason: `unsupported command: ${first} ${second ?? ''}`.trimEnd() };
  }
  const command = `${first} ${second}`;
  const forbidden = FORBIDDEN_OPTIONS[command] ?? [];
  for (const arg of argv.slice(2)) {
    const name = arg.split('=')[0]!;
    if (forbidden.includes(name)) return { ok: false, reason: `unsupported option for ${command}: ${name}` };
  }
  return { ok: true, command };
}
