/**
 * The control plane's requirements check with the stack's own pip (`pip install --dry-run`), on
 * generated ways of writing the constraint line. MWAA counts a requirements.txt as constrained when
 * a line contains "-c " or "--constraint " (comments included) and otherwise adds its own
 * `-c <constraints>`; pip then reads every constraint file the file names in any form it accepts
 * (`-cURL`, `--constraint=URL`, ...) plus MWAA's. The stack must judge each as that would, and
 * never let pip reach the network.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkRequirements,
  RequirementsRejectedError,
  writeConstraintsFromLock,
  type ConstraintTarget,
} from '../../src/control-plane/requirements.js';
import { airflowConstraintUrl, mwaaSeesConstraint } from '../../../src/mwaa/requirements.js';
import { MWAA_AIRFLOW_VERSIONS, type AirflowVersion } from '../../../src/mwaa/versions.js';
import { requireStack } from '../../../test/support/stack.js';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import { renderRequirements } from '../../../src/generator/render-requirements.js';

const stack = requireStack();
const dir = mkdtempSync(join(tmpdir(), 'requirements-it-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const python = join(stack.venvBin, 'python');
const pythonVersion = MWAA_AIRFLOW_VERSIONS[stack.airflowVersion as AirflowVersion];
const target: ConstraintTarget = {
  environmentName: stack.environmentName,
  airflowVersion: stack.airflowVersion,
  pythonVersion,
  constraintsFile: join(dir, 'constraints.txt'),
};
writeConstraintsFromLock(stack.lockFile!, target.constraintsFile);
const right = airflowConstraintUrl(stack.airflowVersion, pythonVersion);
const other = airflowConstraintUrl('2.10.3', '3.11');
// No proxy, no index: a pip that tried the network would fail fast, not hang.
const env = {
  ...process.env,
  PIP_DEFAULT_TIMEOUT: '5',
  PIP_RETRIES: '0',
  https_proxy: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
};

async function verdict(text: string): Promise<string> {
  try {
    await checkRequirements(Buffer.from(text), target, python, env);
    return 'ok';
  } catch (error) {
    if (error instanceof RequirementsRejectedError) return `${error.errorCode}: ${error.message}`;
    throw error;
  }
}

/** Every way pip reads a constraint option from a requirements line (pip's own optparse forms). */
const FORMS: Array<(url: string) => string> = [
  (u) => `-c ${u}`,
  (u) => `-c${u}`,
  (u) => `  -c\t${u}`,
  (u) => `--constraint=${u}`,
  (u) => `--constraint "${u}"`,
  (u) => `-c '${u}'  # pinned`,
];

describe("the stack's requirements check, with its own pip", () => {
  it.each(FORMS.map((form) => [form('URL'), form]))(
    '%s naming the right file resolves; naming another Airflow is refused',
    async (_shown, form) => {
      const good = `${form(right)}\nparamiko\n`;
      const bad = `${form(other)}\nparamiko\n`;
      const started = performance.now();
      expect(await verdict(good), good).toBe('ok');
      expect(await verdict(bad), bad).toMatch(
        /^REQUIREMENTS_CONSTRAINT_MISMATCH: .*the constraint file is for Airflow 2\.10\.3 on Python 3\.11, but .* use --constraint "https:/,
      );
      // A pip that went to the network would take its timeouts; reading local files takes seconds.
      expect(performance.now() - started).toBeLessThan(120_000);
    },
  );

  it("passes the generator's requirements.txt for this Airflow, which MWAA sees as constrained", async () => {
    const file = await readConfigFile({ cwd: join(import.meta.dirname, '../../..') });
    const config = resolveConfig({ ...file, defaults: { ...file.defaults, airflow: { version: stack.airflowVersion } } }, 'dev');
    const text = renderRequirements(config);
    expect(mwaaSeesConstraint(text)).toBe(true);
    expect(await verdict(text)).toBe('ok');
  });

  it("a file MWAA does not see as constrained gets MWAA's constraint as well, and pip applies both", async () => {
    // "-cURL" is not "-c ": MWAA adds its own file, and pip reads both (the same pins here).
    const text = `-c${right}\nparamiko\n`;
    expect(mwaaSeesConstraint(text)).toBe(false);
    expect(await verdict(text)).toBe('ok');
    // A requirement the constraint file rules out fails under both, as it fails on MWAA.
    expect(await verdict(`-c${right}\nparamiko==2.0.0\n`)).toMatch(/^REQUIREMENTS_NOT_RESOLVABLE: .*paramiko/);
  });

  it('a constraint only in a comment satisfies MWAA, which then adds none', async () => {
    const text = `# -c ${other}\nparamiko\n`;
    expect(mwaaSeesConstraint(text)).toBe(true);
    expect(await verdict(text)).toBe('ok');
  });

  it('refuses any other file a requirements.txt names, without fetching it', async () => {
    for (const line of [
      '-c https://example.com/constraints.txt',
      '-chttps://example.com/c.txt',
      '-r https://example.com/more.txt',
      '-c /etc/hostname',
    ]) {
      expect(await verdict(`${line}\nparamiko\n`), line).toMatch(
        /^REQUIREMENTS_CONSTRAINT_MISMATCH: requirements\.txt names .* which is not Airflow's constraint file/,
      );
    }
  });

  it('two constraint files that pin one package differently make pip fail (what MWAA meets when it adds its own)', () => {
    const installed = execFileSync(python, ['-c', 'import importlib.metadata as m; print(m.version("paramiko"))'], {
      encoding: 'utf8',
    }).trim();
    writeFileSync(join(dir, 'a.txt'), `paramiko==${installed}\n`);
    writeFileSync(join(dir, 'b.txt'), 'paramiko==2.0.0\n');
    writeFileSync(join(dir, 'req.txt'), 'paramiko\n');
    const run = (files: string[]) => {
      try {
        execFileSync(
          python,
          ['-m', 'pip', 'install', '--dry-run', '--no-index', '-r', join(dir, 'req.txt'), ...files.flatMap((f) => ['-c', join(dir, f)])],
          {
            env,
            stdio: 'pipe',
          },
        );
        return 'ok';
      } catch (error) {
        return String((error as { stderr?: Buffer }).stderr);
      }
    };
    expect(run(['a.txt', 'a.txt'])).toBe('ok');
    expect(run(['a.txt', 'b.txt'])).toMatch(/ResolutionImpossible|conflict|Could not find a version/i);
  });
});
