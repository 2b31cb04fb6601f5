/**
 * Safe YAML reading with positions: core schema only (no custom tags), bounded aliases and size,
 * and a way back from a dotted path to the line:column it came from.
 */
import { LineCounter, isCollection, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import type { ConfigIssue } from '../errors.js';

export const MAX_CONFIG_BYTES = 1_048_576;
const MAX_ALIASES = 100;

export type PathSegment = string | number;

/** A scalar as written in the file: its text, and whether it was quoted. */
export interface ScalarSource {
  text: string;
  quoted: boolean;
}

export interface YamlSource {
  file: string;
  value: unknown;
  /** Line and column of the deepest node that exists along `path`. */
  locate(path: PathSegment[]): { line: number; column: number } | undefined;
  /** The scalar at exactly `path`, as written; undefined when there is none. */
  scalarAt(path: PathSegment[]): ScalarSource | undefined;
}

/** The parser's message for a [ ... ] or { ... } that is never closed, with the missing bracket. */
function unclosedBracket(error: YAMLError): string | undefined {
  return /end with a ([\]}])$/.exec(error.message.split('\n')[0] ?? '')?.[1];
}

/**
 * Where an unclosed [ or { opens: the parser reports the line where it gave up (the next key), but
 * the recovered document keeps the flow collection, ending where the error is; the innermost one
 * that ends there is the bracket left open (PyYAML's "while parsing a flow sequence ... line N").
 */
function unclosedStart(doc: Document, error: YAMLError): number | undefined {
  let start: number | undefined;
  visit(doc, {
    Node(_, node) {
      const kind = unclosedBracket(error) === ']' ? isSeq(node) : isMap(node);
      if (kind && isCollection(node) && node.flow && node.range && node.range[1] === error.pos[0]) {
        if (start === undefined || node.range[0] > start) start = node.range[0];
      }
    },
  });
  return start;
}

/**
 * The error to lead with when a bracket is left open before the first error: that bracket (the
 * innermost one), at its own position; what the parser reports first there (a missing comma, a
 * key it did not expect) is only its consequence.
 */
function headlineError(doc: Document, errors: readonly YAMLError[]): { error: YAMLError; offset: number } | undefined {
  const first = errors[0];
  if (!first) return undefined;
  let best: { error: YAMLError; offset: number } | undefined;
  for (const error of errors) {
    if (unclosedBracket(error) === undefined) continue;
    const offset = unclosedStart(doc, error);
    if (offset !== undefined && offset <= first.pos[0] && (!best || offset > best.offset)) best = { error, offset };
  }
  return best;
}

/** What a few of the parser's messages mean for someone editing the file. */
function explainYamlError(error: YAMLError): string {
  const first = error.message.split('\n')[0] ?? error.message;
  const closing = unclosedBracket(error);
  if (closing) {
    const [open, what] = closing === ']' ? ['[', 'list'] : ['{', 'mapping'];
    return `the ${open} ... ${closing} ${what} that starts here is not closed with "${closing}" (or its lines are not indented enough)`;
  }
  if (error.code === 'DUPLICATE_KEY') return 'this key appears twice in the same mapping; keep one';
  if (error.code === 'TAB_AS_INDENT') return 'a tab is used for indentation; YAML allows only spaces';
  return first;
}

export function parseYamlSource(file: string, text: string): { source?: YamlSource; issues: ConfigIssue[] } {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    return { issues: [{ path: '', message: `file is larger than ${MAX_CONFIG_BYTES} bytes` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, schema: 'core', uniqueKeys: true, prettyErrors: false });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // The parser recovers badly from a structural error: one missing "]" gives a dozen errors on the
  // lines after it. Report the first, plus duplicate keys (always real), and count the rest.
  const errors = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0]);
  const headline = headlineError(doc, errors);
  const shown = errors.filter((error, index) => index === 0 || error.code === 'DUPLICATE_KEY');
  const hidden = errors.length - shown.length;
  const issues: ConfigIssue[] = shown.map((error, index) => ({
    path: '',
    message:
      `YAML: ${explainYamlError(index === 0 && headline ? headline.error : error)}` +
      (index === 0 && hidden > 0
        ? ` (${hidden} more YAML error${hidden === 1 ? '' : 's'} after it, probably caused by it: fix this one first)`
        : ''),
    ...position(index === 0 && headline ? headline.offset : error.pos[0]),
  }));
  if (issues.length > 0) return { issues };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    return { issues: [{ path: '', message: `YAML: ${(error as Error).message}` }] };
  }
  return {
    issues,
    source: {
      file,
      value,
      locate: (path) => locateNode(doc, path, position),
      scalarAt: (path) => {
        const node = doc.getIn(path, true);
        if (!isScalar(node) || !node.range) return undefined;
        return { text: text.slice(node.range[0], node.range[1]), quoted: node.type !== 'PLAIN' };
      },
    },
  };
}

function locateNode(
  doc: Document,
  path: PathSegment[],
  position: (offset: number) => { line: number; column: number },
): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let found = node as Node | undefined;
  // Where a path stops short (a missing key), point at the deepest entry found: its key, or the
  // list item itself.
  let lastKey: Node | undefined;
  let complete = true;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === segment);
      if (!pair) {
        complete = false;
        break;
      }
      lastKey = pair.key as Node;
      // Point at the key for a null value, at the value otherwise.
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      lastKey = node as Node;
    } else {
      complete = false;
      break;
    }
    found = node as Node;
  }
  if (!complete && lastKey) found = lastKey;
  const range = found?.range;
  return range ? position(range[0]) : undefined;
}
