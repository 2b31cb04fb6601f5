/**
 * Where a YAML error is reported, judged by PyYAML (the parser the DAG itself uses): for an
 * unclosed [ or {, the line and column of the bracket left open, which PyYAML names in its
 * "while parsing a flow sequence/mapping ... line N, column M". Generated documents: block
 * mappings and lists of several depths with one flow collection (possibly nested) left open.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/config/yaml-source.js';
import { Random } from '../../fuzz/random.js';
import { repoRoot } from '../../support/cli.js';

/** A Python with PyYAML: python3 itself, else one of the local stack's venvs. */
function pythonWithYaml(): string {
  const venvs = process.env.MWAA_LOCAL_VENVS ?? join(process.env.MWAA_LOCAL_HOME ?? join(repoRoot, '.local-stack'), 'venvs');
  const candidates = ['python3', ...(existsSync(venvs) ? readdirSync(venvs).map((v) => join(venvs, v, 'bin/python')) : [])];
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import yaml'], { stdio: 'ignore' });
      return python;
    } catch {}
  }
  throw new Error(`No Python with PyYAML (tried ${candidates.join(', ')}): pip install pyyaml, or run: npm run local -- up`);
}

/** PyYAML's verdict per document: the 1-based line and column of the construct it was parsing. */
const ORACLE = `
import json, sys, yaml
out = []
for text in json.load(sys.stdin):
    try:
        yaml.safe_load(text)
        out.append(None)
    except yaml.MarkedYAMLError as e:
        m = e.context_mark or e.problem_mark
        out.append({"context": e.context, "line": m.line + 1, "column": m.column + 1})
print(json.dumps(out))
`;

function unclosedDocument(random: Random): string {
  const lines: string[] = [];
  const depth = random.between(0, 3);
  for (let d = 0; d < depth; d += 1) {
    if (random.chance(0.3)) lines.push(`${'  '.repeat(d)}k${d}x: ${random.int(100)}`);
    lines.push(`${'  '.repeat(d)}k${d}:`);
  }
  const indent = '  '.repeat(depth);
  const items = Array.from({ length: random.between(0, 3) }, (_, i) => `v${i}`);
  const inner = random.chance(0.3) ? (random.chance(0.5) ? `[${items.join(', ')}` : `{a: 1, b: [1, 2]`) : '';
  const open = random.chance(0.5) ? `[${[...items, inner].filter(Boolean).join(', ')}` : `{${items.map((v) => `${v}: 1`).join(', ')}`;
  const prefix = random.chance(0.3) ? `${indent}- ` : `${indent}key: `;
  lines.push(`${prefix}${open}`);
  if (random.chance(0.5)) lines.push(`${indent}${random.chance(0.5) ? '  ' : ''}w${random.int(9)}`);
  lines.push(`${indent}next: 1`, 'tail: 2', '');
  return lines.join('\n');
}

describe('YAML error positions (PyYAML as oracle)', () => {
  it('an unclosed [ or { is reported at the bracket PyYAML names', () => {
    const random = new Random(20261207);
    const documents = Array.from({ length: 200 }, () => unclosedDocument(random));
    const verdicts = JSON.parse(
      execFileSync(pythonWithYaml(), ['-c', ORACLE], { input: JSON.stringify(documents), encoding: 'utf8' }),
    ) as ({ context: string | null; line: number; column: number } | null)[];
    let compared = 0;
    for (const [i, text] of documents.entries()) {
      const verdict = verdicts[i];
      if (!verdict?.context?.startsWith('while parsing a flow')) continue;
      compared += 1;
      const { issues } = parseYamlSource('x.yaml', text);
      expect(issues[0], text).toBeDefined();
      expect({ line: issues[0]!.line, column: issues[0]!.column }, text).toEqual({ line: verdict.line, column: verdict.column });
      expect(issues[0]!.message, text).toMatch(/not closed with/);
    }
    // The generator must reach the case it is for.
    expect(compared).toBeGreaterThan(100);
  });
});
