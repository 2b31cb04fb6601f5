/**
 * Comparing the version file with the Airflow Variables the DAG wrote from it. Airflow stores
 * every Variable as a string, so a file value matches when the Variable holds its string form
 * (Python's `str()` form included, since the DAG writes values from Python: `True`, `1.5`).
 */
import type { AirflowApi } from '../mwaa/airflow-api.js';
import type { VersionValue } from './version-file.js';

/** Reads Airflow Variables in one go (src/mwaa/airflow-api.ts); undefined: no such Variable. */
export type VariableReader = Pick<AirflowApi, 'variables'>;

export interface VariableComparison {
  /** The file key, e.g. `a`. */
  fileKey: string;
  /** The Airflow Variable key, e.g. `gpu-01__a`. */
  key: string;
  fileValue: string | null;
  airflowValue: string | null;
  equal: boolean;
}

export function sameValue(fileValue: VersionValue, airflowValue: string): boolean {
  if (typeof fileValue === 'string') return airflowValue === fileValue;
  if (typeof fileValue === 'boolean') {
    return airflowValue === String(fileValue) || airflowValue === (fileValue ? 'True' : 'False');
  }
  if (airflowValue === String(fileValue)) return true;
  const trimmed = airflowValue.trim();
  return trimmed !== '' && Number(trimmed) === fileValue;
}

/** The text a file value is shown as. */
export function displayValue(value: VersionValue): string {
  return typeof value === 'string' ? value : String(value);
}

export function compareValues(
  mappings: ReadonlyArray<{ fileKey: string; key: string; fileValue: VersionValue }>,
  airflow: ReadonlyMap<string, string | undefined>,
): VariableComparison[] {
  return mappings.map(({ fileKey, key, fileValue }) => {
    const airflowValue = airflow.get(key);
    return {
      fileKey,
      key,
      fileValue: displayValue(fileValue),
      airflowValue: airflowValue ?? null,
      equal: airflowValue !== undefined && sameValue(fileValue, airflowValue),
    };
  });
}

/** One line for the check's reason. */
export function summarizeComparisons(rows: readonly VariableComparison[]): string {
  const bad = rows.filter((row) => !row.equal);
  if (bad.length === 0) return `${rows.length} of ${rows.length} Variables match the file`;
  return bad
    .map((row) =>
      row.airflowValue === null
        ? `${row.key} is not set in Airflow (file: ${JSON.stringify(row.fileValue)})`
        : `${row.key} differs: file ${JSON.stringify(row.fileValue)}, Airflow ${JSON.stringify(row.airflowValue)}`,
    )
    .join('; ');
}
