/**
 * Comparing the version file with the Airflow Variables the DAG wrote from it. Airflow stores
 * every Variable as a string; the DAG writes each value's Variable text (variableText: integers
 * with every digit, floats as String(n), booleans as true/false), so a value matches only when
 * the Variable holds exactly that text. No number goes through a float: 12345678901234567 and
 * 12345678901234568 differ.
 */
import type { AirflowApi } from '../mwaa/airflow-api.js';
import { variableText, type VersionValue } from './version-file.js';

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
  return airflowValue === variableText(fileValue);
}

/** The text a file value is shown as: the Variable text the DAG writes for it. */
export function displayValue(value: VersionValue): string {
  return variableText(value);
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
