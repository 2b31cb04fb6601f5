/**
 * "Did you mean ...?" for a mistyped name (a config key, a flag, an environment): the closest
 * known name by edit distance, when it is close enough to be a likely typo rather than another word.
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name closest to `input`, or undefined when none is close: a case-only difference
 * always counts; otherwise at most a third of the name's length may differ (at least one edit).
 */
export function closestName(input: string, known: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    if (name === input) continue;
    const distance = name.toLowerCase() === lower ? 0 : editDistance(lower, name.toLowerCase());
    if (best === undefined || distance < best.distance || (distance === best.distance && name < best.name)) best = { name, distance };
  }
  if (!best) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(input.length, best.name.length) / 3));
  return best.distance <= allowed ? best.name : undefined;
}

/** ` Did you mean "x"?`, or the empty string. */
export function didYouMean(input: string, known: Iterable<string>, quote: (name: string) => string = (n) => `"${n}"`): string {
  const match = closestName(input, known);
  return match === undefined ? '' : ` Did you mean ${quote(match)}?`;
}
