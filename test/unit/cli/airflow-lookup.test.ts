/**
 * How `parse` finds Airflow (README "Parse"): --airflow-python, else $MWAA_AIRFLOW_PYTHON, each
 * python used for the DAGs of the apache-airflow version it reports; else the local stack's venv.
 * The pythons here are stand-ins that answer the version query as a venv's python would; a python
 * without Airflow is the machine's real one.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAirflow } from '../../../src/cli/dag-import.js';
import { UserError } from '../../../src/errors.js';
import { runCli } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';
import { DEFAULT_AIRFLOW_VERSION } from '../../../src/mwaa/versions.js';

const tmp = useTmpDir('airflow-lookup-');

/** An executable that prints `version` whatever it is asked, as `python -c "...version('apache-airflow')"` does. */
function fakePython(dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'python');
  writeFileSync(path, `#!/bin/sh\necho ${version}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** An environment with no variable and a local stack whose venvs are `venvs` (none by default). */
function env(extra: NodeJS.ProcessEnv = {}, root = tmp()): NodeJS.ProcessEnv {
  return { MWAA_LOCAL_HOME: root, MWAA_LOCAL_VENVS: join(root, 'venvs'), ...extra };
}

describe('findAirflow', () => {
  it('uses each --airflow-python for the DAGs of its own Airflow version, and the stack for the rest', async () => {
    const root = tmp();
    const two = fakePython(join(tmp(), 'a'), '2.10.3');
    const three = fakePython(join(tmp(), 'b'), '3.3.1');
    const stack = fakePython(join(root, 'venvs/airflow-2.11.2/bin'), '2.11.2');
    const lookup = await findAirflow(['2.10.3', '2.11.2', '3.0.6', '3.3.1'], [two, three], env({}, root));
    expect(Object.fromEntries(lookup.found)).toEqual({
      '2.10.3': { python: two, source: '--airflow-python' },
      '3.3.1': { python: three, source: '--airflow-python' },
      '2.11.2': { python: stack, source: 'local stack' },
    });
    expect(lookup.given).toEqual([
      { python: two, version: '2.10.3' },
      { python: three, version: '3.3.1' },
    ]);
  });

  it('reads $MWAA_AIRFLOW_PYTHON (colon-separated) when no flag is given; a flag wins over it', async () => {
    const a = fakePython(join(tmp(), 'a'), '2.10.3');
    const b = fakePython(join(tmp(), 'b'), '2.11.2');
    const variable = env({ MWAA_AIRFLOW_PYTHON: `${a}::${b}` });
    const fromVariable = await findAirflow(['2.10.3', '2.11.2'], [], variable);
    expect(fromVariable.found.get('2.10.3')).toEqual({ python: a, source: 'MWAA_AIRFLOW_PYTHON' });
    expect(fromVariable.found.get('2.11.2')).toEqual({ python: b, source: 'MWAA_AIRFLOW_PYTHON' });
    const flag = fakePython(join(tmp(), 'c'), '2.10.3');
    const flagged = await findAirflow(['2.10.3', '2.11.2'], [flag], variable);
    expect(Object.fromEntries(flagged.found)).toEqual({ '2.10.3': { python: flag, source: '--airflow-python' } });
  });

  it('finds nothing without a flag, a variable or a stack venv of that version', async () => {
    const lookup = await findAirflow(['2.10.3'], [], env());
    expect(lookup.found.size).toBe(0);
    expect(lookup.given).toEqual([]);
  });

  it('refuses a python without Airflow, or none at all, naming where it came from', async () => {
    const noAirflow = await findAirflow(['2.10.3'], ['python3'], env()).catch((e: unknown) => e);
    expect(noAirflow).toBeInstanceOf(UserError);
    expect((noAirflow as UserError).exitCode).toBe(2);
    expect((noAirflow as Error).message).toMatch(/^--airflow-python: python3 has no apache-airflow installed; give the python of a venv/);
    const missing = await findAirflow(['2.10.3'], [], env({ MWAA_AIRFLOW_PYTHON: join(tmp(), 'nothing/python') })).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/^\$MWAA_AIRFLOW_PYTHON: cannot run \/.*nothing\/python \(spawn .* ENOENT\)/);
  });
});

describe('parse with --airflow-python', () => {
  it('says which versions the given pythons have when none fits, and refuses a python without Airflow', () => {
    const cwd = tmp();
    runCli(['init'], { cwd });
    const other = fakePython(join(tmp(), 'other'), '3.3.1');
    const run = runCli(['parse', '--airflow-python', other], { cwd });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(
      `valid dev: no Airflow ${DEFAULT_AIRFLOW_VERSION} here (the pythons given have other versions (${other} has 3.3.1)): validated and rendered only, not imported\n`,
    );
    const refused = runCli(['parse', '--airflow-python', 'python3'], { cwd });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--airflow-python: python3 has no apache-airflow installed/);
  });
});
