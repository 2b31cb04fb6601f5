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

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
