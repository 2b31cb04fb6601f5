/**
 * Line diffs in the unified format that `diff -u` and `git diff` print, from Myers' O(ND)
 * algorithm ("An O(ND) Difference Algorithm and Its Variations", 1986): the shortest edit script,
 * found after stripping the common head and tail (a config change touches a few lines of a file).
 */

export type EditOp = ' ' | '-' | '+';

export interface Edit {
  op: EditOp;
  line: string;
}

/** Beyond this many differing lines the diff is not worth computing line by line. */
export const MAX_EDIT_DISTANCE = 20_000;

/**
 * Marks a last line that has no newline, so that "a" and "a\n" differ as lines (as in `diff`).
 * Text with NUL bytes is binary and never diffed line by line, so NUL cannot clash.
 */
const NO_EOL = '\0';

function splitLines(text: string): string[] {
  if (text === '') return [];
  if (text.endsWith('\n')) return text.slice(0, -1).split('\n');
  const lines = text.split('\n');
  lines[lines.length - 1] += NO_EOL;
  return lines;
}

/** The shortest edit script from `a` to `b` (deletions before insertions within a change). */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] | undefined {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const x0 = a.slice(head, a.length - tail);
  const y0 = b.slice(head, b.length - tail);
  const middle = myers(x0, y0);
  if (!middle) return undefined;
  return [
    ...a.slice(0, head).map((line): Edit => ({ op: ' ', line })),
    ...middle,
    ...a.slice(a.length - tail).map((line): Edit => ({ op: ' ', line })),
  ];
}

function myers(a: readonly string[], b: readonly string[]): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d += 1) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[k - 1 + offset]! < v[k + 1 + offset]!) ? v[k + 1 + offset]! : v[k - 1 + offset]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      next[k + offset] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace, offset, d);
    }
    v = next;
  }
  return undefined;
}

function backtrack(a: readonly string[], b: readonly string[], trace: Int32Array[], offset: number, dEnd: number): Edit[] {
  const edits: Edit[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d -= 1) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[k - 1 + offset]! < v[k + 1 + offset]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[prevK + offset]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x -= 1;
      y -= 1;
      edits.push({ op: ' ', line: a[x]! });
    }
    if (down) {
      y -= 1;
      edits.push({ op: '+', line: b[y]! });
    } else {
      x -= 1;
      edits.push({ op: '-', line: a[x]! });
    }
  }
  while (x > 0 && y > 0) {
    x -= 1;
    y -= 1;
    edits.push({ op: ' ', line: a[x]! });
  }
  return edits.reverse();
}

export interface UnifiedDiffOptions {
  oldLabel: string;
  newLabel: string;
  /** Unchanged lines shown around each change (diff -u: 3). */
  context?: number;
}

const NO_NEWLINE = '\\ No newline at end of file';

/** `diff -u` of two texts; the empty string when they are equal. */
export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions): string {
  if (oldText === newText) return '';
  const edits = diffLines(splitLines(oldText), splitLines(newText));
  const header = `--- ${options.oldLabel}\n+++ ${options.newLabel}\n`;
  if (!edits) return `${header}@@ the files differ in more than ${MAX_EDIT_DISTANCE} lines @@\n`;
  const context = options.context ?? 3;

  // Positions (1-based) of each edit in the old and new file.
  const rows = edits.map((edit) => ({ ...edit, oldLine: 0, newLine: 0 }));
  let oldLine = 0;
  let newLine = 0;
  for (const row of rows) {
    if (row.op !== '+') oldLine += 1;
    if (row.op !== '-') newLine += 1;
    row.oldLine = oldLine;
    row.newLine = newLine;
  }

  // Group changes whose context overlaps into hunks.
  const changed = rows.flatMap((row, i) => (row.op === ' ' ? [] : [i]));
  const hunks: Array<[number, number]> = [];
  for (const i of changed) {
    const start = Math.max(0, i - context);
    const end = Math.min(rows.length - 1, i + context);
    const last = hunks.at(-1);
    if (last && start <= last[1] + 1) last[1] = end;
    else hunks.push([start, end]);
  }

  const out = [header];
  for (const [start, end] of hunks) {
    const slice = rows.slice(start, end + 1);
    const oldCount = slice.filter((r) => r.op !== '+').length;
    const newCount = slice.filter((r) => r.op !== '-').length;
    // An empty side starts at the line before the hunk (0 at the top), as diff prints it.
    const oldStart = oldCount === 0 ? slice[0]!.oldLine : slice.find((r) => r.op !== '+')!.oldLine;
    const newStart = newCount === 0 ? slice[0]!.newLine : slice.find((r) => r.op !== '-')!.newLine;
    out.push(`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@\n`);
    for (const row of slice) {
      if (row.line.endsWith(NO_EOL)) out.push(`${row.op}${row.line.slice(0, -1)}\n${NO_NEWLINE}\n`);
      else out.push(`${row.op}${row.line}\n`);
    }
  }
  return out.join('');
}

/** `start,count` as diff prints it: the count is left out when it is 1. */
function range(start: number, count: number): string {
  return count === 1 ? `${start}` : `${start},${count}`;
}
