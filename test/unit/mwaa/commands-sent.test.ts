/**
 * Every CLI command the deployer and the runtime check can send, on every Airflow version MWAA
 * runs: it is a command MWAA lists for the line (anything else is HTTP 500 there), and it parses
 * with that version's own CLI definition, extracted from the published wheel
 * (src/mwaa/airflow-cli-table.json). Every path that sends commands is driven (sent-forms.ts):
 * the REST path (the trigger only) and the CLI fallback a denied web login leads to (reads,
 * unpause, trigger, run polling, Variables). Where a version's CLI cannot answer what the deploy
 * needs (2.7.2 and 2.8.1 list no DAG tags), the fallback refuses and says why instead of sending
 * what that version cannot parse.
 */
import { describe, expect, it } from 'vitest';
import { checkCliCommand, cliHasDagColumns, DAG_COLUMNS_SINCE, MWAA_CLI_COMMANDS } from '../../../src/mwaa/cli-commands.js';
import { AIRFLOW_VERSIONS, airflowLine } from '../../../src/mwaa/versions.js';
import { AIRFLOW_CLI_TABLE, parseCli } from '../../../src/mwaa/airflow-cli.js';
import { formsSent } from './sent-forms.js';

const table = AIRFLOW_CLI_TABLE;

describe.each(AIRFLOW_VERSIONS)('Airflow %s', (version) => {
  const line = airflowLine(version);
  const commands = table.versions[version]!.commands;

  it("every form sent parses with this version's own CLI and is in MWAA's table for the line", async () => {
    const sent = await formsSent(version);
    expect(sent.unparsed).toEqual([]);
    const names = new Set<string>();
    for (const argv of sent.argvs) {
      const parsed = parseCli(commands, argv);
      expect(parsed, argv.join(' ')).toMatchObject({ ok: true });
      const listed = checkCliCommand(line, argv);
      expect(listed, argv.join(' ')).toMatchObject({ ok: true });
      if (listed.ok) names.add(listed.command);
    }
    const reads = [
      'dags list-import-errors',
      'dags list-runs',
      'dags trigger',
      'dags unpause',
      'tasks states-for-dag-run',
      'variables get',
    ];
    expect([...names].sort()).toEqual((cliHasDagColumns(version) ? ['dags list', ...reads] : reads).sort());
    for (const name of names) expect(MWAA_CLI_COMMANDS[line].has(name)).toBe(true);
  });

  it('over REST the deploy runs to the end and the only CLI command is the trigger', async () => {
    const sent = await formsSent(version);
    expect(sent.deploys.find((d) => d.via === 'rest')).toEqual({ via: 'rest', runEnds: 'success', outcome: 'success' });
    expect(sent.argvs[0]!.slice(0, 2)).toEqual(['dags', 'trigger']);
    expect(sent.argvs[1]!.slice(0, 2)).not.toEqual(['dags', 'trigger']);
  });

  if (cliHasDagColumns(version)) {
    it('through the CLI fallback the deploy runs to the end, whichever way the run ends', async () => {
      const sent = await formsSent(version);
      expect(sent.deploys.filter((d) => d.via === 'cli').map((d) => d.outcome)).toEqual(['success', 'failed']);
      expect(sent.refusals).toEqual([]);
    });
  } else {
    it('the CLI fallback refuses the deploy, saying why and what to do; Variables and unpause still work', async () => {
      const sent = await formsSent(version);
      const outcomes = sent.deploys.filter((d) => d.via === 'cli').map((d) => d.outcome);
      expect(outcomes).toHaveLength(2);
      for (const outcome of outcomes) {
        expect(outcome).toContain(`Airflow ${version}'s CLI cannot show DAG gpu_server_cicd_workflow's tags`);
        expect(outcome).toContain(`they arrive in Airflow ${DAG_COLUMNS_SINCE}`);
        expect(outcome).toContain('grant airflow:CreateWebLoginToken');
      }
      // Only the DAG read is refused; the others (unpause included) send forms this version parses.
      expect(sent.refusals).toHaveLength(3);
      expect(sent.argvs).toContainEqual(['dags', 'unpause', 'gpu_server_cicd_workflow']);
    });
  }
});

describe('the version rule for `dags list --columns` and `dags unpause -o` is what the wheels define', () => {
  it.each(AIRFLOW_VERSIONS)('Airflow %s', (version) => {
    const commands = table.versions[version]!.commands;
    const flags = (command: string) => commands[command]!.options.flatMap((o) => o.flags);
    expect(flags('dags list').includes('--columns')).toBe(cliHasDagColumns(version));
    expect(flags('dags unpause').includes('-o')).toBe(cliHasDagColumns(version));
  });
});
