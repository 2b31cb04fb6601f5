import { describe, expect, it } from 'vitest';
import { diffLines, unifiedDiff } from '../../../src/util/unified-diff.js';

/** Lines of a text; a last line without a newline carries a NUL marker. */
function lines(text: string): string[] {
  if (text === '') return [];
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  else parts[parts.length - 1] += '\0';
  return parts;
}

/** Applies a unified diff to `text`, as `patch` would; throws when a line does not match. */
function applyPatch(text: string, diff: string): string {
  const old = lines(text);
  const out: string[] = [];
  let cursor = 0;
  const body = diff === '' ? [] : diff.split('\n').slice(2, -1);
  for (let i = 0; i < body.length; i += 1) {
    const line = body[i]!;
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(line);
    if (header) {
      const start = Number(header[1]) - (header[2] === '0' ? 0 : 1);
      out.push(...old.slice(cursor, start));
      cursor = start;
      continue;
    }
    const marked = body[i + 1] === '\\ No newline at end of file' ? `${line.slice(1)}\0` : line.slice(1);
    if (marked.endsWith('\0')) i += 1;
    if (line.startsWith(' ') || line.startsWith('-')) {
      if (old[cursor] !== marked)
        throw new Error(`line ${cursor + 1} is ${JSON.stringify(old[cursor])}, the diff says ${JSON.stringify(line)}`);
      cursor += 1;
    }
    if (line.startsWith(' ') || line.startsWith('+')) out.push(marked);
  }
  out.push(...old.slice(cursor));
  return out.map((l) => (l.endsWith('\0') ? l.slice(0, -1) : `${l}\n`)).join('');
}

describe('unifiedDiff', () => {
  const labels = { oldLabel: 'a/f', newLabel: 'b/f' };

  it('prints nothing for equal texts', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', labels)).toBe('');
  });

  it('prints hunks with three lines of context, as diff -u does', () => {
    const before = `${Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    const after = before.replace('line 3\n', 'line three\n').replace('line 18\n', '');
    expect(unifiedDiff(before, after, labels)).toBe(
      [
        '--- a/f',
        '+++ b/f',
        '@@ -1,6 +1,6 @@',
        ' line 1',
        ' line 2',
        '-line 3',
        '+line three',
        ' line 4',
        ' line 5',
        ' line 6',
        '@@ -15,6 +15,5 @@',
        ' line 15',
        ' line 16',
        ' line 17',
        '-line 18',
        ' line 19',
        ' line 20',
        '',
      ].join('\n'),
    );
  });

  it('counts an empty side from the line before it, and marks a missing final newline', () => {
    expect(unifiedDiff('', 'x\n', { oldLabel: '/dev/null', newLabel: 'b/f' })).toBe('--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+x\n');
    expect(unifiedDiff('a\n', 'a', labels)).toBe('--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n');
  });

  it('gives the shortest edit script', () => {
    const edits = diffLines(['a', 'b', 'c', 'a', 'b', 'b', 'a'], ['c', 'b', 'a', 'b', 'a', 'c']);
    expect(edits?.filter((e) => e.op !== ' ')).toHaveLength(5); // Myers' own example: D = 5
  });

  it('gives a diff that turns the old text into the new one, for any texts', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const text = () => {
      const lines = Array.from({ length: Math.floor(random() * 14) }, () => 'abcde'[Math.floor(random() * 5)]!);
      return lines.length === 0 ? '' : `${lines.join('\n')}${random() < 0.8 ? '\n' : ''}`;
    };
    for (let i = 0; i < 500; i += 1) {
      const a = text();
      const b = text();
      expect(applyPatch(a, unifiedDiff(a, b, labels)), JSON.stringify({ a, b })).toBe(b);
    }
  });
});
