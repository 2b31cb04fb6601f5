/**
 * Bench: the DAG over a fleet. One generated config with 16 servers (fleet-01..fleet-16 on
 * 127.0.0.1..127.0.0.16: all of 127/8 is loopback on Linux, so one extra OpenSSH sshd of this
 * bench, with the stack's host key and authorized key, stands in for 16 machines). Each server has
 * its own workspace (servers[].workspacePath), so the parallel clones never share a directory.
 * The DAG is deployed once; each run is triggered by `deploy --yes --wait` with the run conf
 * gpu_server_ip=fleet-01 (1 server) or all (16 servers), interleaved, every workspace emptied
 * before each run so that every run clones. Times come from Airflow's own timestamps (REST API).
 * A run that does not succeed in full fails the bench.
 *
 * Needs a running line-3 stack (LocalExecutor): npm run local -- up --airflow 3
 * (`npm run bench -- fleet` brings it up). Afterwards the stack's own DAG is deployed again and
 * the bench's DAG and Variables are deleted from Airflow; its sshd and temp files are removed.
 *
 *   npx tsx bench/fleet.ts [--repeat 2] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { localStackOverlay } from '../local-stack/src/config-overlay.js';
import { renderSshdConfig, sshBannerSeen, sshFiles, SSHD_BINARY, testSshdConfig } from '../local-stack/src/sshd.js';
import { dagSchema } from '../src/config/schema.js';
import { createAirflowRest, type AirflowRest } from '../src/mwaa/rest-client.js';
import { freePort } from '../local-stack/src/net.js';
import { waitFor } from '../local-stack/src/processes.js';
import { stackFetch, stackMwaa } from '../test/support/stack.js';
import { requireLocalStack, runDeploy } from '../test/integration/deploy-helpers.js';
import { measureRun, type DagRunRow, type RunMeasure, type TaskInstanceRow } from './lib/fleet-run.js';
import { median, printTable } from './support.js';

const repeat = Number(process.argv[process.argv.indexOf('--repeat') + 1]) || 2;
const asJson = process.argv.includes('--json');
const FLEET = 16;
const SIZES = [1, FLEET] as const;
const DAG_ID = 'fleet_bench';
const ENV = 'fleet';
const VARIABLES = ['a', 'b', 'c', 'd'];

const LINE_3 = 'npm run local -- up --airflow 3';
let stack: ReturnType<typeof requireLocalStack>;
try {
  stack = requireLocalStack();
} catch (error) {
  throw new Error(`${(error as Error).message}\nbench/fleet.ts needs a line-3 stack: ${LINE_3} (or run it as npm run bench -- fleet).`);
}
if (stack.airflowLine !== '3') {
  throw new Error(
    `bench/fleet.ts measures Airflow 3's LocalExecutor; the stack at ${stack.root} runs Airflow ${stack.airflowVersion}. ` +
      `Run: npm run local -- down, then: ${LINE_3}`,
  );
}

const serverName = (index: number) => `fleet-${String(index + 1).padStart(2, '0')}`;
const addresses = Array.from({ length: FLEET }, (_, index) => `127.0.0.${index + 1}`);
const tmp = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
const workspaces = join(tmp, 'workspaces');

// ---- cleanup: whatever happens, no sshd, no temp files, the stack's own DAG back ---------------

let sshd: ReturnType<typeof spawn> | undefined;
let deployed = false;
let cleaning: Promise<void> | undefined;

async function stopSshd(): Promise<void> {
  const child = sshd;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The stack's DAG file again, then the bench's DAG (once Airflow sees its file gone) and Variables out of Airflow. */
async function restoreStack(rest: AirflowRest): Promise<string[]> {
  const problems: string[] = [];
  const restore = await runDeploy(['--env', 'local', '--yes', '--no-trigger', '--json']);
  if (restore.code !== 0) problems.push(`redeploying the stack's own DAG exited ${restore.code}: ${restore.stderr.slice(-800)}`);
  try {
    await waitFor(
      `Airflow marking ${DAG_ID} stale`,
      async () => {
        const dag = await rest.request('GET', `/dags/${DAG_ID}`);
        return dag.status === 404 || (dag.json as { is_stale?: boolean } | undefined)?.is_stale === true;
      },
      120_000,
      { intervalMs: 2_000 },
    );
    const deleted = await rest.request('DELETE', `/dags/${DAG_ID}`);
    if (deleted.status !== 204 && deleted.status !== 200 && deleted.status !== 404) {
      problems.push(`DELETE /dags/${DAG_ID} answered ${deleted.status}: ${deleted.text.slice(0, 300)}`);
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (let index = 0; index < FLEET; index += 1) {
    for (const variable of VARIABLES) {
      const key = `${serverName(index)}__${variable}`;
      const deleted = await rest.request('DELETE', `/variables/${key}`);
      if (deleted.status !== 204 && deleted.status !== 200 && deleted.status !== 404) {
        problems.push(`DELETE /variables/${key} answered ${deleted.status}: ${deleted.text.slice(0, 300)}`);
      }
    }
  }
  return problems;
}

function cleanup(rest: AirflowRest): Promise<void> {
  cleaning ??= (async () => {
    await stopSshd();
    rmSync(tmp, { recursive: true, force: true });
    if (deployed) {
      const problems = await restoreStack(rest);
      if (problems.length > 0) throw new Error(`Cleanup of the stack failed:\n  ${problems.join('\n  ')}`);
    }
  })();
  return cleaning;
}

// ---- the fleet's sshd and config ----------------------------------------------------------------

async function startSshd(port: number): Promise<void> {
  // The stack's host key (pinned in the config) and authorized key (its client key is the secret the DAG reads).
  const stackFiles = sshFiles(dirname(stack.ssh.sshdConfig));
  const files = { ...stackFiles, dir: tmp, config: join(tmp, 'sshd_config'), log: join(tmp, 'sshd.log'), pidFile: join(tmp, 'sshd.pid') };
  writeFileSync(files.config, renderSshdConfig(files, port, stack.ssh.user, addresses), { mode: 0o644 });
  await testSshdConfig(files);
  const child = spawn(SSHD_BINARY, ['-D', '-f', files.config, '-E', files.log], { stdio: 'ignore' });
  sshd = child;
  for (const host of addresses) {
    await waitFor(`sshd on ${host}:${port}`, () => sshBannerSeen(port, 2_000, host), 15_000, {
      alive: () => child.exitCode === null,
      hint: `See ${files.log}`,
    });
  }
}

function writeFleetConfig(port: number): string {
  const overlay = localStackOverlay(stack);
  const environment = {
    ...overlay,
    dag: { id: DAG_ID, description: `Fleet bench: the DAG over 1 and ${FLEET} servers.`, retries: 0 },
    servers: addresses.map((host, index) => ({
      name: serverName(index),
      host,
      port,
      user: stack.ssh.user,
      workspacePath: join(workspaces, serverName(index)),
      hostPublicKey: stack.ssh.hostPublicKey,
    })),
  };
  const file = join(tmp, 'config.yaml');
  writeFileSync(file, stringify({ defaults: {}, environments: { [ENV]: environment } }));
  return file;
}

// ---- one run ------------------------------------------------------------------------------------

/** Not `localStack: true` (the stack's overlay would replace the servers): the stack's dummy credentials by hand. */
const deployEnv = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

async function rows<T>(rest: AirflowRest, path: string, key: string): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await rest.request('GET', path, { query: { limit: 100, offset } });
    if (page.status !== 200) throw new Error(`GET ${path} answered ${page.status}: ${page.text.slice(0, 300)}`);
    const items = (page.json as Record<string, T[]>)[key] ?? [];
    out.push(...items);
    if (items.length < 100) return out;
  }
}

const settings = executorSettings();

async function oneRun(rest: AirflowRest, config: string, servers: number): Promise<RunMeasure> {
  // Every run clones afresh into empty workspaces: the same work per server whatever ran before.
  rmSync(workspaces, { recursive: true, force: true });
  mkdirSync(workspaces, { recursive: true });
  const target = servers === 1 ? serverName(0) : 'all';
  const deploy = await runDeploy(
    ['--env', ENV, '--config', config, '--yes', '--wait', '--no-smoke', '--json', '--timeout', '20m', '--conf', `gpu_server_ip=${target}`],
    deployEnv,
  );
  deployed = true;
  let result: { runId?: string; runState?: string };
  try {
    result = JSON.parse(deploy.stdout) as typeof result;
  } catch {
    throw new Error(`deploy (${servers} server(s)) exited ${deploy.code} without JSON:\n${deploy.stderr.slice(-2000)}`);
  }
  if (!result.runId) throw new Error(`deploy (${servers} server(s)) exited ${deploy.code} without a run:\n${deploy.stdout.slice(-2000)}`);
  const runPath = `/dags/${DAG_ID}/dagRuns/${encodeURIComponent(result.runId)}`;
  const run = await rest.request('GET', runPath);
  if (run.status !== 200) throw new Error(`GET ${runPath} answered ${run.status}: ${run.text.slice(0, 300)}`);
  const tis = await rows<TaskInstanceRow>(rest, `${runPath}/taskInstances`, 'task_instances');
  // measureRun throws on any run or task instance that did not succeed: a failure is never timed.
  const measure = measureRun(run.json as DagRunRow, tis, servers, settings.parallelism);
  if (deploy.code !== 0)
    throw new Error(`deploy exited ${deploy.code} although run ${result.runId} succeeded:\n${deploy.stderr.slice(-2000)}`);
  process.stderr.write(
    `  run ${servers} server(s): ${(measure.wallMs / 1000).toFixed(1)} s, ${measure.mappedTasks} mapped task instances (${result.runId})\n`,
  );
  return measure;
}

/** The executor limits that apply to the run, from the stack's airflow.cfg (Airflow's defaults otherwise). */
function executorSettings(): { parallelism: number; shown: Record<string, string> } {
  const cfg = readFileSync(join(stack.airflowHome, 'airflow.cfg'), 'utf8');
  const setting = (key: string) => cfg.match(new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm'))?.[1];
  const shown = (key: string, airflowDefault: string) => setting(key) ?? `${airflowDefault} (Airflow default)`;
  return {
    parallelism: Number(setting('parallelism') ?? 32),
    shown: {
      executor: shown('executor', 'LocalExecutor'),
      '[core] parallelism': shown('parallelism', '32'),
      '[core] max_active_tasks_per_dag': shown('max_active_tasks_per_dag', '16'),
      'dag.serverConcurrency (max_active_tis_per_dagrun)': `${dagSchema.parse({}).serverConcurrency} (config default)`,
    },
  };
}

// ---- main ---------------------------------------------------------------------------------------

// The stack's web server answers over HTTPS, with its own CA, as MWAA's does.
const rest = createAirflowRest(stackMwaa(stack), stack.environmentName, 'https', '3', { fetch: stackFetch(stack) });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup(rest).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

let samples: Record<number, RunMeasure[]>;
try {
  const port = await freePort();
  await startSshd(port);
  const config = writeFleetConfig(port);
  samples = Object.fromEntries(SIZES.map((n) => [n, [] as RunMeasure[]]));
  for (let round = 0; round < repeat; round += 1) {
    for (const servers of SIZES) samples[servers]!.push(await oneRun(rest, config, servers));
  }
} finally {
  await cleanup(rest);
}

const summary = SIZES.map((servers) => {
  const list = samples[servers]!;
  return {
    servers,
    runs: list.length,
    wallMs: median(list.map((m) => m.wallMs)),
    mappedTasks: list[0]!.mappedTasks,
    criticalPathMs: median(list.map((m) => m.criticalPathMs)),
    overheadPerMappedMs: median(list.map((m) => m.overheadPerMappedMs)),
    slotBoundMs: median(list.map((m) => m.slotBoundMs)),
    overheadBeyondSlotsMs: median(list.map((m) => m.overheadBeyondSlotsMs)),
    readyToStartMs: median(list.map((m) => m.readyToStartMs)),
    queuedToStartMs: median(list.map((m) => m.queuedToStartMs)),
    mappedExecutionMs: median(list.map((m) => m.mappedExecutionMs)),
  };
});
const single = summary[0]!.wallMs;
if (asJson) {
  process.stdout.write(`${JSON.stringify({ airflow: stack.airflowVersion, settings: settings.shown, summary, samples }, null, 2)}\n`);
} else {
  printTable(
    `The DAG over 1 and ${FLEET} servers, Airflow ${stack.airflowVersion} (medians of ${repeat} interleaved runs each)`,
    [
      'servers',
      'runs',
      'median wall s',
      'ratio to 1-server',
      'mapped task instances',
      'overhead per mapped task ms',
      'slot bound s',
      'overhead beyond slots per mapped task ms',
      'ready to start ms',
      'queued to start ms',
      'mapped task execution ms',
    ],
    summary.map((s) => [
      s.servers,
      s.runs,
      s.wallMs / 1000,
      s.wallMs / single,
      s.mappedTasks,
      Math.round(s.overheadPerMappedMs),
      s.slotBoundMs / 1000,
      Math.round(s.overheadBeyondSlotsMs),
      Math.round(s.readyToStartMs),
      Math.round(s.queuedToStartMs),
      Math.round(s.mappedExecutionMs),
    ]),
  );
  process.stdout.write(
    '\n  wall: trigger (run queued_at) to final state (run end_date).\n' +
      '  overhead per mapped task: (wall - critical path) / mapped task instances, where the critical path is the sum of\n' +
      "    execution times (task start to end) of validate_inputs, retrieve_ssh_key, the slowest server's four tasks and\n" +
      '    cleanup_temp_files: everything the run spent not executing tasks (scheduling, waiting for executor slots,\n' +
      '    starting task processes), per mapped task instance.\n' +
      '  slot bound: the longer of the critical path and the sum of all execution times / [core] parallelism, the\n' +
      '    shortest the run could be on that many executor slots; overhead beyond slots: (wall - slot bound) / mapped\n' +
      '    task instances, what waiting for busy slots does not explain.\n' +
      '  ready to start: mean over mapped task instances of its start - the end of the task it depends on.\n' +
      '  queued to start: mean over mapped task instances of its start - queued_when (executor pick-up, process start).\n' +
      `\n  Executor limits: ${Object.entries(settings.shown)
        .map(([k, v]) => `${k} = ${v}`)
        .join('; ')}.\n`,
  );
}
