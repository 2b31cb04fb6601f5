/**
 * The runtime check reads every version file of the shared corpus exactly as the corpus says,
 * which is also what the DAG's reader gives (test/python/dag/test_dag_lib.py runs the same file).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION_FILE_LIMITS } from '../../../src/config/validators.js';
import { readVersionDocument, variableText, type YamlValue } from '../../../src/runtime-check/version-file.js';

interface Case {
  id: string;
  yaml: string;
  expect: 'refused' | Record<string, unknown>;
  /** For a refusal: a text both readers' reasons contain. */
  reason?: string;
}
const corpus = JSON.parse(readFileSync('test/fixtures/version-yaml-corpus.json', 'utf8')) as { limits: unknown; cases: Case[] };

/** The corpus's typed JSON: integers and floats carry their exact text. */
function typed(value: YamlValue): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return { int: value.toString() };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { float: 'nan' };
    if (!Number.isFinite(value)) return { float: value > 0 ? 'inf' : '-inf' };
    return { float: variableText(value) };
  }
  if (Array.isArray(value)) return value.map(typed);
  return Object.fromEntries([...value].map(([key, item]) => [key, typed(item)]));
}

describe('the version file corpus', () => {
  it('uses the limits the DAG is rendered with', () => {
    expect(corpus.limits).toEqual(VERSION_FILE_LIMITS);
    expect(corpus.cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(corpus.cases.map((c) => c.id)).size).toBe(corpus.cases.length);
  });

  it.each(corpus.cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const result = readVersionDocument(c.yaml);
    if (c.expect === 'refused') {
      expect(result.ok, JSON.stringify(result)).toBe(false);
      if (c.reason !== undefined && !result.ok) expect(result.reason).toContain(c.reason);
    } else {
      expect(result.ok ? typed(result.document) : result).toEqual(c.expect);
    }
  });
});
