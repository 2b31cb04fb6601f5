/**
 * Talks to the hostile harness running as a child process (main.ts): start worlds, read their
 * counters, close them. One child can host many worlds at once.
 *
 *   const harness = await HarnessProcess.start();
 *   const world = await harness.startWorld({ hostile: { remote: 's3', behaviour: 'drip' } });
 *   ...
 *   await harness.closeWorld(world);
 *   await harness.stop();
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { WorldHandle } from './main.js';
import { repoRoot } from './run-cli.js';
import type { WorldSpec } from './world.js';

export class HarnessProcess {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as { id: number; error?: string };
      const waiter = this.waiting.get(answer.id);
      if (!waiter) return;
      this.waiting.delete(answer.id);
      if (answer.error) waiter.reject(new Error(`hostile harness: ${answer.error}`));
      else waiter.resolve(answer as Record<string, unknown>);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-10_000);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.waiting.values()) {
        waiter.reject(new Error(`hostile harness exited (${code ?? signal}): ${this.stderr}`));
      }
      this.waiting.clear();
    });
  }

  static async start(): Promise<HarnessProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/support/hostile/main.ts')], {
      cwd: repoRoot,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new HarnessProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  async startWorld(spec: WorldSpec): Promise<WorldHandle> {
    return (await this.request({ op: 'start', spec })).world as WorldHandle;
  }

  async stats(world: WorldHandle): Promise<Record<string, Record<string, unknown>>> {
    return (await this.request({ op: 'stats', dir: world.dir })).stats as Record<string, Record<string, unknown>>;
  }

  async closeWorld(world: WorldHandle): Promise<void> {
    await this.request({ op: 'close', dir: world.dir });
  }

  /** Closes every world and ends the child. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
