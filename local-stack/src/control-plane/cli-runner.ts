/**
 * Runs one Airflow CLI command for the `/aws_mwaa/cli` endpoint: the real `airflow` of the venv,
 * argv as split from the request (no shell), in a child of the fork server when it is ready, else
 * as a new process. MWAA limits CLI concurrency; here at most `concurrency` commands run at once
 * and the rest wait.
 */
import { NotForkedError, type CliForkServer } from './cli-fork-server.js';
import { runProgram } from '../processes.js';

export interface CliOutput {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  timedOut: boolean;
}

export class CliRunner {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly airflowBin: string,
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly cwd: string,
    private readonly timeoutMs = 300_000,
    private readonly concurrency = 2,
    /** Used when ready; otherwise (or if it cannot take the request) `airflow` is spawned. */
    private readonly forkServer?: Pick<CliForkServer, 'ready' | 'run'>,
  ) {}

  async run(argv: readonly string[]): Promise<CliOutput> {
    await this.acquire();
    try {
      if (this.forkServer?.ready) {
        try {
          return await this.forkServer.run(argv, this.cwd, this.timeoutMs);
        } catch (error) {
          if (!(error instanceof NotForkedError)) throw error;
        }
      }
      const result = await runProgram(this.airflowBin, argv, {
        env: this.env(),
        cwd: this.cwd,
        timeoutMs: this.timeoutMs,
      });
      const stderr = result.timedOut
        ? Buffer.concat([result.stderr, Buffer.from(`\nCommand timed out after ${this.timeoutMs / 1000} s\n`)])
        : result.stderr;
      return { stdout: result.stdout, stderr, exitCode: result.code, timedOut: result.timedOut };
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolveWait) => this.waiting.push(resolveWait));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }
}
