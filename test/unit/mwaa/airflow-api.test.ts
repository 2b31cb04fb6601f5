import { describe, expect, it } from 'vitest';
import { airflowApi, CliFallbackUnsupportedError, cliAirflowApi, structuredLogText } from '../../../src/mwaa/airflow-api.js';
import { newestOfLine } from '../../../src/mwaa/versions.js';
import { FakeAirflow } from '../support/fake-airflow.js';

describe('Variables', () => {
  it.each(['2', '3'] as const)('Airflow %s over REST: all of them in one request per 100, paged by offset', async (line) => {
    const fake = new FakeAirflow(line);
    for (let i = 0; i < 130; i += 1) fake.variables.set(`k${i}`, `v${i}`);
    const values = await airflowApi({ version: newestOfLine(line), cli: fake.cli(), rest: fake.rest() }).variables([
      'k0',
      'k129',
      'missing',
    ]);
    expect(values).toEqual(
      new Map([
        ['k0', 'v0'],
        ['k129', 'v129'],
        ['missing', undefined],
      ]),
    );
    expect(fake.requests).toEqual(['GET /variables', 'GET /variables']);
    expect(fake.commands).toEqual([]);
  });

  it('through the CLI: one `variables get` per key, the newline print adds stripped, other whitespace kept', async () => {
    const fake = new FakeAirflow('3');
    fake.variables.set('a', ' x \n');
    fake.variables.set('b', '');
    const values = await cliAirflowApi(fake.cli(), '3.3.1').variables(['a', 'b', 'c']);
    expect(values).toEqual(
      new Map([
        ['a', ' x \n'],
        ['b', ''],
        ['c', undefined],
      ]),
    );
    expect(fake.commands).toEqual([
      ['variables', 'get', 'a'],
      ['variables', 'get', 'b'],
      ['variables', 'get', 'c'],
    ]);
  });

  it('through the CLI, a failure (no exit code to go by) is recognised from its output', async () => {
    const cli = { run: async () => ({ stdout: '', stderr: 'Traceback...\nsqlite3.OperationalError: database is locked\n' }) };
    await expect(cliAirflowApi(cli, '2.11.2').variables(['a'])).rejects.toThrow(
      /`variables get a` failed: sqlite3.OperationalError: database is locked/,
    );
  });
});

describe('falling back to the CLI', () => {
  it('switches on the first denied web login, says so once, and stays on the CLI', async () => {
    const fake = new FakeAirflow('2');
    fake.webLoginDenied = true;
    fake.dags.set('d', { is_paused: false, tags: ['x'] });
    const notices: string[] = [];
    const api = airflowApi({ version: '2.11.2', cli: fake.cli(), rest: fake.rest(), onFallback: (m) => notices.push(m) });
    expect(api.via()).toBe('rest');
    expect(await api.dag('d')).toEqual({ dagId: 'd', isPaused: false, tags: ['x'] });
    expect(await api.importErrors()).toEqual([]);
    expect(api.via()).toBe('cli');
    expect(notices).toHaveLength(1);
    expect(fake.commands.map((c) => c.join(' '))).toEqual([
      'dags list -o json --columns dag_id,is_paused,tags,last_parsed_time,fileloc',
      'dags list-import-errors -o json',
    ]);
  });

  it('other REST failures are errors, not a reason to fall back', async () => {
    const fake = new FakeAirflow('3');
    const api = airflowApi({
      version: '3.3.1',
      cli: fake.cli(),
      rest: { ...fake.rest(), request: async () => ({ status: 500, text: '{"detail": "boom"}', json: { detail: 'boom' } }) },
    });
    await expect(api.importErrors()).rejects.toThrow(/HTTP 500 to GET \/importErrors: boom/);
    expect(api.via()).toBe('rest');
  });
});

describe('the CLI fallback before Airflow 2.9 (no `dags list --columns`, no `dags unpause -o`)', () => {
  it.each(['2.7.2', '2.8.1'] as const)(
    'Airflow %s: the DAG read refuses without sending, naming the version and the fix',
    async (version) => {
      const sent: string[][] = [];
      const cli = {
        run: async (argv: readonly string[]) => {
          sent.push([...argv]);
          return { stdout: '', stderr: '' };
        },
      };
      const error = await cliAirflowApi(cli, version)
        .dag('d')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CliFallbackUnsupportedError);
      expect((error as Error).message).toMatch(new RegExp(`^Airflow ${version.replaceAll('.', '\\.')}'s CLI cannot show DAG d's tags`));
      expect((error as Error).message).toMatch(/arrive in Airflow 2\.9\.0.*grant airflow:CreateWebLoginToken/);
      expect(sent).toEqual([]);
    },
  );

  it("unpauses with `dags unpause <dag>` and reads the line it prints; Airflow's refusal is the error", async () => {
    const outputs: Record<string, { stdout: string; stderr: string }> = {
      d: { stdout: '[2026-11-26T09:00:00] INFO - Filling up the DagBag\nDag: d, paused: False\n', stderr: '' },
      gone: { stdout: '', stderr: "DAG: gone does not exist in 'dag' table\n" },
    };
    const sent: string[][] = [];
    const cli = {
      run: async (argv: readonly string[]) => {
        sent.push([...argv]);
        return outputs[argv[2]!]!;
      },
    };
    const api = cliAirflowApi(cli, '2.8.1');
    await api.unpause('d');
    await expect(api.unpause('gone')).rejects.toThrow(/Could not unpause gone: DAG: gone does not exist in 'dag' table/);
    expect(sent).toEqual([
      ['dags', 'unpause', 'd'],
      ['dags', 'unpause', 'gone'],
    ]);
  });
});

describe('structuredLogText (Airflow 3 task logs)', () => {
  it('drops the source-details group, prefixes time and level, and renders the exception', () => {
    const text = structuredLogText([
      { event: '::group::Log message source details', sources: ['/a.log'] },
      { event: 'inside the group' },
      { event: '::endgroup::' },
      { event: '::group::Pre Execute', level: 'info' },
      { event: 'Task started', level: 'info', timestamp: '2026-11-26T09:00:00Z' },
      { event: '::endgroup::', level: 'info' },
      {
        event: 'Task failed with exception',
        level: 'error',
        timestamp: '2026-11-26T09:00:01Z',
        error_detail: [
          {
            exc_type: 'AirflowFailException',
            exc_value: 'workspace_path: bad',
            frames: [{ filename: 'dag.py', lineno: 380, name: 'validate_inputs' }],
          },
        ],
      },
      'a plain line',
    ]);
    expect(text.split('\n')).toEqual([
      '[2026-11-26T09:00:00Z] INFO - Task started',
      '[2026-11-26T09:00:01Z] ERROR - Task failed with exception',
      '  File "dag.py", line 380, in validate_inputs',
      'AirflowFailException: workspace_path: bad',
      'a plain line',
    ]);
  });
});
