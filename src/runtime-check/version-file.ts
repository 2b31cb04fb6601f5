/**
 * Validation of the version file read from a GPU server. The file comes from a machine we only
 * partly trust, so parsing is defensive: plain YAML 1.1 scalars only (an unknown tag such as
 * `!!python/object` is an error, not a string), no duplicate keys, one document, and alias
 * expansion bounded so that a "billion laughs" file fails fast instead of eating memory.
 */
import { parseDocument } from 'yaml';
import type { ResolvedConfig } from '../config/resolved.js';

export type VariableMapping = ResolvedConfig['versionFile']['variables'][number];
export type ValueType = VariableMapping['type'];
export type VersionValue = string | number | boolean;

/** Aliases a version file may expand; a handful is plenty for four scalars. */
export const MAX_ALIAS_COUNT = 10;

export type VersionFileResult =
  | { ok: true; values: Record<string, VersionValue> }
  | { ok: false; reason: string };

export function parseVersionFile(text: string, mappings: readonly VariableMapping[]): VersionFileResult {
  let doc;
  try {
    doc = parseDocument(text, {
      // YAML 1.1 scalars, as PyYAML's safe_load in the DAG reads them (`yes` is true, `0o7`
      // is a string, `010` is 8): the check must see the same values the DAG published.
      schema: 'yaml-1.1',
      customTags: [],
      // Otherwise the yaml package still honours YAML 1.1 tags such as !!binary and !!set.
      resolveKnownTags: false,
      version: '1.1',
      uniqueKeys: true,
      strict: true,
      prettyErrors: false,
    });
  } catch (error) {
    return { ok: false, reason: `not parseable YAML: ${firstLine(error)}` };
  }
  // Unresolved tags are only warnings to the yaml package (it falls back to a string); here any
  // warning is a refusal: the file must mean the same to every YAML reader.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) return { ok: false, reason: `invalid YAML: ${firstLine(problem)}` };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    return { ok: false, reason: `invalid YAML: ${firstLine(error)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: `expected a mapping of keys to values, found ${describe(value)}` };
  }
  const map = value as Record<string, unknown>;
  const problems: string[] = [];
  const values: Record<string, VersionValue> = {};
  for (const mapping of mappings) {
    if (!Object.prototype.hasOwnProperty.call(map, mapping.key)) {
      problems.push(`missing key "${mapping.key}"`);
      continue;
    }
    const found = map[mapping.key];
    if (!hasType(found, mapping.type)) {
      problems.push(`"${mapping.key}" should be ${article(mapping.type)}, found ${describe(found)}`);
      continue;
    }
    values[mapping.key] = found;
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return { ok: true, values };
}

export function hasType(value: unknown, type: ValueType): value is VersionValue {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'scalar':
      return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
  }
}

function article(type: ValueType): string {
  return type === 'integer' ? 'an integer' : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  // YAML 1.1's typed values (PyYAML's safe_load reads them too), which no Variable can hold as is.
  if (value instanceof Date) return 'a timestamp';
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Set) return 'a set';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return `${typeof value} ${truncate(JSON.stringify(value), 40)}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return truncate(message.split('\n')[0] ?? '', 200);
}
