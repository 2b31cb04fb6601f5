/**
 * Every CLI command the deployer and the runtime check can send is one MWAA runs on every Airflow
 * line they support. The CLI below answers only what MWAA's table lists for its line (anything else
 * is HTTP 500, as on MWAA), and every path that sends commands is driven on each line: the REST
 * path (the trigger only) and the CLI fallback a denied web login leads to (reads, unpause,
 * trigger, run polling, Variables).
 */
import { describe, expect, it } from 'vitest';
import { deploy, type DeployOptions } from '../../../src/deployer/deploy.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { checkCliCommand, MWAA_CLI_COMMANDS } from '../../../src/mwaa/cli-commands.js';
import { AIRFLOW_LINES, type AirflowLine } from '../../../src/mwaa/versions.js';
import { FakeClock, FakeMwaa, FakeS3 } from '../deployer/fakes.js';
import { SETTINGS, targets } from '../deployer/helpers.js';
import { FakeAirflow } from '../support/fake-airflow.js';

const MARKER = 'config-cccccccccccc';

async function deployAndCheck(line: AirflowLine, webLoginDenied: boolean, runEnds: 'success' | 'failed'): Promise<string[][]> {
  const fake = new FakeAirflow(line);
  fake.webLoginDenied = webLoginDenied;
  fake.dags.set('gpu_server_cicd_workflow', { is_paused: true, tags: [MARKER] });
  fake.variables.set('a', '1');
  fake.onTrigger = () => ({
    states: ['queued', 'running', runEnds],
    tis: [{ task_id: 'validate_inputs', state: runEnds, map_index: -1, try_number: 1, log: 'x' }],
  });
  const clock = new FakeClock();
  const airflow = airflowApi({ line, cli: fake.cli(), rest: fake.rest() });
  const options: DeployOptions = {
    trigger: true,
    waitForRun: true,
    dagMarker: MARKER,
    timeoutMs: 600_000,
    poll: { environmentMs: 1000, dagMs: 1000, runMs: 1000 },
    dagSettleMs: 0,
    lockTtlMs: 600_000,
  };
  const settings = {
    ...SETTINGS,
    envName: 'local',
    deploymentsPrefix: 'deployments',
    dagId: 'gpu_server_cicd_workflow',
    airflowLine: line,
  };
  const deps = {
    s3: new FakeS3(),
    mwaa: new FakeMwaa(clock),
    cli: fake.cli(),
    airflow,
    clock,
    emit: () => {},
    who: { user: 'u', host: 'h', pid: 1 },
  };
  const result = await deploy(settings, targets(), options, deps);
  expect(result.runState).toBe(runEnds);
  // The runtime check's Variables comparison reads through the same API.
  expect(await airflow.variables(['a', 'b'])).toEqual(
    new Map([
      ['a', '1'],
      ['b', undefined],
    ]),
  );
  return fake.commands;
}

describe.each(AIRFLOW_LINES)('Airflow %s', (line) => {
  it('over REST the only CLI command is the trigger', async () => {
    const commands = await deployAndCheck(line, false, 'success');
    expect(commands.map((c) => c.slice(0, 2).join(' '))).toEqual(['dags trigger']);
  });

  it("through the CLI fallback every command sent is in MWAA's table for the line", async () => {
    const sent = [...(await deployAndCheck(line, true, 'success')), ...(await deployAndCheck(line, true, 'failed'))];
    const names = new Set(
      sent.map((argv) => {
        const check = checkCliCommand(line, argv);
        expect(check, argv.join(' ')).toMatchObject({ ok: true });
        return check.ok ? check.command : '';
      }),
    );
    expect([...names].sort()).toEqual([
      'dags list',
      'dags list-import-errors',
      'dags list-runs',
      'dags trigger',
      'dags unpause',
      'tasks states-for-dag-run',
      'variables get',
    ]);
    for (const name of names) expect(MWAA_CLI_COMMANDS[line].has(name)).toBe(true);
  });
});
