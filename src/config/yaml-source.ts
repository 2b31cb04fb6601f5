/**
 * Safe YAML reading with positions: core schema only (no custom tags), bounded aliases and size,
 * and a way back from a dotted path to the line:column it came from.
 */
import { LineCounter, isMap, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.js';

export const MAX_CONFIG_BYTES = 1_048_576;
const MAX_ALIASES = 100;

export type PathSegment = string | number;

export interface YamlSource {
  file: string;
  value: unknown;
  /** Line and column of the deepest node that exists along `path`. */
  locate(path: PathSegment[]): { line: number; column: number } | undefined;
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
  const issues: ConfigIssue[] = [...doc.errors, ...doc.warnings].map((error) => ({
    path: '',
    message: `YAML: ${error.message.split('\n')[0]}`,
    ...position(error.pos[0]),
  }));
  if (issues.length > 0) return { issues };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    return { issues: [{ path: '', message: `YAML: ${(error as Error).message}` }] };
  }
  return { issues, source: { file, value, locate: (path) => locateNode(doc, path, position) } };
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
