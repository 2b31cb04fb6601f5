import { describe, expect, it } from 'vitest';
import { MWAA_CLI_COMMANDS } from '../../../src/mwaa/cli-commands.js';
import { AIRFLOW_VERSIONS, airflowLine, compareVersions } from '../../../src/mwaa/versions.js';
import { AIRFLOW_CLI_TABLE, parseCli } from '../../../src/mwaa/airflow-cli.js';

const table = AIRFLOW_CLI_TABLE;

describe("the table of each MWAA version's CLI", () => {
  it('holds every MWAA version, each from its published wheels with their sha256, and names the script that wrote it', () => {
    expect(Object.keys(table.versions)).toEqual(AIRFLOW_VERSIONS);
    expect(table.generatedBy).toMatch(/^scripts\/airflow-cli-table\.py /);
    for (const [version, entry] of Object.entries(table.versions)) {
      const core = entry.sources[0]!;
      expect(core.package).toBe(airflowLine(version) === '3' ? 'apache-airflow-core' : 'apache-airflow');
      expect(core.version).toBe(version);
      expect(core.files[0]).toBe('airflow/cli/cli_config.py');
      for (const source of entry.sources) {
        expect(source.wheel).toBe(`${source.package.replaceAll('-', '_')}-${source.version}-py3-none-any.whl`);
        expect(source.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
      // Every group MWAA lists is there (2.x has `dags backfill` where 3.x has `assets` and `backfill`).
      const groups = new Set(Object.keys(entry.commands).map((c) => c.split(' ')[0]));
      const expected = table.groups.filter((g) => airflowLine(version) === '3' || (g !== 'assets' && g !== 'backfill'));
      expect([...groups].sort()).toEqual(expected.sort());
    }
  });

  it("has every command MWAA lists for a line in each version of it, but two the AWS page names that Airflow's CLI lacks", () => {
    const lacking: string[] = [];
    for (const version of AIRFLOW_VERSIONS) {
      for (const command of MWAA_CLI_COMMANDS[airflowLine(version)]) {
        if (!table.versions[version]!.commands[command]) lacking.push(`${version} ${command}`);
      }
    }
    // `providers triggerer` is in no version: Airflow's command is `providers triggers`.
    // `providers notifications` arrived in 2.8.
    const triggerer = AIRFLOW_VERSIONS.map((v) => `${v} providers triggerer`);
    expect(lacking.sort()).toEqual([...triggerer, '2.7.2 providers notifications'].sort());
    for (const version of AIRFLOW_VERSIONS) expect(table.versions[version]!.commands['providers triggers']).toBeDefined();
  });
});

describe('parseCli decides as argparse does', () => {
  const commands = (version: string) => table.versions[version]!.commands;

  it.each([
    ['2.9.2', 'dags list -o json --columns dag_id,tags', 'dags list'],
    ['2.9.2', 'dags list --output=json', 'dags list'],
    ['2.9.2', 'dags list -ojson', 'dags list'],
    ['2.9.2', 'dags list --col dag_id', 'dags list'],
    ['2.7.2', 'dags list -o json', 'dags list'],
    ['2.7.2', 'dags trigger d -c {} -e 2024-01-01 -o json', 'dags trigger'],
    ['3.3.1', 'dags trigger d -c {} --logical-date 2026-01-01T00:00:00Z -o json', 'dags trigger'],
    ['2.11.2', 'dags list-runs -d d -o json', 'dags list-runs'],
    ['3.0.6', 'dags list-runs d -o json', 'dags list-runs'],
    ['3.0.6', 'dags list-runs -o json d', 'dags list-runs'],
    ['2.10.3', 'tasks states-for-dag-run d r -o json', 'tasks states-for-dag-run'],
    ['2.10.3', 'tasks states-for-dag-run d -o json r', 'tasks states-for-dag-run'],
    ['3.3.1', 'variables get k', 'variables get'],
    ['2.8.1', 'roles add-perms r -r Dags -a can_read', 'roles add-perms'],
    ['2.11.0', 'version', 'version'],
    ['3.2.1', 'cheat-sheet -v', 'cheat-sheet'],
    ['2.9.2', 'dags unpause d -yo json', 'dags unpause'],
  ] as const)('Airflow %s parses `%s`', (version, argv, command) => {
    expect(parseCli(commands(version), argv.split(' '))).toMatchObject({ ok: true, command });
  });

  it.each([
    ['2.7.2', 'dags list -o json --columns dag_id', /unrecognized arguments: --columns dag_id/],
    ['2.8.1', 'dags unpause d -o json', /unrecognized arguments: -o json/],
    ['2.9.2', 'dags list -o xml', /argument -o\/--output: invalid choice: 'xml'/],
    ['2.9.2', 'dags list -o', /argument -o\/--output: expected one argument/],
    ['2.11.2', 'dags list-runs d -o json', /required: -d\/--dag-id/],
    ['3.3.1', 'dags list-runs -d d -o json', /unrecognized arguments: -d/],
    ['2.11.2', 'dags trigger d --logical-date 2026-01-01', /unrecognized arguments: --logical-date/],
    ['3.0.6', 'dags trigger d -e 2026-01-01', /unrecognized arguments: -e/],
    ['3.3.1', 'dags trigger', /required: dag_id/],
    ['3.3.1', 'tasks states-for-dag-run d', /required: logical_date_or_run_id/],
    ['3.3.1', 'dags', /required: COMMAND/],
    ['3.3.1', 'dags bogus', /invalid choice: 'bogus'/],
    ['2.11.2', 'assets list', /invalid choice: 'assets'/],
    ['2.9.2', 'dags list --verbose=yes', /ignored explicit argument 'yes'/],
    ['2.9.2', 'tasks clear d --only', /ambiguous option: --only could match --only-failed, --only-running/],
  ] as const)('Airflow %s refuses `%s`', (version, argv, reason) => {
    const parsed = parseCli(commands(version), argv.split(' '));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('`dags list --columns` arrives in 2.9 and `dags list-runs` takes the DAG id as a positional from 3.0 on', () => {
    const since = (argv: string) => AIRFLOW_VERSIONS.filter((v) => parseCli(commands(v), argv.split(' ')).ok).sort(compareVersions)[0];
    expect(since('dags list --columns dag_id')).toBe('2.9.2');
    expect(since('dags unpause d -o json')).toBe('2.9.2');
    expect(since('dags list-runs d')).toBe('3.0.6');
  });
});
