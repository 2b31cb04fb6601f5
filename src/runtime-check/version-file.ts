/**
 * The version file read from a GPU server, read exactly as the DAG reads it (templates/dag/
 * gpu_cicd_lib/version_file.py read_version_document): one rule, documented in the README ("Variable
 * values"), held to by test/fixtures/version-yaml-corpus.json on both sides and checked by
 * differential fuzzing against the DAG's reader (test/fuzz, test/python/dag/test_version_fuzz.py).
 *
 * The rule: one YAML document whose top level is a mapping; no tags, no merge keys, no duplicate
 * keys, only string keys, no plain "=", no tabs, lone CRs, NEL/LS/PS or inner byte order marks,
 * and VERSION_FILE_LIMITS on aliases, nesting and number length; none of the forms PyYAML reads
 * otherwise than YAML does (version-file-syntax.ts and the checks below name each). Timestamps and
 * base-60 numbers (1:30) stay text. Every other plain scalar resolves as PyYAML's SafeLoader
 * resolves it (YAML 1.1: `yes` is true, `010` is 8, `1e3` is text): the DAG writes the Variables
 * from those values. Integers are exact (bigint), floats are numbers; the yaml package only parses
 * the structure here, its schemas resolve nothing.
 */
import {
  Composer as YamlComposer,
  type CST,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Parser,
  Scalar,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { VERSION_FILE_LIMITS } from '../config/validators.js';
import { lineOf, syntaxProblem } from './version-file-syntax.js';
import type { ResolvedConfig } from '../config/resolved.js';

export type VariableMapping = ResolvedConfig['versionFile']['variables'][number];
export type ValueType = VariableMapping['type'];
/** A scalar a Variable can hold: integers as bigint (exact), floats as number. */
export type VersionValue = string | boolean | bigint | number;
/** Mappings are Maps: they keep the document's key order, as the DAG's dicts do, and any key is data. */
export type YamlValue = VersionValue | null | YamlValue[] | YamlMap;
export type YamlMap = Map<string, YamlValue>;

/** Aliases a version file may use; a handful is plenty for four scalars. */
export const MAX_ALIAS_COUNT = VERSION_FILE_LIMITS.maxAliases;

export type VersionFileResult = { ok: true; values: Record<string, VersionValue> } | { ok: false; reason: string };

export type VersionDocumentResult = { ok: true; document: YamlMap } | { ok: false; reason: string };

class Refused extends Error {}

// PyYAML 6's implicit resolvers (yaml/resolver.py), without the base-60 forms, which stay text.
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const TRUE = /^(?:yes|true|on)$/i;
const NULL = /^(?:~|null|Null|NULL|)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$/;
/** Plain scalars PyYAML gives tags it cannot construct (merge, value, yaml): refused. */
const UNCONSTRUCTABLE = new Set(['<<', '=', '!', '&', '*']);
/** What PyYAML's reader refuses (yaml/reader.py NON_PRINTABLE). */
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/** The value of a plain scalar, as PyYAML's SafeLoader constructs it. */
export function resolvePlain(text: string, limits = VERSION_FILE_LIMITS): VersionValue | null {
  if (UNCONSTRUCTABLE.has(text)) throw new Refused(`the plain value ${JSON.stringify(text)} is not allowed (quote it)`);
  if (BOOL.test(text)) return TRUE.test(text);
  if (NULL.test(text)) return null;
  const isFloat = FLOAT.test(text);
  if (!isFloat && !INT.test(text)) return text;
  if (text.length > limits.maxNumberChars) throw new Refused(`a number longer than ${limits.maxNumberChars} characters`);
  let value = text.replace(/_/g, '');
  const sign = value.startsWith('-') ? -1 : 1;
  if (value.startsWith('-') || value.startsWith('+')) value = value.slice(1);
  if (isFloat) {
    value = value.toLowerCase();
    if (value === '.inf') return sign * Infinity;
    if (value === '.nan') return NaN;
    return sign * Number(value);
  }
  let magnitude: bigint;
  if (value === '0') magnitude = 0n;
  else if (value.startsWith('0b') || value.startsWith('0x')) {
    // PyYAML's int('', 2) fails on "0b_" with a ValueError: refused on both sides.
    if (value.length === 2) throw new Refused(`${JSON.stringify(text)} is not a number`);
    magnitude = BigInt(value);
  } else if (value.startsWith('0')) magnitude = BigInt(`0o${value.slice(1)}`);
  else magnitude = BigInt(value);
  return sign < 0 ? -magnitude : magnitude;
}

/** Parses a version file under the shared rule; the reason names what is refused. */
export function readVersionDocument(text: string, limits = VERSION_FILE_LIMITS): VersionDocumentResult {
  const bad = NOT_PRINTABLE.exec(text);
  if (bad) {
    const code = bad[0].codePointAt(0) ?? 0;
    return { ok: false, reason: `unacceptable character #x${code.toString(16).padStart(4, '0')}` };
  }
  // Characters on which YAML readers disagree (PyYAML's line breaks of YAML 1.1 only, its refusal
  // of most tabs, a lone CR as a line break, a byte order mark past the start): refused outright.
  if (/[\x85\u2028\u2029]/.test(text)) return { ok: false, reason: 'contains a line break of YAML 1.1 only (NEL, LS or PS)' };
  if (text.includes('\t')) return { ok: false, reason: 'contains a tab (indent with spaces; write "\\t" inside double quotes)' };
  if (/\r(?!\n)/.test(text)) return { ok: false, reason: 'contains a carriage return that does not end a CRLF line' };
  if (text.indexOf('\ufeff', 1) >= 0) return { ok: false, reason: 'contains a byte order mark after the start' };
  // Read as if the file ended with a line break, as most do: a block value on the last line then
  // ends with one (PyYAML drops it there, the yaml package keeps it). A line of only spaces reads
  // as an empty line: inside a | or > value PyYAML keeps the spaces past the value's indentation,
  // the yaml package does not when no text follows.
  const source = (text.endsWith('\n') ? text : `${text}\n`).replace(/(^|\n) +(?=\r?\n|$)/g, '$1');
  let parsed;
  try {
    parsed = parseOne(source);
  } catch (error) {
    return { ok: false, reason: `not parseable YAML: ${firstLine(error)}` };
  }
  if (parsed === null) return { ok: false, reason: 'contains more than one document (remove the "---" or "..." lines after the first)' };
  const { doc, tokens } = parsed;
  const syntax = syntaxProblem(source, tokens);
  if (syntax !== undefined) return { ok: false, reason: syntax };
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) return { ok: false, reason: explain(source, problem) };
  let value: YamlValue;
  try {
    value = new Composer(source, limits).node(doc.contents, 1);
  } catch (error) {
    if (error instanceof Refused || error instanceof RangeError) return { ok: false, reason: firstLine(error) };
    throw error;
  }
  if (!(value instanceof Map)) return { ok: false, reason: `expected a mapping of keys to values, found ${describe(value)}` };
  return { ok: true, document: value };
}

/**
 * parseDocument, keeping the concrete syntax tree for syntaxProblem: the structure only, every
 * scalar stays text here and is resolved by resolvePlain. Null when the text holds more than one
 * document.
 */
function parseOne(text: string): { doc: Document; tokens: CST.Token[] } | null {
  const tokens: CST.Token[] = [];
  function* kept(source: Iterable<CST.Token>): Generator<CST.Token> {
    for (const token of source) {
      tokens.push(token);
      yield token;
    }
  }
  const composer = new YamlComposer({
    version: '1.1',
    schema: 'failsafe',
    customTags: [],
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: false,
    strict: true,
    prettyErrors: false,
  });
  const docs = [...composer.compose(kept(new Parser().parse(text)), true, text.length)];
  return docs.length === 1 ? { doc: docs[0]!, tokens } : null;
}

/**
 * A quoted value or flow collection whose continuation line is not indented past its key or "-"
 * breaks YAML's indentation rule: the yaml package ends it there (an unclosed quote or
 * collection), PyYAML would read on; the DAG's reader refuses it with this same reason.
 */
function unindented(line: number, what: string): string {
  return (
    `${what} is not closed before line ${line}, which is not indented past its key or "-" ` +
    '(close it, or indent each of its continuation lines further)'
  );
}

/** The refusal for a problem the yaml package found, in the words the DAG's reader uses. */
function explain(text: string, problem: YAMLError): string {
  const message = firstLine(problem).replace(/ at line \d+, column \d+:?$/, '');
  // Where the yaml package stopped reading: more text after it means an unindented line, not
  // the end of the file.
  const at = problem.pos[0];
  const more = text.slice(at).trim() !== '';
  if (more && problem.code === 'BAD_INDENT' && /^Flow (sequence|map) in block collection/.test(message)) {
    return unindented(lineOf(text, at), 'a flow collection ([...] or {...})');
  }
  if (more && problem.code === 'MISSING_CHAR' && /^Missing closing .quote/.test(message)) {
    // The value's source ends at the line break before the unindented line.
    return unindented(lineOf(text, at) + 1, 'a quoted value');
  }
  if (message.startsWith('Comments must be separated from other tokens')) {
    return `line ${lineOf(text, at)}: a comment must be separated from the value before it by a space`;
  }
  const column = at - text.lastIndexOf('\n', at - 1);
  return `invalid YAML: ${message} (line ${lineOf(text, at)}, column ${column})`;
}

/**
 * Escapes in a double-quoted value the readers decode differently: a \\u escape of a UTF-16
 * surrogate (PyYAML keeps two code points where the yaml package joins a pair into one
 * character), and a "\\" ending a line followed by an empty line (the yaml package folds the empty
 * line). lineAt gives the line of an offset in source.
 */
function escapeProblem(source: string, lineAt: (offset: number) => number): string | undefined {
  for (const match of source.matchAll(/\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|\r?\n( *\r?\n)?|[\s\S])/g)) {
    const code = Number.parseInt(match[1] ?? match[2] ?? 'x', 16);
    if (code >= 0xd800 && code <= 0xdfff) {
      return `the escape ${match[0]} is half of a UTF-16 surrogate pair (write the character itself, or \\U0001F600 for one past U+FFFF)`;
    }
    if (match[3] !== undefined) {
      return `line ${lineAt(match.index)}: a "\\" at the end of a line inside double quotes is followed by an empty line (write "\\n" for a line break)`;
    }
  }
  return undefined;
}

const INDICATOR_IN_FLOW = 'a plain value inside [...] or {...} starts with ":" or holds "?" (quote it)';

/** Walks the parsed nodes in document order as PyYAML's composer does, applying the limits. */
class Composer {
  private aliases = 0;
  private readonly open = new Set<string>();
  private readonly anchors = new Map<string, YamlValue>();
  /** How many flow collections ([...] or {...}) enclose the node being composed. */
  private flowLevel = 0;

  constructor(
    private readonly text: string,
    private readonly limits: typeof VERSION_FILE_LIMITS,
  ) {}

  node(node: unknown, depth: number): YamlValue {
    if (isAlias(node)) {
      this.aliases += 1;
      if (this.aliases > this.limits.maxAliases) throw new Refused(`more than ${this.limits.maxAliases} aliases`);
      if (this.open.has(node.source)) throw new Refused('an alias inside its own anchored value (a cycle)');
      if (!this.anchors.has(node.source)) throw new Refused(`found undefined alias ${JSON.stringify(node.source)}`);
      return this.anchors.get(node.source) as YamlValue;
    }
    if (node === null || node === undefined) return depth > this.limits.maxDepth ? this.tooDeep() : null;
    const anchored = node as Node;
    if (anchored.tag !== undefined) throw new Refused(`the tag ${anchored.tag} is not allowed (write plain values)`);
    if (depth > this.limits.maxDepth) return this.tooDeep();
    const anchor = anchored.anchor;
    if (anchor !== undefined) {
      if (this.anchors.has(anchor) || this.open.has(anchor)) throw new Refused(`found duplicate anchor ${JSON.stringify(anchor)}`);
      this.open.add(anchor);
    }
    const value = this.compose(anchored, depth);
    if (anchor !== undefined) {
      this.open.delete(anchor);
      this.anchors.set(anchor, value);
    }
    return value;
  }

  private compose(node: Node, depth: number): YamlValue {
    if (isScalar(node)) return this.scalar(node);
    const flow = (isSeq(node) || isMap(node)) && node.flow === true;
    if (flow) this.flowLevel += 1;
    try {
      if (isSeq(node)) {
        // A `key: value` pair inside a flow sequence is a one-pair mapping, as PyYAML reads it.
        return node.items.map((item) => (isPair(item) ? this.mapping([item], depth + 1) : this.node(item, depth + 1)));
      }
      if (isMap(node)) return this.mapping(node.items, depth);
    } finally {
      if (flow) this.flowLevel -= 1;
    }
    throw new Refused('an unsupported YAML node');
  }

  private scalar(node: Scalar): YamlValue {
    const text = String(node.value);
    if (node.type === Scalar.PLAIN) {
      // Inside [...] or {...} PyYAML ends a plain value at "?" and takes a leading ":" for an
      // indicator; the yaml package reads both as text.
      if (this.flowLevel > 0 && (text.includes('?') || text.startsWith(':'))) throw new Refused(INDICATOR_IN_FLOW);
      return resolvePlain(text, this.limits);
    }
    const [start, end] = node.range ?? [0, 0];
    const source = this.text.slice(start, end);
    // The yaml package takes an escaped quote before an unindented line for the closing one.
    const closed = node.type === Scalar.QUOTE_DOUBLE ? /^"(?:[^"\\]|\\[\s\S])*"$/ : /^'(?:[^']|'')*'$/;
    if ((node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) && !closed.test(source)) {
      throw new Refused(unindented(lineOf(this.text, end) + 1, 'a quoted value'));
    }
    if (node.type === Scalar.QUOTE_DOUBLE) {
      const problem = escapeProblem(source, (offset) => lineOf(this.text, start + offset));
      if (problem) throw new Refused(problem);
    }
    return text;
  }

  private mapping(items: ReadonlyArray<{ key: unknown; value: unknown }>, depth: number): YamlMap {
    const result: YamlMap = new Map();
    for (const item of items) {
      if (isAlias(item.key)) throw new Refused('an alias as a mapping key is not allowed');
      const key = this.node(item.key, depth + 1);
      if (typeof key !== 'string') throw new Refused(`the key ${describe(key)} is not a string (quote it)`);
      if (result.has(key)) throw new Refused(`duplicate key ${JSON.stringify(key)}`);
      result.set(key, this.node(item.value, depth + 1));
    }
    return result;
  }

  private tooDeep(): never {
    throw new Refused(`nested more than ${this.limits.maxDepth} levels deep`);
  }
}

export function parseVersionFile(text: string, mappings: readonly VariableMapping[]): VersionFileResult {
  const read = readVersionDocument(text);
  if (!read.ok) return read;
  const map = read.document;
  const problems: string[] = [];
  const values: Record<string, VersionValue> = {};
  for (const mapping of mappings) {
    if (!map.has(mapping.key)) {
      problems.push(`missing key "${mapping.key}"`);
      continue;
    }
    const found = map.get(mapping.key);
    if (!hasType(found, mapping.type)) {
      problems.push(`"${mapping.key}" should be ${article(mapping.type)}, found ${describe(found)}`);
      continue;
    }
    values[mapping.key] = found;
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return { ok: true, values };
}

/**
 * The readings of the version files of one run, by text and variable mappings: a fleet on one
 * commit holds the same bytes on every server, and the same text under the same mappings always
 * reads the same (parseVersionFile is pure), so each distinct file is parsed once instead of once
 * per server. Bounded: past maxTexts distinct texts a file is parsed without being kept.
 */
export class VersionFileReadings {
  private readonly byMappings = new WeakMap<readonly VariableMapping[], Map<string, VersionFileResult>>();
  private texts = 0;

  constructor(
    private readonly maxTexts = 64,
    private readonly parse: typeof parseVersionFile = parseVersionFile,
  ) {}

  read(text: string, mappings: readonly VariableMapping[]): VersionFileResult {
    let known = this.byMappings.get(mappings);
    const cached = known?.get(text);
    if (cached) return cached.ok ? { ok: true, values: { ...cached.values } } : cached;
    const result = this.parse(text, mappings);
    if (this.texts < this.maxTexts) {
      if (!known) {
        known = new Map();
        this.byMappings.set(mappings, known);
      }
      known.set(text, result.ok ? { ok: true, values: { ...result.values } } : result);
      this.texts += 1;
    }
    return result;
  }
}

export function hasType(value: unknown, type: ValueType): value is VersionValue {
  const isNumber = typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value));
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return isNumber;
    case 'integer':
      return typeof value === 'bigint';
    case 'boolean':
      return typeof value === 'boolean';
    case 'scalar':
      return typeof value === 'string' || typeof value === 'boolean' || isNumber;
  }
}

/**
 * The Airflow Variable text the DAG writes for a value (gpu_cicd_lib.version_file variable_text): strings
 * as they are, booleans as true/false, integers with every digit, floats as String(n).
 */
export function variableText(value: VersionValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

function article(type: ValueType): string {
  return type === 'integer' ? 'an integer' : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a mapping';
  if (typeof value === 'bigint') return `integer ${truncate(value.toString(), 40)}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `float ${String(value)}` : String(value);
  return `${typeof value} ${truncate(JSON.stringify(value), 40)}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return truncate(message.split('\n')[0] ?? '', 200);
}
