/**
 * Checks a requirements.txt against the stack's venv without installing anything: the local stack
 * has a fixed, locked set of packages, so an update whose requirements that set does not satisfy
 * must fail (as an MWAA update whose requirements do not resolve does).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from '../../../src/util/processes.js';
import { CHECK_REQUIREMENTS } from './python-scripts.js';

export class RequirementsRejectedError extends Error {
  readonly errorCode = 'REQUIREMENTS_NOT_SATISFIED';

  constructor(message: string) {
    super(message);
    this.name = 'RequirementsRejectedError';
  }
}

export async function checkRequirements(
  body: Buffer,
  python: string,
  env: NodeJS.ProcessEnv,
): Promise<{ checked: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'cp-req-'));
  try {
    const file = join(dir, 'requirements.txt');
    await writeFile(file, body);
    const result = await runProgram(python, ['-c', CHECK_REQUIREMENTS, file], { env, timeoutMs: 120_000 });
    let report: { checked: string[]; problems: string[] } | undefined;
    try {
      report = JSON.parse(result.stdout.toString('utf8').trim().split('\n').pop() ?? '');
    } catch {
      report = undefined;
    }
    if (result.code !== 0 || !report) {
      const detail = report?.problems.join('; ') || result.stderr.toString('utf8').trim().split('\n').pop();
      throw new RequirementsRejectedError(`requirements.txt is not satisfied by the installed packages: ${detail}`);
    }
    return { checked: report.checked };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
