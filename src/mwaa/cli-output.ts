/** Reading what Airflow's CLI prints with `-o json`: warnings and log lines may surround the JSON. */

/** The JSON value in `stdout`, or undefined when there is none. */
export function parseJsonOutput(stdout: string): unknown {
  const trimmed = stdout.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    // fall through: look for the JSON document among other lines
  }
  const lines = trimmed.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const first = lines[i]!.trimStart()[0];
    if (first !== '[' && first !== '{') continue;
    const closer = first === '[' ? ']' : '}';
    for (let j = lines.length - 1; j >= i; j -= 1) {
      if (!lines[j]!.trimEnd().endsWith(closer)) continue;
      try {
        return JSON.parse(lines.slice(i, j + 1).join('\n'));
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

/** The rows of a JSON list (a lone object counts as one row). */
export function jsonRows(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
  if (value && typeof value === 'object') return [value as Record<string, unknown>];
  return [];
}

/** Airflow's `-o json` prints some booleans as the strings "True"/"False". */
export function cliBoolean(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** Tag names from `[{name: ...}]` (REST, `dags list`) or plain strings. */
export function tagNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((t) => (typeof t === 'string' ? t : String((t as { name?: unknown })?.name ?? ''))).filter(Boolean);
}
