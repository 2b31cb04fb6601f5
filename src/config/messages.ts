/**
 * Config problems in the user's words: zod's issues ("Too small: expected number to be >0",
 * "expected record") become what the field needs ("expected a number greater than 0", "a mapping
 * of key: value pairs"), with "did you mean" for a misspelt key or value and a hint to quote a
 * YAML scalar that was read as a number or boolean where text was expected.
 */
import type { z } from 'zod';
import { closestName } from '../util/did-you-mean.js';
import type { ScalarSource } from './yaml-source.js';

type Issue = z.core.$ZodIssue;

/** What a value of each type is called in a message. */
const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of key: value pairs',
  record: 'a mapping of key: value pairs',
  null: 'null',
  nan: 'a number',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

/** What YAML made of a value, as the user would write it. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list (${shorten(JSON.stringify(value))})`;
  if (typeof value === 'object') return `a mapping (${shorten(JSON.stringify(value))})`;
  return shorten(JSON.stringify(value));
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function bound(issue: { inclusive?: boolean }, value: number | bigint, below: boolean): string {
  if (issue.inclusive === false) return `${below ? 'greater' : 'less'} than ${value}`;
  return below ? `at least ${value}` : `at most ${value}`;
}

function sizeMessage(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const below = issue.code === 'too_small';
  const limit = below ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  const n = Number(limit);
  switch (issue.origin) {
    case 'array':
    case 'set':
      return `expected ${below ? 'at least' : 'at most'} ${n} item${n === 1 ? '' : 's'}`;
    case 'string':
      if (below && n === 1) return 'must not be empty';
      return `expected ${below ? 'at least' : 'at most'} ${n} character${n === 1 ? '' : 's'}`;
    default:
      return `expected a number ${bound(issue, limit, below)}`;
  }
}

/** The expected types of a union's branches ("text or null"). */
function unionExpected(issue: Extract<Issue, { code: 'invalid_union' }>): string | undefined {
  const names = issue.errors.flatMap((branch) => {
    const first = branch[0];
    return first && first.code === 'invalid_type' && first.path.length === 0 ? [typeName(first.expected)] : [];
  });
  return names.length === issue.errors.length && names.length > 0 ? [...new Set(names)].join(' or ') : undefined;
}

function wantsText(issue: Issue): boolean {
  if (issue.code === 'invalid_type') return issue.expected === 'string';
  if (issue.code === 'invalid_value') return issue.values.every((v) => typeof v === 'string');
  if (issue.code === 'invalid_union') return unionExpected(issue)?.startsWith(TYPE_NAMES.string!) ?? false;
  return false;
}

/**
 * `; YAML reads 2.10 as the number 2.1: quote it, "2.10"` when a plain scalar that YAML typed as a
 * number or boolean sits where text is expected.
 */
function quoteHint(issue: Issue, found: unknown, scalar: ScalarSource | undefined): string {
  if (!scalar || scalar.quoted || !wantsText(issue)) return '';
  if (typeof found !== 'number' && typeof found !== 'boolean') return '';
  const kind = typeof found === 'number' ? 'number' : 'boolean';
  const read = String(found) === scalar.text ? '' : ` ${JSON.stringify(found)}`;
  return `; YAML reads the unquoted ${scalar.text} as the ${kind}${read}: quote it, "${scalar.text}"`;
}

export interface IssueContext {
  /** The value at the issue's path (undefined: missing). */
  found: unknown;
  /** Unknown keys beside a missing one, which may be it misspelt. */
  unknownSiblings?: readonly string[];
  /** How the value is written in the YAML file, when it is there. */
  scalar?: ScalarSource | undefined;
}

/** zod's own wording, as opposed to a message the schema gives (which already says what is expected). */
function isGenericMessage(message: string): boolean {
  return /^(Invalid|Too (small|big)|Unrecognized)/.test(message);
}

/** One message per zod issue (unknown keys are handled by the caller, one per key). */
export function issueMessage(issue: Issue, context: IssueContext): string {
  const { found } = context;
  const foundText = `; found ${describeFound(found)}`;
  if (!isGenericMessage(issue.message) && !(issue.code === 'invalid_type' && found === undefined)) {
    return `${issue.message}${foundText}${quoteHint(issue, found, context.scalar)}`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeName(issue.expected);
      if (found === undefined) {
        const key = issue.path.at(-1);
        const misspelt = typeof key === 'string' && context.unknownSiblings ? closestName(key, context.unknownSiblings) : undefined;
        return `missing: a value is required here (${expected})${misspelt ? `; is "${misspelt}" a misspelling of it?` : ''}`;
      }
      return `expected ${expected}${foundText}${quoteHint(issue, found, context.scalar)}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const listed = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      const asText = typeof found === 'number' ? (context.scalar?.text ?? String(found)) : typeof found === 'string' ? found : undefined;
      const near = asText === undefined ? undefined : closestName(asText, issue.values.map(String));
      const suggestion = near === undefined ? '' : `; did you mean "${near}"?`;
      return `expected ${listed}${foundText}${quoteHint(issue, found, context.scalar)}${suggestion}`;
    }
    case 'too_small':
    case 'too_big':
      return `${sizeMessage(issue)}${foundText}`;
    case 'invalid_format':
      if (issue.format === 'url') return `expected a URL such as https://s3.us-east-1.amazonaws.com${foundText}`;
      if (issue.format === 'regex') return `has the wrong format${foundText}`;
      return `expected ${issue.format}${foundText}`;
    case 'invalid_union': {
      const expected = unionExpected(issue);
      return `expected ${expected ?? 'another kind of value'}${foundText}${quoteHint(issue, found, context.scalar)}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}${foundText}`;
    default:
      return `${issue.message.replace(/^Invalid input: /, '')}${foundText}`;
  }
}

/** The message for a key the schema does not know at that place. */
export function unknownKeyMessage(key: string, knownKeys: readonly string[] | undefined): string {
  const near = knownKeys ? closestName(key, knownKeys) : undefined;
  if (near !== undefined) return `unknown key; did you mean "${near}"?`;
  const listed = knownKeys && knownKeys.length > 0 ? ` Allowed here: ${knownKeys.join(', ')}.` : '';
  return `unknown key; remove it or check its spelling.${listed}`;
}

interface ZodNode {
  _zod: {
    def: { type: string; innerType?: ZodNode; in?: ZodNode; shape?: Record<string, ZodNode>; element?: ZodNode; options?: ZodNode[] };
  };
}

function unwrap(node: ZodNode | undefined): ZodNode | undefined {
  let current = node;
  for (let i = 0; current && i < 20; i += 1) {
    const def = current._zod.def;
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!inner) return current;
    current = inner;
  }
  return current;
}

/** The keys an object schema allows at `path` (through defaults, optionals, lists and unions). */
export function knownKeysAt(schema: unknown, path: readonly (string | number)[]): string[] | undefined {
  let node = unwrap(schema as ZodNode);
  for (const segment of path) {
    if (!node) return undefined;
    const def = node._zod.def;
    if (def.type === 'object' && typeof segment === 'string') node = unwrap(def.shape?.[segment]);
    else if (def.type === 'array' && typeof segment === 'number') node = unwrap(def.element);
    else return undefined;
  }
  if (!node) return undefined;
  const def = node._zod.def;
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') {
    const objects = (def.options ?? []).map(unwrap).filter((o) => o?._zod.def.type === 'object');
    return objects.flatMap((o) => Object.keys(o!._zod.def.shape ?? {}));
  }
  return undefined;
}
