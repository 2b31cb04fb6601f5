import { describe, expect, it } from 'vitest';
import { checkCliCommand, MWAA_CLI_COMMANDS } from '../../../src/mwaa/cli-commands.js';

describe("MWAA's CLI command table", () => {
  it('has the 45 commands AWS lists for Airflow 2 and the 47 for Airflow 3', () => {
    expect(MWAA_CLI_COMMANDS['2'].size).toBe(45);
    expect(MWAA_CLI_COMMANDS['3'].size).toBe(47);
  });

  it.each([
    ['2', 'version', 'version'],
    ['3', 'cheat-sheet', 'cheat-sheet'],
    ['2', 'dags list -o json', 'dags list'],
    ['3', 'dags trigger my_dag -c {} --logical-date 2026-01-01T00:00:00Z', 'dags trigger'],
    ['2', 'dags list-runs -d my_dag -o json', 'dags list-runs'],
    ['3', 'dags list-import-errors -o json', 'dags list-import-errors'],
    ['2', 'dags backfill my_dag -s 2024-01-01', 'dags backfill'],
    ['2', 'tasks run my_dag t1 2024-01-01', 'tasks run'],
    ['3', 'backfill create --dag-id d', 'backfill create'],
    ['3', 'assets list', 'assets list'],
    ['2', 'tasks states-for-dag-run my_dag run_1 -o json', 'tasks states-for-dag-run'],
    ['3', 'variables get a', 'variables get'],
    ['2', 'providers notifications', 'providers notifications'],
    ['3', 'roles add-perms r', 'roles add-perms'],
    ['2', 'db clean --clean-before-timestamp 2024-01-01', 'db clean'],
  ] as const)('Airflow %s accepts %s', (line, input, command) => {
    expect(checkCliCommand(line, input.split(' '))).toEqual({ ok: true, command });
  });

  it.each([
    ['2', ''],
    ['2', 'scheduler'],
    ['3', 'webserver'],
    ['2', 'db reset -y'],
    ['3', 'users create'],
    ['3', 'tasks run my_dag t1 2024-01-01'],
    ['3', 'dags backfill my_dag'],
    ['2', 'assets list'],
    ['2', 'backfill create'],
    ['2', 'dags'],
    ['3', 'dags bogus'],
    ['2', 'dags details my_dag'],
    ['3', 'dags details my_dag'],
    ['2', 'pools list'],
    ['3', 'pools set p 1 d'],
    ['2', 'connections list'],
    ['3', 'connections get c'],
    ['2', 'connections import f'],
    ['3', 'connections export f'],
    ['2', 'variables import f'],
    ['3', 'variables export f'],
    ['2', 'config list'],
    ['2', 'celery worker'],
    ['2', 'dags show my_dag --save out.png'],
    ['3', 'dags test my_dag --save-dagrun x'],
  ] as const)('Airflow %s rejects %j', (line, command) => {
    const result = checkCliCommand(line, command === '' ? [] : command.split(' '));
    expect(result.ok).toBe(false);
  });
});
