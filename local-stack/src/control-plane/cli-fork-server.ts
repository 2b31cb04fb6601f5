/**
 * Keeps one Python process with Airflow imported and forks it per CLI command (see
 * CLI_FORK_SERVER). An `airflow` CLI call costs 3-7 s of CPU here, nearly all of it importing
 * Airflow; a forked child skips that, so `version` answers in ~0.2 s and `dags list-runs` in
 * ~1.5 s. The CLI runner falls back to spawning `airflow` whenever this server is not ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CliOutput } from './cli-runner.js';
import { processRef, signalGroup, type ProcessRef } from '../processes.js';
import { CLI_FORK_SERVER } from './python-scripts.js';

/** The request never reached a forked child: running the command another way is safe. */
export class NotForkedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotForkedError';
  }
}

interface Pending {
  resolve: (output: CliOutput) => void;
  reject: (error: Error) => void;
  /** The forked child (it leads its own process group), read when the server reports its PID. */
  child?: ProcessRef;
  forked: boolean;
  timer: NodeJS.Timeout;
  timedOut: boolean;
  out: string;
  err: string;
}

/** One server process and the requests sent to it. */
interface Instance {
  child: ChildProcess;
  ref?: ProcessRef;
  ready: boolean;
  pending: Map<number, Pending>;
  exited: Promise<void>;
}

export interface ForkServerOptions {
  python: string;
  env: () => NodeJS.ProcessEnv;
  /** The server's own stdout/stderr (Airflow's import-time warnings) go here. */
  logPath: string;
  tmpRoot: string;
  onEvent: (event: Record<string, unknown>) => void;
  startTimeoutMs?: number;
  /** How long stop() lets commands already running finish. */
  drainMs?: number;
}

export class CliForkServer {
  private current?: Instance;
  private nextId = 1;
  private tmpDir?: string;
  private starting?: Promise<void>;

  constructor(private readonly options: ForkServerOptions) {}

  get ready(): boolean {
    return this.current?.ready ?? false;
  }

  /** Starts the server; resolves once Airflow is imported. A failure leaves it not ready. */
  start(): Promise<void> {
    this.starting ??= this.launch().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** A fresh server (new plugins or configuration); the old one finishes its commands. */
  async restart(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (old) void this.retire(old);
    await this.start();
  }

  async stop(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (old) await this.retire(old);
  }

  run(argv: readonly string[], cwd: string, timeoutMs: number): Promise<CliOutput> {
    const instance = this.current;
    if (!instance?.ready || !instance.child.stdin || !this.tmpDir) {
      return Promise.reject(new NotForkedError('fork server not ready'));
    }
    const id = this.nextId++;
    const out = join(this.tmpDir, `${id}.out`);
    const err = join(this.tmpDir, `${id}.err`);
    return new Promise<CliOutput>((resolveRun, rejectRun) => {
      const entry: Pending = {
        resolve: resolveRun,
        reject: rejectRun,
        out,
        err,
        timedOut: false,
        forked: false,
        timer: setTimeout(() => {
          entry.timedOut = true;
          if (entry.child) signalGroup(entry.child, 'SIGKILL');
        }, timeoutMs),
      };
      instance.pending.set(id, entry);
      instance.child.stdin!.write(`${JSON.stringify({ id, argv, cwd, stdout: out, stderr: err })}\n`);
    });
  }

  /** Closing stdin ends the server once its running commands have exited. */
  private async retire(instance: Instance): Promise<void> {
    instance.ready = false;
    if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
    instance.child.stdin?.end();
    const timer = setTimeout(() => {
      if (instance.ref) signalGroup(instance.ref, 'SIGKILL');
    }, this.options.drainMs ?? 60_000);
    await instance.exited;
    clearTimeout(timer);
  }

  private async launch(): Promise<void> {
    if (!this.tmpDir) {
      mkdirSync(this.options.tmpRoot, { recursive: true });
      this.tmpDir = mkdtempSync(join(this.options.tmpRoot, 'cli-'));
    }
    const fd = openSync(this.options.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.python, ['-c', CLI_FORK_SERVER], {
        env: this.options.env(),
        stdio: ['pipe', fd, fd, 'pipe'],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    // A write to a server that just died fails with EPIPE; its exit handler settles the requests.
    child.stdin?.on('error', () => undefined);
    let onExit!: () => void;
    const instance: Instance = {
      child,
      ...(child.pid === undefined ? {} : { ref: processRef(child.pid) }),
      ready: false,
      pending: new Map(),
      exited: new Promise((resolveExit) => (onExit = resolveExit)),
    };
    this.current = instance;
    const replies = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      const timer = setTimeout(() => rejectReady(new Error('fork server did not start in time')), this.options.startTimeoutMs ?? 180_000);
      replies.on('line', (line) => {
        let message: { ready?: boolean; version?: string; id?: number; pid?: number; code?: number };
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (message.ready) {
          clearTimeout(timer);
          instance.ready = this.current === instance;
          this.options.onEvent({ type: 'cli-fork-server-ready', pid: child.pid, airflowVersion: message.version });
          resolveReady();
          return;
        }
        const entry = message.id === undefined ? undefined : instance.pending.get(message.id);
        if (!entry) return;
        if (message.code === undefined) {
          entry.forked = true;
          // The server sends this before it reaps the child; a child already reaped by now has
          // its exit reply next in this same stream, which settles the entry and its timer.
          if (message.pid !== undefined) entry.child = processRef(message.pid);
          if (entry.timedOut && entry.child) signalGroup(entry.child, 'SIGKILL');
          return;
        }
        instance.pending.delete(message.id!);
        settle(entry, message.code);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        instance.ready = false;
        if (this.current === instance) this.current = undefined;
        this.options.onEvent({ type: 'cli-fork-server-exited', pid: child.pid, code, signal });
        rejectReady(new Error(`fork server exited (${code ?? signal}) before it was ready`));
        for (const [id, entry] of instance.pending) {
          instance.pending.delete(id);
          if (!entry.forked) {
            clearTimeout(entry.timer);
            entry.reject(new NotForkedError('fork server exited before forking'));
          } else {
            // Forked, but its exit code went with the server: report the output it left.
            settle(entry, null);
          }
        }
        onExit();
      });
    });
    try {
      await ready;
    } catch (error) {
      this.options.onEvent({ type: 'cli-fork-server-failed', error: error instanceof Error ? error.message : String(error) });
      if (this.current === instance) this.current = undefined;
      await this.retire(instance);
    }
  }
}

function settle(entry: Pending, code: number | null): void {
  clearTimeout(entry.timer);
  const read = (path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch {
      return Buffer.alloc(0);
    }
  };
  let stderr = read(entry.err);
  const stdout = read(entry.out);
  rmSync(entry.out, { force: true });
  rmSync(entry.err, { force: true });
  if (entry.timedOut) stderr = Buffer.concat([stderr, Buffer.from('\nCommand timed out\n')]);
  entry.resolve({ stdout, stderr, exitCode: code, timedOut: entry.timedOut });
}
