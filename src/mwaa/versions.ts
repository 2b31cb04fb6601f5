/**
 * The Airflow versions Amazon MWAA runs, each with the Python version MWAA pairs it with, and the
 * Airflow lines (major versions) this tool generates for. The one table every other module reads:
 * config validation, requirements rendering, the DAG template's line switch, the CLI command table
 * and the local stack.
 * Source: https://docs.aws.amazon.com/mwaa/latest/userguide/airflow-versions.html
 */

export const MWAA_AIRFLOW_VERSIONS = {
  '2.7.2': '3.11',
  '2.8.1': '3.11',
  '2.9.2': '3.11',
  '2.10.1': '3.11',
  '2.10.3': '3.11',
  '2.11.0': '3.12',
  '2.11.2': '3.12',
  '3.0.6': '3.12',
  '3.2.1': '3.12',
  '3.3.1': '3.12',
} as const;

export type AirflowVersion = keyof typeof MWAA_AIRFLOW_VERSIONS;
export type PythonVersion = (typeof MWAA_AIRFLOW_VERSIONS)[AirflowVersion];

export const AIRFLOW_VERSIONS = Object.keys(MWAA_AIRFLOW_VERSIONS) as [AirflowVersion, ...AirflowVersion[]];
export const PYTHON_VERSIONS = [...new Set(Object.values(MWAA_AIRFLOW_VERSIONS))].sort() as [PythonVersion, ...PythonVersion[]];

/** The Airflow major versions the generated DAG, the deployer and the local stack support. */
export const AIRFLOW_LINES = ['2', '3'] as const;
export type AirflowLine = (typeof AIRFLOW_LINES)[number];

export function isAirflowLine(value: string): value is AirflowLine {
  return (AIRFLOW_LINES as readonly string[]).includes(value);
}

/** The line of a version; an unknown major (a future 4.x) is refused rather than treated as another line. */
export function airflowLine(version: string): AirflowLine {
  const major = version.split('.')[0] ?? '';
  if (!isAirflowLine(major)) {
    throw new RangeError(`Airflow ${version} is on line ${major}, which this tool does not support (lines: ${AIRFLOW_LINES.join(', ')}).`);
  }
  return major;
}

/** The newest MWAA version of a line. */
export function newestOfLine(line: AirflowLine): AirflowVersion {
  const versions = AIRFLOW_VERSIONS.filter((v) => airflowLine(v) === line);
  return versions.sort(compareVersions).at(-1) as AirflowVersion;
}

/**
 * The Airflow version a new project starts on (`init`, the schema's default, the shipped example
 * config) and the line `local up` starts by default: the newest 2.x, which the local stack runs
 * (so `parse` imports a fresh project's DAG there) and the only 2.x MWAA upgrades in place to 3.x.
 * `init --mwaa-environment` reads the environment's own version instead.
 */
export const DEFAULT_AIRFLOW_LINE: AirflowLine = '2';
export const DEFAULT_AIRFLOW_VERSION: AirflowVersion = newestOfLine(DEFAULT_AIRFLOW_LINE);

/** Whether `value` is a version MWAA runs (the table above). */
export function isMwaaAirflowVersion(value: string): value is AirflowVersion {
  return Object.hasOwn(MWAA_AIRFLOW_VERSIONS, value);
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * How MWAA moves an environment from one Airflow version to another (user guide, "Changing the
 * Apache Airflow version": https://docs.aws.amazon.com/mwaa/latest/userguide/upgrading-environment.html):
 * minor upgrades and downgrades within a major in place; 2.x to 3.x in place only from the newest
 * 2.11.x, so older 2.x go through it first (from 2.10.3 and below, a new environment is the other
 * way); 3.x back to 2.11.x in place.
 */
export interface VersionMove {
  /** UpdateEnvironment --airflow-version steps, in order; empty when no in-place path exists. */
  steps: string[];
  /** A new environment (then migrating DAGs and history) is a way, or the only way when `steps` is empty. */
  newEnvironment: boolean;
}

const LAST_IN_PLACE_FREE = '2.10.3';

export function versionMove(from: string, to: string): VersionMove {
  if (compareVersions(from, to) === 0) return { steps: [], newEnvironment: false };
  const fromLine = airflowLine(from);
  const toLine = airflowLine(to);
  if (fromLine === toLine) return { steps: [to], newEnvironment: false };
  if (fromLine === '2') {
    const bridge = newestOfLine('2');
    const steps = compareVersions(from, bridge) === 0 ? [to] : [bridge, to];
    return { steps, newEnvironment: compareVersions(from, LAST_IN_PLACE_FREE) <= 0 };
  }
  // 3.x → 2.x: only back to 2.11.x.
  return to.startsWith('2.11.') ? { steps: [to], newEnvironment: false } : { steps: [], newEnvironment: true };
}

/** The commands (or the migration) that take environment `name` from `from` to `to`, as one sentence. */
export function versionMoveHint(name: string, from: string, to: string): string {
  const move = versionMove(from, to);
  const migrate = `create a new environment on Airflow ${to} and migrate to it (https://docs.aws.amazon.com/mwaa/latest/migrationguide/migrating-to-new-mwaa.html)`;
  if (move.steps.length === 0)
    return move.newEnvironment ? `MWAA cannot change ${from} to ${to} in place: ${migrate}` : 'nothing to change';
  const commands = move.steps.map((v) => `aws mwaa update-environment --name ${name} --airflow-version ${v}`).join(', then ');
  const why = move.steps.length > 1 ? ` (MWAA moves 2.x to 3.x in place only from ${move.steps[0]})` : '';
  return `${commands}${why}${move.newEnvironment ? `; or ${migrate}` : ''}`;
}
