/**
 * Runs the built CLI (`node dist/cli.js ...`) as a child process against a hostile world and
 * measures what the matrix asserts: wall seconds to the end, the exit code or signal, and the
 * child's peak RSS. Peak RSS is the kernel's VmHWM: a preload writes process.resourceUsage().maxRSS
 * when the process exits normally, and /proc/<pid>/status is sampled meanwhile for the ends that
 * run no exit handler (a V8 abort, a kill).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const cliPath = join(repoRoot, 'dist/cli.js');

export interface CliOutcome {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by us at `killAfterMs`: the command did not end by itself. */
  killed: boolean;
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

const PRELOAD = `
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  try { writeFileSync(process.env.HOSTILE_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS)); } catch {}
});
`;

function vmHwmKiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The environment every run gets: dummy credentials, no colour, no local stack, nothing of the runner's npm. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('npm_') || key.startsWith('AWS_') || key === 'FORCE_COLOR' || key.startsWith('MWAA_GPU_CICD_')) continue;
    env[key] = value;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: 'AKIDHOSTILEWORLD',
    AWS_SECRET_ACCESS_KEY: 'hostile-world-secret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NO_COLOR: '1',
    MWAA_LOCAL_HOME: join(tmpdir(), 'mwaa-gpu-cicd-no-local-stack'),
    ...extra,
  };
}

export function runCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; killAfterMs: number }): Promise<CliOutcome> {
  const scratch = mkdtempSync(join(tmpdir(), 'hostile-run-'));
  const preload = join(scratch, 'peak-rss.cjs');
  const peakFile = join(scratch, 'peak-rss');
  writeFileSync(preload, PRELOAD);
  const started = performance.now();
  const child = spawn(process.execPath, ['--require', preload, cliPath, ...args], {
    cwd: options.cwd,
    env: cliEnv({ ...options.env, HOSTILE_PEAK_RSS_FILE: peakFile }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let sampledKiB = 0;
  let killed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length < 1_000_000) stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 1_000_000) stderr += chunk;
  });
  const sampler = setInterval(() => {
    const kib = child.pid ? vmHwmKiB(child.pid) : undefined;
    if (kib !== undefined) sampledKiB = Math.max(sampledKiB, kib);
  }, 100);
  const killer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, options.killAfterMs);
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      clearTimeout(killer);
      let exitKiB = 0;
      try {
        exitKiB = Number(readFileSync(peakFile, 'utf8'));
      } catch {
        // no exit handler ran (abort, kill): the samples are all there is
      }
      rmSync(scratch, { recursive: true, force: true });
      resolvePromise({
        args,
        code,
        signal,
        killed,
        seconds,
        peakRssMiB: Math.round(Math.max(exitKiB, sampledKiB) / 1024),
        stdout,
        stderr,
      });
    });
  });
}
