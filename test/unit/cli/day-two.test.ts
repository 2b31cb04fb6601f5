/**
 * The day-two commands' command-line surface through the built CLI, without a stack: other tools'
 * command names answer with ours (exit code 2), and flags are checked before anything is read.
 */
import { describe, expect, it } from 'vitest';
import { FOREIGN_COMMANDS } from '../../../src/cli/command-table.js';
import { runCli } from '../../support/cli.js';

describe('commands of other tools', () => {
  it.each(Object.keys(FOREIGN_COMMANDS))('"%s" names the command that does it here, exit code 2', (name) => {
    const run = runCli([name, '--env', 'prod']);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    const { use, note } = FOREIGN_COMMANDS[name]!;
    expect(run.stderr).toContain(`There is no "${name}" command here. `);
    expect(run.stderr).toContain(use ? `What does it: mwaa-gpu-cicd ${use} (${note}).` : note.slice(1));
  });

  it('each answer names a command of the table, or says why none does', () => {
    const uses = Object.values(FOREIGN_COMMANDS).map((answer) => answer.use?.split(' ')[0] ?? answer.note.split(' ')[0]);
    expect(uses).toEqual(['deploy', 'deploy', 'parse', 'deploy', 'nothing']);
  });
});

describe('day-two flags', () => {
  it('rollback needs --to, logs refuses --full with --lines, --json with another --format', () => {
    const rollback = runCli(['rollback', '--env', 'local']);
    expect(rollback.status).toBe(2);
    expect(rollback.stderr).toContain('--to is required.');
    const logs = runCli(['logs', '--env', 'local', '--full', '--lines', '5']);
    expect(logs.status).toBe(2);
    expect(logs.stderr).toContain('--full and --lines cannot be used together');
    const history = runCli(['history', '--env', 'local', '--json', '--format', 'markdown']);
    expect(history.status).toBe(2);
    expect(history.stderr).toContain('--json is --format json; give one of them.');
    const status = runCli(['status', '--env', 'local', '--runs', 'many']);
    expect(status.status).toBe(2);
    expect(status.stderr).toContain('--runs expects a whole number from 0 to 100; got "many".');
  });
});
