/**
 * Checks a requirements.txt the way an MWAA update would install it, without installing anything:
 * MWAA runs `pip install -r requirements.txt`, adding `-c <its constraint file>` unless it sees a
 * constraint (src/mwaa/requirements.ts, the one definition of that rule). pip reads the file
 * itself here (`pip install --dry-run --no-index`, through PIP_SERVED_FILES), so every constraint
 * file it names is found in whatever form pip accepts: Airflow's published file for the
 * environment's versions is served from a local copy derived from the stack's lock (also what the
 * stack adds as MWAA's own); any other file is refused, naming it, since the stack fetches
 * nothing. A requirement the stack's fixed packages cannot satisfy fails the update, as an
 * unresolvable one fails on MWAA.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runProgram } from '../processes.js';
import { AIRFLOW_CONSTRAINT_URL, airflowConstraintUrl, mwaaSeesConstraint } from '../../../src/mwaa/requirements.js';
import { PIP_SERVED_FILES } from './python-scripts.js';

export class RequirementsRejectedError extends Error {
  constructor(
    readonly errorCode: 'REQUIREMENTS_CONSTRAINT_MISMATCH' | 'REQUIREMENTS_NOT_RESOLVABLE',
    message: string,
  ) {
    super(message);
    this.name = 'RequirementsRejectedError';
  }
}

export interface ConstraintTarget {
  environmentName: string;
  airflowVersion: string;
  pythonVersion: string;
  /** Local copy of constraints-<airflowVersion>/constraints-<pythonVersion>.txt. */
  constraintsFile: string;
}

/** A pip constraint file from a lock (`name==version` lines; comments dropped). */
export function constraintsFromLock(lockText: string): string {
  const pins = lockText
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[A-Za-z0-9][A-Za-z0-9._-]*==\S+$/.test(line));
  return `${pins.join('\n')}\n`;
}

export function writeConstraintsFromLock(lockFile: string, out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, constraintsFromLock(readFileSync(lockFile, 'utf8')));
}

/** pip's own error lines, for LastUpdate.Error. */
function pipErrors(stderr: string, stdout: string): string {
  const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim());
  const errors = lines.filter((l) => l.startsWith('ERROR:') || /ResolutionImpossible|conflict/i.test(l));
  return (errors.length > 0 ? errors : lines.filter(Boolean).slice(-3)).join(' ').slice(0, 1500);
}

/** Why the stack refuses a file that requirements.txt names (pip stopped at it). */
function refusal(url: string, target: ConstraintTarget): RequirementsRejectedError {
  const wanted = airflowConstraintUrl(target.airflowVersion, target.pythonVersion);
  const parts = AIRFLOW_CONSTRAINT_URL.exec(url);
  if (parts) {
    return new RequirementsRejectedError(
      'REQUIREMENTS_CONSTRAINT_MISMATCH',
      `requirements.txt: the constraint file is for Airflow ${parts[1]} on Python ${parts[2]}, but ` +
        `${target.environmentName} runs Airflow ${target.airflowVersion} on Python ${target.pythonVersion}; use --constraint "${wanted}"`,
    );
  }
  return new RequirementsRejectedError(
    'REQUIREMENTS_CONSTRAINT_MISMATCH',
    `requirements.txt names ${url}, which is not Airflow's constraint file (the local stack fetches no other file); ` +
      `use --constraint "${wanted}"`,
  );
}

export async function checkRequirements(body: Buffer, target: ConstraintTarget, python: string, baseEnv: NodeJS.ProcessEnv): Promise<void> {
  const text = body.toString('utf8');
  const dir = await mkdtemp(join(tmpdir(), 'cp-req-'));
  try {
    const file = join(dir, 'requirements.txt');
    const refusedLog = join(dir, 'refused.jsonl');
    await writeFile(file, body);
    // The files pip may open: the requirements, Airflow's constraint file of these versions (a
    // local copy), and that copy under its own name, which is what MWAA's added `-c` names.
    const served = {
      [file]: file,
      [airflowConstraintUrl(target.airflowVersion, target.pythonVersion)]: target.constraintsFile,
      [target.constraintsFile]: target.constraintsFile,
    };
    const mwaaAdds = mwaaSeesConstraint(text) ? [] : ['-c', target.constraintsFile];
    // Only what is installed counts: no index, no extra wheel folders from the caller's pip settings;
    // and a find-links URL in the file fails at once instead of waiting on the network.
    const env: NodeJS.ProcessEnv = { ...baseEnv, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    for (const key of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_CONSTRAINT', 'PIP_REQUIREMENT']) delete env[key];
    const pipArgs = ['install', '--dry-run', '--no-index', '--timeout', '5', '--retries', '0', '-r', file, ...mwaaAdds];
    const result = await runProgram(python, ['-c', PIP_SERVED_FILES, JSON.stringify(served), refusedLog, ...pipArgs], {
      env,
      timeoutMs: 180_000,
    });
    if (result.code === 0) return;
    const refused = (await readFile(refusedLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (refused[0] !== undefined) throw refusal(JSON.parse(refused[0]) as string, target);
    throw new RequirementsRejectedError(
      'REQUIREMENTS_NOT_RESOLVABLE',
      `pip cannot resolve requirements.txt with the constraints of Airflow ${target.airflowVersion} on Python ${target.pythonVersion}: ` +
        pipErrors(result.stderr.toString('utf8'), result.stdout.toString('utf8')),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
