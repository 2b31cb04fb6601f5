/**
 * Checks a requirements.txt the way an MWAA update would install it, without installing anything:
 * 1. the constraint line (MWAA recognises `-c ` / `--constraint `, and adds its own when there is
 *    none) must name the environment's Airflow version and the Python version MWAA pairs with it;
 * 2. pip must resolve the file under that constraint file (`pip install --dry-run`), served from a
 *    local copy derived from the stack's lock, with no index: the stack's packages are fixed, so a
 *    requirement they cannot satisfy fails the update, as an unresolvable one fails on MWAA.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runProgram } from '../../../src/util/processes.js';

export class RequirementsRejectedError extends Error {
  constructor(
    readonly errorCode: 'REQUIREMENTS_CONSTRAINT_MISMATCH' | 'REQUIREMENTS_NOT_RESOLVABLE',
    message: string,
  ) {
    super(message);
    this.name = 'RequirementsRejectedError';
  }
}

/** Airflow's published constraint files, as MWAA's user guide tells users to reference them. */
const CONSTRAINT_URL =
  /^https:\/\/raw\.githubusercontent\.com\/apache\/airflow\/constraints-([0-9][0-9.]*)\/constraints-([0-9]+\.[0-9]+)\.txt$/;
const CONSTRAINT_LINE = /^\s*(?:-c\s+|--constraint(?:\s+|=))(.+?)\s*$/;

export interface ConstraintTarget {
  environmentName: string;
  airflowVersion: string;
  pythonVersion: string;
  /** Local copy of constraints-<airflowVersion>/constraints-<pythonVersion>.txt. */
  constraintsFile: string;
}

export function constraintUrl(airflowVersion: string, pythonVersion: string): string {
  return `https://raw.githubusercontent.com/apache/airflow/constraints-${airflowVersion}/constraints-${pythonVersion}.txt`;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  return /^(["']).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
}

/**
 * The requirements as pip will read them here: the constraint line checked and pointed at the
 * local copy (or added, as MWAA adds its own). Throws when it names another version.
 */
export function localRequirements(text: string, target: ConstraintTarget): string {
  const wanted = constraintUrl(target.airflowVersion, target.pythonVersion);
  let found = false;
  const lines = text.split(/\r?\n/).map((line, index) => {
    const match = CONSTRAINT_LINE.exec(line.split(' #', 1)[0]!);
    if (!match) return line;
    found = true;
    const url = unquote(match[1]!);
    const parts = CONSTRAINT_URL.exec(url);
    if (!parts) {
      throw new RequirementsRejectedError(
        'REQUIREMENTS_CONSTRAINT_MISMATCH',
        `requirements.txt line ${index + 1}: constraint ${url} is not Airflow's constraint file; use --constraint "${wanted}"`,
      );
    }
    if (parts[1] !== target.airflowVersion || parts[2] !== target.pythonVersion) {
      throw new RequirementsRejectedError(
        'REQUIREMENTS_CONSTRAINT_MISMATCH',
        `requirements.txt line ${index + 1}: the constraint file is for Airflow ${parts[1]} on Python ${parts[2]}, but ` +
          `${target.environmentName} runs Airflow ${target.airflowVersion} on Python ${target.pythonVersion}; use --constraint "${wanted}"`,
      );
    }
    return `--constraint ${target.constraintsFile}`;
  });
  if (!found) lines.unshift(`--constraint ${target.constraintsFile}`);
  return `${lines.join('\n')}\n`;
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

export async function checkRequirements(body: Buffer, target: ConstraintTarget, python: string, baseEnv: NodeJS.ProcessEnv): Promise<void> {
  const text = localRequirements(body.toString('utf8'), target);
  const dir = await mkdtemp(join(tmpdir(), 'cp-req-'));
  try {
    const file = join(dir, 'requirements.txt');
    await writeFile(file, text);
    // Only what is installed counts: no index, no extra wheel folders from the caller's pip settings.
    const env: NodeJS.ProcessEnv = { ...baseEnv, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    for (const key of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_CONSTRAINT', 'PIP_REQUIREMENT']) delete env[key];
    const result = await runProgram(python, ['-m', 'pip', 'install', '--dry-run', '--no-index', '-r', file], { env, timeoutMs: 180_000 });
    if (result.code !== 0) {
      throw new RequirementsRejectedError(
        'REQUIREMENTS_NOT_RESOLVABLE',
        `pip cannot resolve requirements.txt with the constraints of Airflow ${target.airflowVersion} on Python ${target.pythonVersion}: ` +
          pipErrors(result.stderr.toString('utf8'), result.stdout.toString('utf8')),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
