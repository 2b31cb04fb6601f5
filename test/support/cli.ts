/** Runs the bundled CLI (dist/cli.js, built by the unit project's global setup) as a user would. */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const cliPath = join(repoRoot, 'dist/cli.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node dist/cli.js ...args` in `cwd`, with no local stack (MWAA_LOCAL_HOME points nowhere) and
 * none of the npm/colour variables of the test runner leaking in unless given.
 */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('npm_') && key !== 'FORCE_COLOR' && key !== 'NO_COLOR') env[key] = value;
  }
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...env, MWAA_LOCAL_HOME: join(tmpdir(), 'mwaa-gpu-cicd-no-local-stack'), ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
