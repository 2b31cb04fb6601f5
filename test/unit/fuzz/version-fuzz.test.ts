/**
 * The version.yaml fuzzer itself (test/fuzz): its documents reproduce from the seed, cover what
 * the generator promises, mostly reach the value path, and a disagreement is reported with what
 * reproduces it. The fuzzing against PyYAML runs in test/python/dag/test_version_fuzz.py.
 */
import { describe, expect, it } from 'vitest';
import { agree, checkAnswer, describeDisagreement, fuzzVersionReaders, type Answer, typed } from '../../fuzz/version-fuzz.js';
import { generateDocument, generateDocuments } from '../../fuzz/version-yaml-generator.js';

const SAMPLE = generateDocuments(7, 4000);

describe('the version.yaml generator', () => {
  it('gives the same documents for the same seed and index, others for another seed', () => {
    expect(generateDocuments(7, 200)).toEqual(SAMPLE.slice(0, 200));
    expect(generateDocument(7, 123)).toBe(SAMPLE[123]);
    expect(generateDocuments(8, 200)).not.toEqual(SAMPLE.slice(0, 200));
  });

  it.each([
    ['a block mapping', /^\w+:/m],
    ['a nested block sequence', /\n +- /],
    ['an indentless sequence', /:\n- /],
    ['a flow sequence', /\[[^\]]*,/],
    ['a flow mapping', /\{[^}]*: /],
    ['a flow collection over lines', /[[{][^\]}]*\n/],
    ['a single-quoted value', /: '/],
    ['an escaped single quote', /''/],
    ['a double-quoted value', /: "/],
    ['a literal block', /: \|\n/],
    ['a folded block', /: >\n/],
    ['a strip or keep indicator', /[|>][-+]/],
    ['an indentation indicator', /[|>][1-9]/],
    ['a continuation line at column 0', /: "[^"\n]*\n[^ \n]/],
    ['a continuation line at the key column', /\n( +)[\w-]+: (?:"[^"\n]*|'[^'\n]*|\[[^\]\n]*|\{[^}\n]*)\n\1\S/],
    ['an anchor', /&[\w-]+ /],
    ['an alias', /\*[\w-]+/],
    ['a tag', /!!str /],
    ['a local tag', /!x /],
    ['a verbatim tag', /!<tag:yaml.org,2002:str>/],
    ['a comment', / # /],
    ['a comment line', /^\s*#/m],
    ['a binary number', /: [-+]?0b[01_]+\n/],
    ['a hexadecimal number', /: [-+]?0x[0-9a-fA-F_]+\n/],
    ['an octal number', /: [-+]?0[0-7_]+\n/],
    ['an 0o number', /: [-+]?0o[0-7]/],
    ['an underscored number', /: [-+]?[1-9][0-9]*_[0-9_]*\n/],
    ['a base-60 number', /: [-+]?\d+:\d+\n/],
    ['.inf', /\.inf/i],
    ['.NaN', /\.nan/i],
    ['an exponent without a dot', /: [-+]?\d+[eE][-+]?\d+\n/],
    ['an exponent with a dot and sign', /: [-+]?\d+\.\d*[eE][-+]\d+\n/],
    ['yes/No/ON/off', /: (?:yes|No|ON|off)\n/],
    ['y/n', /: [yYnN]\n/],
    ['~', /: ~\n/],
    ['a date', /: \d{4}-\d\d-\d\d\n/],
    ['a date and time', /: \d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d/],
    ['a CRLF line break', /\r\n/],
    ['a lone CR', /\r(?!\n)/],
    ['NEL, LS or PS', /[\x85\u2028\u2029]/],
    ['a byte order mark at the start', /^\ufeff/],
    ['a byte order mark inside', /.\ufeff/s],
    ['a tab', /\t/],
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
    ['a non-printable character', /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]/],
    ['a document start marker', /^---/m],
    ['a document end marker', /^\.\.\./m],
    ['a %YAML directive', /^%YAML 1\.[12]\n/],
    ['an odd %YAML directive', /^%YAML (?:1\.3|2\.0)/m],
    ['a %TAG directive', /^%TAG /],
    ['a second document', /\n---\n\S/],
    ['an empty document', /^(?:---\n)?\.\.\.\n/],
    ['a key over 1024 characters', /k{1025}/],
    ['a non-ASCII value', /[^\p{ASCII}]/u],
    ['an escaped surrogate', /\\ud[89ab]/],
    ['an escaped astral character', /\\U0001[fF]600/],
    ['an escaped NEL', /\\x85/],
  ])('writes %s', (_name, pattern) => {
    expect(SAMPLE.some((document) => pattern.test(document))).toBe(true);
  });

  it('gives documents the check reader mostly accepts, so that most reach the value path', () => {
    const accepted = SAMPLE.filter((document) => {
      const answer = checkAnswer(document);
      return 'ok' in answer && answer.ok;
    }).length;
    expect(accepted / SAMPLE.length).toBeGreaterThan(0.55);
    expect(accepted / SAMPLE.length).toBeLessThan(0.9);
  });
});

describe('the differential runner', () => {
  it('agrees only on the same verdict and the same typed value', () => {
    const value = (document: string) => checkAnswer(document);
    expect(agree(value('a: 1\n'), value('a: 0x1\n'))).toBe(true);
    expect(agree(value('a: 1\n'), value('a: "1"\n'))).toBe(false);
    expect(agree(value('a: 1.0\n'), value('a: 1\n'))).toBe(false);
    expect(agree(value('a: 0.0\n'), value('a: -0.0\n'))).toBe(false);
    expect(agree(value('a: .nan\n'), value('a: .NaN\n'))).toBe(true);
    expect(agree(value('a: 1\nb: 2\n'), value('b: 2\na: 1\n'))).toBe(false);
    expect(agree(value('a: [\n'), value('a: "\n'))).toBe(true);
    expect(agree({ crash: 'TypeError' }, { crash: 'TypeError' })).toBe(false);
  });

  it('tells an astral character from two escaped surrogates, as Python does', () => {
    expect(typed('😀')).toBe('\\u{1f600}');
    expect(typed('\ud83d')).toBe('\\u{d83d}');
    expect(typed(new Map([['k', 12345678901234567890n]]))).toEqual({ map: [['k', { int: '12345678901234567890' }]] });
  });

  it('reports each disagreement with its seed, index and document', async () => {
    // A stand-in for the DAG's reader that accepts every document with one value.
    const disagreeing = async (documents: readonly string[]): Promise<Answer[]> => documents.map(() => ({ ok: true, value: 'x' }));
    const report = await fuzzVersionReaders(7, 50, disagreeing);
    expect(report.count).toBe(50);
    expect(report.disagreements.length).toBe(50 - report.accepted - report.refused);
    expect(report.disagreements.length).toBeGreaterThan(40);
    const first = report.disagreements[0]!;
    expect(first.document).toBe(generateDocument(7, first.index));
    const shown = describeDisagreement(7, first);
    expect(shown).toContain(`seed 7, document ${first.index}`);
    expect(shown).toContain(JSON.stringify(first.document));
    expect(shown).toContain('DAG (PyYAML):       {"ok":true,"value":"x"}');
  });

  it('finds no disagreement between a reader and itself', async () => {
    const same = async (documents: readonly string[]): Promise<Answer[]> => documents.map(checkAnswer);
    const report = await fuzzVersionReaders(9, 300, same);
    expect(report.disagreements).toEqual([]);
    expect(report.accepted + report.refused).toBe(300);
  });
});
