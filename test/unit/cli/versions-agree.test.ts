/**
 * One set of Airflow versions across what a new user meets: the versions the local stack installs
 * (its committed locks, the oracle here), the line table the stack runs (layout.ts), `local --help`,
 * `init`'s default, the schema's default and the shipped example config. A fresh project's DAG must
 * import in the stack that `local up` starts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AIRFLOW_VERSIONS as STACK_VERSIONS } from '../../../local-stack/src/layout.js';
import { airflowSchema } from '../../../src/config/schema.js';
import { renderScaffold } from '../../../src/init/scaffold.js';
import { DEFAULT_AIRFLOW_LINE, DEFAULT_AIRFLOW_VERSION } from '../../../src/mwaa/versions.js';
import { repoRoot, runCli } from '../../support/cli.js';

/** The Airflow versions the stack has locks for: `airflow-<version>-py<python>.txt`. */
function lockedVersions(): string[] {
  const names = readdirSync(join(repoRoot, 'local-stack/locks'));
  return [...new Set(names.flatMap((name) => /^airflow-(\d+\.\d+\.\d+)-py[\d.]+\.txt$/.exec(name)?.[1] ?? []))].sort();
}

describe('Airflow versions offered', () => {
  it('the stack runs exactly the versions it has locks for, one per line', () => {
    expect(Object.values(STACK_VERSIONS).sort()).toEqual(lockedVersions());
  });

  it('a new project starts on the version the stack runs for its default line', () => {
    expect(DEFAULT_AIRFLOW_VERSION).toBe(STACK_VERSIONS[DEFAULT_AIRFLOW_LINE]);
    const scaffold = parseYaml(renderScaffold({ env: 'dev', schemaRef: null })) as { defaults: { airflow: { version: string } } };
    expect(scaffold.defaults.airflow.version).toBe(DEFAULT_AIRFLOW_VERSION);
    expect(airflowSchema.parse({}).version).toBe(DEFAULT_AIRFLOW_VERSION);
  });

  it('the shipped example config names only versions the stack runs', () => {
    const example = parseYaml(readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8')) as {
      defaults: { airflow: { version: string } };
      environments: Record<string, { airflow?: { version: string } }>;
    };
    const named = [example.defaults.airflow.version, ...Object.values(example.environments).flatMap((e) => e.airflow?.version ?? [])];
    for (const version of named) expect(lockedVersions()).toContain(version);
  });

  it('local --help and init --help name the same versions', () => {
    const local = runCli(['local', '--help']);
    expect(local.status, local.stderr).toBe(0);
    const mentioned = [...local.stdout.matchAll(/\b(\d+\.\d+\.\d+)\b/g)].map((m) => m[1]).filter((v) => v !== '0.1.0');
    expect([...new Set(mentioned)].sort()).toEqual(lockedVersions());
    const init = runCli(['init', '--help']);
    expect(init.stdout).toContain(`else ${DEFAULT_AIRFLOW_VERSION})`);
  });
});
