/**
 * Every Airflow CLI command the toolkit sends to one Airflow version, recorded by driving the code
 * that sends them: the deploy (REST, and the CLI fallback a denied web login leads to, with a run
 * that succeeds and one that fails), the runtime check's Variables comparison, and each CLI-fallback
 * read once more on its own. The CLI answering them is MWAA's (FakeAirflow: only the commands MWAA
 * lists for the line) with the version's own argparse in front (the table of
 * src/mwaa/airflow-cli-table.json): what that version would refuse is answered with its
 * usage error, as MWAA's endpoint answers it.
 */
import { deploy, type DeployOptions } from '../../../src/deployer/deploy.js';
import { airflowApi, cliAirflowApi, CliFallbackUnsupportedError } from '../../../src/mwaa/airflow-api.js';
import type { CliResult } from '../../../src/mwaa/cli-client.js';
import { airflowLine, type AirflowVersion } from '../../../src/mwaa/versions.js';
import { FakeClock, FakeMwaa, FakeS3 } from '../deployer/fakes.js';
import { SETTINGS, targets } from '../deployer/helpers.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { AIRFLOW_CLI_TABLE, parseCli } from '../../../src/mwaa/airflow-cli.js';

const MARKER = 'config-cccccccccccc';
const DAG_ID = 'gpu_server_cicd_workflow';

export interface SentForms {
  /** Every argv sent, in order, from every drive. */
  argvs: string[][];
  /** The argvs the version's CLI refused to parse (its usage error), with the reason. */
  unparsed: { argv: string[]; reason: string }[];
  /** What the toolkit refused to do through the CLI on this version, and why. */
  refusals: string[];
  /** How each deploy ended: the run's state, or the error's message. */
  deploys: { via: 'rest' | 'cli'; runEnds: 'success' | 'failed'; outcome: string }[];
}

/** The version's CLI in front of MWAA's: its argparse, and its output where it differs from the fake's. */
function versionCli(fake: FakeAirflow, version: AirflowVersion, sent: SentForms): { run(argv: readonly string[]): Promise<CliResult> } {
  const commands = AIRFLOW_CLI_TABLE.versions[version]?.commands;
  if (!commands) throw new Error(`no CLI table for Airflow ${version}: rerun scripts/airflow-cli-table.py`);
  const mwaa = fake.cli();
  return {
    async run(argv) {
      sent.argvs.push([...argv]);
      const parsed = parseCli(commands, argv);
      if (!parsed.ok) {
        sent.unparsed.push({ argv: [...argv], reason: parsed.reason });
        return { stdout: '', stderr: `\nairflow command error: ${parsed.reason}, see help above.\n` };
      }
      // Before 2.9 `dags unpause` has no -o and prints one line (dag_command.set_is_paused).
      if (parsed.command === 'dags unpause' && !parsed.values.has('-o') && !parsed.values.has('--output')) {
        const dag = fake.dags.get(argv[2]!);
        if (!dag) return { stdout: '', stderr: `DAG: ${argv[2]} does not exist in 'dag' table\n` };
        dag.is_paused = false;
        return { stdout: `Dag: ${argv[2]}, paused: False\n`, stderr: '' };
      }
      return mwaa.run(argv);
    },
  };
}

function world(version: AirflowVersion, sent: SentForms, runEnds: 'success' | 'failed') {
  const fake = new FakeAirflow(airflowLine(version));
  fake.dags.set(DAG_ID, { is_paused: true, tags: [MARKER], last_parsed_time: '2026-11-26T09:00:00+00:00' });
  fake.variables.set('a', '1');
  fake.onTrigger = () => ({
    states: ['queued', 'running', runEnds],
    tis: [{ task_id: 'validate_inputs', state: runEnds, map_index: -1, try_number: 1, log: 'x' }],
  });
  return { fake, cli: versionCli(fake, version, sent) };
}

function refused(error: unknown, sent: SentForms): string {
  if (!(error instanceof CliFallbackUnsupportedError)) throw error;
  sent.refusals.push(error.message);
  return error.message;
}

async function deployAndCheck(version: AirflowVersion, webLoginDenied: boolean, runEnds: 'success' | 'failed', sent: SentForms) {
  const { fake, cli } = world(version, sent, runEnds);
  fake.webLoginDenied = webLoginDenied;
  const clock = new FakeClock();
  const airflow = airflowApi({ version, cli, rest: fake.rest() });
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
    dagId: DAG_ID,
    airflowVersion: version,
    airflowLine: airflowLine(version),
  };
  const mwaa = new FakeMwaa(clock, { airflowVersion: version });
  const deps = { s3: new FakeS3(), mwaa, cli, airflow, clock, emit: () => {}, who: { user: 'u', host: 'h', pid: 1 } };
  let outcome: string;
  try {
    outcome = (await deploy(settings, targets(), options, deps)).runState ?? 'no run';
  } catch (error) {
    outcome = refused(error, sent);
  }
  sent.deploys.push({ via: webLoginDenied ? 'cli' : 'rest', runEnds, outcome });
  // The runtime check's Variables comparison reads through the same API.
  const values = await airflow.variables(['a', 'b']);
  if (values.get('a') !== '1' || values.get('b') !== undefined) throw new Error(`Variables read wrong: ${JSON.stringify([...values])}`);
}

/** Each CLI-fallback read on its own, so a form the deploy does not reach on this version is sent too. */
async function everyCliRead(version: AirflowVersion, sent: SentForms): Promise<void> {
  const { fake, cli } = world(version, sent, 'success');
  const api = cliAirflowApi(cli, version);
  const runId = fake.trigger(DAG_ID, {}).run!.run_id;
  const reads: (() => Promise<unknown>)[] = [
    () => api.dag(DAG_ID),
    () => api.importErrors(),
    () => api.unpause(DAG_ID),
    () => api.dagRun(DAG_ID, runId),
    () => api.taskInstances(DAG_ID, runId),
    () => api.taskLog(DAG_ID, runId, { taskId: 'validate_inputs', mapIndex: -1, state: 'success', tryNumber: 1 }),
    () => api.variables(['a', 'b']),
  ];
  for (const read of reads) {
    try {
      await read();
    } catch (error) {
      refused(error, sent);
    }
  }
  if (fake.dags.get(DAG_ID)?.is_paused !== false) throw new Error(`dags unpause left ${DAG_ID} paused on Airflow ${version}`);
}

export async function formsSent(version: AirflowVersion): Promise<SentForms> {
  const sent: SentForms = { argvs: [], unparsed: [], refusals: [], deploys: [] };
  await deployAndCheck(version, false, 'success', sent);
  await deployAndCheck(version, true, 'success', sent);
  await deployAndCheck(version, true, 'failed', sent);
  await everyCliRead(version, sent);
  return sent;
}
