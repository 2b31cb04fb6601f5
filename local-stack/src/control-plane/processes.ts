/**
 * Starts and owns the Airflow processes of the environment (scheduler; on Airflow 3 also the
 * api-server and dag-processor). Each runs in its own process group with its output
 * in a log file. A new plugins release restarts the processes that import DAG or plugin code;
 * a configuration change restarts all of them; an unexpected exit is restarted a bounded number
 * of times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, killGroup } from '../../../src/util/processes.js';
import type { AirflowLine } from '../../../src/mwaa/versions.js';

export interface ProcessSpec {
  name: string;
  args: string[];
  /** Imports DAG files or runs tasks, so a new plugins release needs it restarted. */
  loadsPlugins: boolean;
}

export interface RunningProcess {
  name: string;
  pid: number;
  log: string;
}

export type SupervisorEvent =
  | { type: 'process-started'; name: string; pid: number }
  | { type: 'process-exited'; name: string; pid: number; code: number | null; signal: string | null; expected: boolean }
  | { type: 'process-gave-up'; name: string };

export interface SupervisorOptions {
  airflowBin: string;
  specs: ProcessSpec[];
  logsDir: string;
  /** Read at every (re)start: configuration options may have changed. */
  env: () => NodeJS.ProcessEnv;
  onEvent: (event: SupervisorEvent) => void;
  /** Called whenever the set of PIDs changes. */
  onChange: (processes: RunningProcess[]) => void;
  graceMs?: number;
  maxUnexpectedRestarts?: number;
}

interface Slot {
  spec: ProcessSpec;
  child?: ChildProcess;
  log: string;
  stopping: boolean;
  restarts: number;
  exited?: Promise<void>;
}

/**
 * The processes each Airflow line needs so that a triggered run executes and the REST API answers:
 * on 2 the scheduler and the web server (it serves /api/v1); on 3 the api-server (REST /api/v2 and
 * the tasks' execution API), scheduler and dag-processor. No triggerer: nothing the project runs
 * defers, and on a 2-core machine every idle Airflow process costs CPU.
 */
export function processSpecs(line: AirflowLine): ProcessSpec[] {
  if (line === '2') {
    return [
      { name: 'airflow-scheduler', args: ['scheduler'], loadsPlugins: true },
      // Serves the REST API from the metadata DB; none of our DAG or plugin code runs in it.
      { name: 'airflow-webserver', args: ['webserver'], loadsPlugins: false },
    ];
  }
  return [
    // The api-server imports no DAG or plugin code of ours; restarting it costs ~30 s.
    { name: 'airflow-api-server', args: ['api-server'], loadsPlugins: false },
    { name: 'airflow-scheduler', args: ['scheduler'], loadsPlugins: true },
    { name: 'airflow-dag-processor', args: ['dag-processor'], loadsPlugins: true },
  ];
}

export class AirflowSupervisor {
  private readonly slots: Slot[];
  private shuttingDown = false;

  constructor(private readonly options: SupervisorOptions) {
    mkdirSync(options.logsDir, { recursive: true });
    this.slots = options.specs.map((spec) => ({
      spec,
      log: join(options.logsDir, `${spec.name}.log`),
      stopping: false,
      restarts: 0,
    }));
  }

  start(): void {
    for (const slot of this.slots) this.spawnSlot(slot);
    this.options.onChange(this.processes());
  }

  /** Restarts the processes `which` selects (all by default). */
  async restart(which: (spec: ProcessSpec) => boolean = () => true): Promise<void> {
    const slots = this.slots.filter((slot) => which(slot.spec));
    await this.stopSlots(slots);
    if (this.shuttingDown) return;
    for (const slot of slots) {
      slot.restarts = 0;
      this.spawnSlot(slot);
    }
    this.options.onChange(this.processes());
  }

  async stop(): Promise<void> {
    this.shuttingDown = true;
    await this.stopSlots(this.slots);
  }

  processes(): RunningProcess[] {
    return this.slots
      .filter((slot) => slot.child?.pid !== undefined && slot.child.exitCode === null && slot.child.signalCode === null)
      .map((slot) => ({ name: slot.spec.name, pid: slot.child!.pid!, log: slot.log }));
  }

  private spawnSlot(slot: Slot): void {
    const fd = openSync(slot.log, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.airflowBin, slot.spec.args, {
        env: this.options.env(),
        cwd: undefined,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    slot.child = child;
    slot.stopping = false;
    const pid = child.pid ?? -1;
    this.options.onEvent({ type: 'process-started', name: slot.spec.name, pid });
    slot.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        const expected = slot.stopping || this.shuttingDown;
        this.options.onEvent({ type: 'process-exited', name: slot.spec.name, pid, code, signal, expected });
        resolveExit();
        if (expected) return;
        // The scheduler's children may outlive it; clear the group before starting again.
        killGroup(pid, 'SIGKILL');
        this.options.onChange(this.processes());
        if (slot.restarts >= (this.options.maxUnexpectedRestarts ?? 5)) {
          this.options.onEvent({ type: 'process-gave-up', name: slot.spec.name });
          return;
        }
        slot.restarts += 1;
        setTimeout(() => {
          if (this.shuttingDown || slot.child !== child) return;
          this.spawnSlot(slot);
          this.options.onChange(this.processes());
        }, 2000).unref();
      });
      child.on('error', () => resolveExit());
    });
  }

  private async stopSlots(slots: Slot[]): Promise<void> {
    const grace = this.options.graceMs ?? 20_000;
    const running = slots.filter((slot) => slot.child && slot.child.exitCode === null && slot.child.signalCode === null);
    // Airflow 2's DAG processor manager moves itself into a new process group, so the group
    // alone does not reach it: remember every descendant before asking the leader to stop.
    const trees = new Map(running.map((slot) => [slot, descendants(slot.child!.pid!)]));
    for (const slot of running) {
      slot.stopping = true;
      killGroup(slot.child!.pid, 'SIGTERM');
    }
    await Promise.all(
      running.map(async (slot) => {
        const timer = setTimeout(() => killGroup(slot.child!.pid, 'SIGKILL'), grace);
        await slot.exited;
        clearTimeout(timer);
        // Task processes and helpers must not outlive their parent.
        killGroup(slot.child!.pid, 'SIGKILL');
        for (const pid of trees.get(slot) ?? []) killPid(pid);
      }),
    );
    for (const slot of slots) slot.child = undefined;
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface AirflowEnvInput {
  line: AirflowLine;
  baseEnv: NodeJS.ProcessEnv;
  venvBin: string;
  airflowHome: string;
  s3Endpoint: string;
  region: string;
  /** state.airflow.env from the provisioning, when present. */
  stackEnv?: Record<string, string>;
  /** UpdateEnvironment's AirflowConfigurationOptions (`section.key` → value). */
  configurationOptions: Record<string, string>;
}

/** The environment every Airflow process and CLI command gets. */
export function airflowEnv(input: AirflowEnvInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...input.baseEnv };
  // The control plane's own Airflow settings must not leak in from the shell that started it.
  for (const key of Object.keys(env)) if (key.startsWith('AIRFLOW__')) delete env[key];
  // New DAG files must be seen within seconds, not after Airflow's default 5 minutes (the
  // provisioning's own settings, below, win).
  const listInterval = input.line === '2' ? 'AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL' : 'AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL';
  env[listInterval] = '5';
  Object.assign(env, input.stackEnv ?? {});
  for (const [key, value] of Object.entries(input.configurationOptions)) {
    const [section, name] = key.split('.', 2);
    env[`AIRFLOW__${section!.toUpperCase()}__${name!.toUpperCase()}`] = value;
  }
  Object.assign(env, {
    AIRFLOW_HOME: input.airflowHome,
    AWS_ENDPOINT_URL: input.s3Endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: input.region,
    AWS_REGION: input.region,
    PATH: `${input.venvBin}:${input.baseEnv.PATH ?? '/usr/bin:/bin'}`,
  });
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  return env;
}
