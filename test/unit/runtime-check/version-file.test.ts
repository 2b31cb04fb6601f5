import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateVersionBytes } from '../../../src/runtime-check/server-check.js';
import { MAX_ALIAS_COUNT, parseVersionFile, type VariableMapping, VersionFileReadings } from '../../../src/runtime-check/version-file.js';

const scalars: VariableMapping[] = ['a', 'b', 'c', 'd'].map((key) => ({ key, variable: key, type: 'scalar' }));
const typed: VariableMapping[] = [
  { key: 'version', variable: 'version', type: 'string' },
  { key: 'build', variable: 'build', type: 'integer' },
  { key: 'ratio', variable: 'ratio', type: 'number' },
  { key: 'enabled', variable: 'enabled', type: 'boolean' },
];

function reason(text: string, mappings: VariableMapping[] = scalars): string {
  const result = parseVersionFile(text, mappings);
  if (result.ok) throw new Error(`expected a failure for ${JSON.stringify(text)}`);
  return result.reason;
}

describe('parseVersionFile', () => {
  it('accepts a mapping with the configured keys and returns their values', () => {
    const result = parseVersionFile('a: "1.2.3"\nb: 42\nc: true\nd: etl\nextra: ignored\n', scalars);
    expect(result).toEqual({ ok: true, values: { a: '1.2.3', b: 42n, c: true, d: 'etl' } });
  });

  it('checks each configured type', () => {
    expect(parseVersionFile('version: "2.0"\nbuild: 17\nratio: 0.5\nenabled: false\n', typed)).toEqual({
      ok: true,
      values: { version: '2.0', build: 17n, ratio: 0.5, enabled: false },
    });
    const wrong = reason('version: 2.0\nbuild: 1.5\nratio: "x"\nenabled: "yes"\n', typed);
    expect(wrong).toContain('"version" should be a string, found float 2');
    expect(wrong).toContain('"build" should be an integer, found float 1.5');
    expect(wrong).toContain('"ratio" should be a number, found string "x"');
    expect(wrong).toContain('"enabled" should be a boolean, found string "yes"');
  });

  it('reads YAML 1.1 scalars as PyYAML does in the DAG: yes is true, 010 is octal', () => {
    expect(parseVersionFile('a: yes\nb: 010\nc: 0x10\nd: .inf\n', scalars)).toMatchObject({ ok: false });
    expect(parseVersionFile('a: yes\nb: 010\nc: 0x10\nd: 1_000\n', scalars)).toEqual({
      ok: true,
      values: { a: true, b: 8n, c: 16n, d: 1000n },
    });
  });

  it('refuses scalar values that are not scalars', () => {
    expect(reason('a: [1, 2]\nb: {x: 1}\nc: null\nd:\n')).toBe(
      '"a" should be a scalar, found a list; "b" should be a scalar, found a mapping; ' +
        '"c" should be a scalar, found an empty value; "d" should be a scalar, found an empty value',
    );
  });

  it('names every missing key', () => {
    expect(reason('a: 1\nc: 3\n')).toBe('missing key "b"; missing key "d"');
  });

  it.each([
    ['a list', '- a\n- b\n', 'found a list'],
    ['a scalar', 'just text\n', 'found string "just text"'],
    ['an empty file', '', 'found an empty value'],
    ['a comment only', '# nothing\n', 'found an empty value'],
  ])('refuses %s at the top level', (_name, text, expected) => {
    expect(reason(text)).toContain(`expected a mapping of keys to values, ${expected}`);
  });

  it.each([
    ['a Python object tag', 'a: !!python/object:os.system ls\nb: 1\nc: 1\nd: 1\n'],
    ['a Python apply tag', "a: !!python/object/apply:os.system ['id']\nb: 1\nc: 1\nd: 1\n"],
    ['a local tag', 'a: !custom x\nb: 1\nc: 1\nd: 1\n'],
    ['binary data', 'a: !!binary aGVsbG8=\nb: 1\nc: 1\nd: 1\n'],
    ['a set', 'a: !!set {x}\nb: 1\nc: 1\nd: 1\n'],
  ])('refuses %s', (_name, text) => {
    expect(reason(text)).toMatch(/^the tag \S+ is not allowed \(write plain values\)$/);
  });

  it('reads a timestamp as text, as YAML 1.2 does (no Variable holds a date)', () => {
    expect(parseVersionFile('a: 2026-11-26\nb: 1:30\nc: 1\nd: 1\n', scalars)).toEqual({
      ok: true,
      values: { a: '2026-11-26', b: '1:30', c: 1n, d: 1n },
    });
  });

  it('refuses a YAML bomb fast', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    ].join('\n');
    const started = performance.now();
    expect(reason(bomb)).toBe(`more than ${MAX_ALIAS_COUNT} aliases`);
    // Unguarded, the expansion would run for minutes; the guard answers at once (a busy machine may still take seconds).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it(`allows a few aliases (up to ${MAX_ALIAS_COUNT})`, () => {
    expect(parseVersionFile('base: &v "1.0"\na: *v\nb: *v\nc: 3\nd: 4\n', scalars)).toMatchObject({ ok: true, values: { a: '1.0' } });
  });

  it.each([
    ['duplicate keys', 'a: 1\na: 2\nb: 1\nc: 1\nd: 1\n', /^duplicate key "a"/],
    ['several documents', 'a: 1\nb: 1\nc: 1\nd: 1\n---\na: 2\n', /more than one document/],
    ['broken syntax', 'a: b: c\n', /^invalid YAML: .* \(line 1, column \d+\)$/],
    ['an unclosed flow collection', 'a: [1, 2\nb: 1\n', /^a flow collection \(\[\.\.\.\] or \{\.\.\.\}\) is not closed before line 2/],
    ['tabs for indentation', 'a:\n\tb: 1\n', /contains a tab/],
  ])('refuses %s', (_name, text, expected) => {
    expect(reason(text)).toMatch(expected);
  });

  it('does not let keys like __proto__ pollute anything', () => {
    const result = parseVersionFile('__proto__: {polluted: 1}\na: 1\nb: 1\nc: 1\nd: 1\n', scalars);
    expect(result.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('validateVersionBytes', () => {
  it('refuses bytes that are not UTF-8', () => {
    const result = validateVersionBytes(Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]), 'www/version.yaml', scalars);
    expect(result).toEqual({ ok: false, reason: 'www/version.yaml is not UTF-8 text' });
  });

  it('prefixes problems with the path and summarizes values on success', () => {
    expect(validateVersionBytes(Buffer.from('a: 1\n'), '/w/www/version.yaml', scalars).reason).toBe(
      '/w/www/version.yaml: missing key "b"; missing key "c"; missing key "d"',
    );
    expect(validateVersionBytes(Buffer.from('a: "x"\nb: 2\nc: false\nd: 1.5\n'), 'p', scalars)).toEqual({
      ok: true,
      reason: 'a="x" b=2 c=false d=1.5',
      values: { a: 'x', b: 2n, c: false, d: 1.5 },
    });
  });
});

describe('VersionFileReadings', () => {
  const corpus = (JSON.parse(readFileSync('test/fixtures/version-yaml-corpus.json', 'utf8')) as { cases: { yaml: string }[] }).cases;

  it('reads every file of the shared corpus as parseVersionFile does, the first time and again', () => {
    const readings = new VersionFileReadings(1000);
    // One that keeps nothing calls parseVersionFile from the same depth of the stack: the reason
    // for a document nested past the parser's stack names where the stack ran out.
    const uncached = new VersionFileReadings(0);
    for (const { yaml } of corpus) {
      const expected = uncached.read(yaml, scalars);
      expect(expected).toEqual(uncached.read(yaml, scalars));
      expect(readings.read(yaml, scalars)).toEqual(expected);
      expect(readings.read(yaml, scalars)).toEqual(expected);
    }
  });

  it('parses a text once per mapping list, and a changed text or other mappings again', () => {
    const parsed: string[] = [];
    const readings = new VersionFileReadings(64, (text, mappings) => {
      parsed.push(text);
      return parseVersionFile(text, mappings);
    });
    const text = 'a: 1\nb: 2\nc: 3\nd: 4\n';
    for (let server = 0; server < 64; server++) readings.read(text, scalars);
    expect(parsed).toEqual([text]);
    readings.read('a: 1\nb: 2\nc: 3\nd: 5\n', scalars);
    // Other mappings (another repository) may refuse the same text: read under their own rule.
    expect(readings.read(text, typed)).toMatchObject({ ok: false });
    expect(parsed).toHaveLength(3);
  });

  it('hands each server its own values object', () => {
    const readings = new VersionFileReadings();
    const first = readings.read('a: 1\nb: 2\nc: 3\nd: 4\n', scalars);
    if (!first.ok) throw new Error(first.reason);
    first.values.a = 'changed';
    expect(readings.read('a: 1\nb: 2\nc: 3\nd: 4\n', scalars)).toEqual({ ok: true, values: { a: 1n, b: 2n, c: 3n, d: 4n } });
  });

  it('keeps at most maxTexts texts and still reads the rest', () => {
    let calls = 0;
    const readings = new VersionFileReadings(2, (text, mappings) => {
      calls += 1;
      return parseVersionFile(text, mappings);
    });
    const texts = [1, 2, 3].map((n) => `a: ${n}\nb: 2\nc: 3\nd: 4\n`);
    for (const text of [...texts, ...texts]) readings.read(text, scalars);
    // The first two are kept; the third is parsed each time it comes.
    expect(calls).toBe(4);
    expect(readings.read(texts[2] as string, scalars)).toEqual({ ok: true, values: { a: 3n, b: 2n, c: 3n, d: 4n } });
  });
});
