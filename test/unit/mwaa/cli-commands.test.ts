import { describe, expect, it } from 'vitest';
import { checkCliCommand } from '../../../src/mwaa/cli-commands.js';

describe('checkCliCommand', () => {
  it.each([
    ['version', 'version'],
    ['cheat-sheet', 'cheat-sheet'],
    ['dags list -o json', 'dags list'],
    ['dags trigger my_dag -c {}', 'dags trigger'],
    ['dags list-runs -d my_dag -o json', 'dags list-runs'],
    ['dags list-import-errors -o json', 'dags list-import-errors'],
    ['dags state my_dag 2024-01-01', 'dags state'],
    ['dags pause my_dag', 'dags pause'],
    ['tasks states-for-dag-run my_dag run_1 -o json', 'tasks states-for-dag-run'],
    ['variables get a', 'variables get'],
    ['variables set a 1', 'variables set'],
    ['connections list', 'connections list'],
    ['pools list', 'pools list'],
  ])('accepts %s', (input, command) => {
    expect(checkCliCommand(input.split(' '))).toEqual({ ok: true, command });
  });

  it.each([
    [''],
    ['scheduler'],
    ['webserver'],
    ['db reset -y'],
    ['users create'],
    ['tasks run my_dag t1 2024-01-01'],
    ['dags'],
    ['dags bogus'],
    ['celery worker'],
    ['dags show my_dag --save out.png'],
    ['dags test my_dag --save-dagrun x'],
  ])('rejects %j', (command) => {
    const result = checkCliCommand(command === '' ? [] : command.split(' '));
    expect(result.ok).toBe(false);
  });
});
