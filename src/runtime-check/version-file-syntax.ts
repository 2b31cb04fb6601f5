/**
 * Rules of the version file's syntax that the yaml package and PyYAML (the DAG's reader) apply
 * differently, checked on the yaml package's concrete syntax tree, where offsets and indicators
 * are still in sight. Each rule refuses what one of the two readers would read otherwise; the
 * DAG's reader (templates/dag/gpu_cicd_lib/version_file.py read_version_document) refuses the same.
 */
import type { CST } from 'yaml';

/** The one directive allowed, as the DAG's reader matches it (gpu_cicd_lib.version_file _VERSION_DIRECTIVE). */
const VERSION_DIRECTIVE = /^%YAML +1\.[12](?: +(?:#.*)?)?\r?$/;

/** PyYAML drops a possible implicit key that runs longer than this to its ":" (as YAML says). */
const MAX_IMPLICIT_KEY = 1024;

/** The first rule the tokens break, in words for the user; undefined when they break none. */
export function syntaxProblem(text: string, tokens: readonly CST.Token[]): string | undefined {
  const directives = tokens.filter((token) => token.type === 'directive');
  // PyYAML and the yaml package differ on versions, repeats, unknown names and what may follow:
  // one plain version line at most.
  const directive = directives.find((token, i) => i > 0 || !VERSION_DIRECTIVE.test(token.source));
  if (directive !== undefined) {
    return `the directive ${JSON.stringify(directive.source.slice(0, 40))} is not allowed (a version file needs none)`;
  }
  for (const token of walk(tokens)) {
    const problem = tokenProblem(text, token);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function tokenProblem(text: string, token: CST.Token): string | undefined {
  // Any tag, also one the yaml package reads and then leaves out of the document (`!:`).
  if (token.type === 'tag') return `the tag ${tagName(token.source)} is not allowed (write plain values)`;
  if (token.type === 'anchor' || token.type === 'alias') {
    // PyYAML's names: the yaml package allows any character but spaces and ,[]{}.
    const name = token.source.slice(1);
    if (!/^[0-9A-Za-z_-]+$/.test(name)) {
      return `the anchor name ${JSON.stringify(name)} is not allowed (use letters, digits, "_" and "-")`;
    }
    // The yaml package ends a name at "[" or "{", PyYAML refuses it.
    const next = text[token.offset + token.source.length];
    if (next === '[' || next === '{') return `line ${lineOf(text, token.offset)}: ${token.source} needs a space before "${next}"`;
  }
  if (token.type === 'block-map' || token.type === 'flow-collection') {
    for (const item of token.items) {
      const problem = keyProblem(text, item, token.type === 'block-map');
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

function keyProblem(text: string, item: CST.CollectionItem, block: boolean): string | undefined {
  const colon = item.sep?.find((token) => token.type === 'map-value-ind');
  if (colon === undefined) {
    // After a "? key" line the yaml package takes a line without ":" for the value, then drops it.
    if (block && item.value) return `line ${lineOf(text, item.value.offset)}: a value needs a ":" before it`;
    return undefined;
  }
  const explicit = item.start.find((token) => token.type === 'explicit-key-ind');
  if (explicit !== undefined) {
    // PyYAML wants the ":" of a "?" key on a line of its own, under the "?".
    if (block && column(text, colon.offset) !== column(text, explicit.offset)) {
      return `line ${lineOf(text, colon.offset)}: the ":" of a "?" key must stand in the "?"'s column, at the start of its line`;
    }
    return undefined;
  }
  const props = item.start.find((token) => token.type === 'anchor' || token.type === 'tag');
  const start = props?.offset ?? item.key?.offset ?? colon.offset;
  // PyYAML (and YAML) want an implicit key on one line with its ":"; the yaml package not in [...] or {...}.
  if (text.slice(start, colon.offset).includes('\n')) {
    return `line ${lineOf(text, start)}: a key and its ":" must be on one line (or write the key after "? ")`;
  }
  // PyYAML counts characters (code points), JavaScript UTF-16 units.
  if (colon.offset - start > MAX_IMPLICIT_KEY && [...text.slice(start, colon.offset)].length > MAX_IMPLICIT_KEY) {
    return `line ${lineOf(text, start)}: a key runs over ${MAX_IMPLICIT_KEY} characters (use a shorter key)`;
  }
  return undefined;
}

/** A tag as PyYAML names it: "!!" is tag:yaml.org,2002:, "!<...>" verbatim (%TAG is refused). */
function tagName(source: string): string {
  if (source.startsWith('!<') && source.endsWith('>')) return source.slice(2, -1);
  return source.startsWith('!!') ? `tag:yaml.org,2002:${source.slice(2)}` : source;
}

/** Every token of the tree, depth first in document order; a loop, as trees may nest deeply. */
function* walk(root: unknown): Generator<CST.Token> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
      continue;
    }
    if ('type' in value) yield value as CST.Token;
    const children = Object.values(value).filter((child) => child !== null && typeof child === 'object');
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}

/** The 0-based column of an offset; a byte order mark at the start takes none (as in PyYAML). */
function column(text: string, offset: number): number {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  return offset - (start === 0 && text.startsWith('\ufeff') ? 1 : start);
}

/** The 1-based line of an offset: lines end at LF (a lone CR is refused before parsing). */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}
