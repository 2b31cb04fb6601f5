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
import { processRef, processTree, signalGroup, signalProcess, type ProcessRef } from '../processes.js';
import { identityOf } from '../liveness.js';
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
  /** Who this PID is (see liveness.ts): `status` and `down` tell it from a later process with its PID. */
  startTime?: number;
  bootId?: string;
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
  /** The child as the kernel knows it, read at spawn: every signal goes through it. */
  ref?: ProcessRef;
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
      .filter((slot) => slot.ref !== undefined && slot.child?.exitCode === null && slot.child.signalCode === null)
      .map((slot) => ({ name: slot.spec.name, pid: slot.ref!.pid, log: slot.log, ...identityOf(slot.ref!) }));
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
    // Read before the child can exit and be reaped: afterwards its PID may name another process.
    const ref = child.pid === undefined ? undefined : processRef(child.pid);
    slot.ref = ref;
    const pid = child.pid ?? 0;
    this.options.onEvent({ type: 'process-started', name: slot.spec.name, pid });
    slot.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        const expected = slot.stopping || this.shuttingDown;
        this.options.onEvent({ type: 'process-exited', name: slot.spec.name, pid, code, signal, expected });
        resolveExit();
        if (expected) return;
        // The scheduler's children may outlive it; clear the group before starting again.
        if (ref) signalGroup(ref, 'SIGKILL');
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
    const running = slots.filter((slot) => slot.ref && slot.child?.exitCode === null && slot.child.signalCode === null);
    // Airflow 2's DAG processor manager moves itself into a new process group, so the group
    // alone does not reach it: remember every descendant (by identity) before asking the leader
    // to stop. Each is signalled only while its PID still names it.
    const trees = new Map(running.map((slot) => [slot, processTree(slot.ref!)]));
    for (const slot of running) {
      slot.stopping = true;
      signalGroup(slot.ref!, 'SIGTERM');
    }
    await Promise.all(
      running.map(async (slot) => {
        const ref = slot.ref!;
        const timer = setTimeout(() => signalGroup(ref, 'SIGKILL'), grace);
        await slot.exited;
        clearTimeout(timer);
        // Task processes and helpers must not outlive their parent.
        signalGroup(ref, 'SIGKILL');
        for (const member of trees.get(slot) ?? []) signalProcess(member, 'SIGKILL');
      }),
    );
    for (const slot of slots) {
      slot.child = undefined;
      slot.ref = undefined;
    }
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
