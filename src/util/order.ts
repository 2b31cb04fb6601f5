/**
 * Locale-independent ordering by UTF-16 code units: what everything emitted sorts by (zip
 * entries, manifest rows, Python dict literals), so output bytes never depend on the machine's locale.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byPath<T extends { path: string }>(a: T, b: T): number {
  return compareCodeUnits(a.path, b.path);
}
