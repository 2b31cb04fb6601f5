/**
 * The layers the tree promises, checked on every import (static and dynamic) under src/ and
 * local-stack/src/. Lower layers never import higher ones; the runtime check stays independent of
 * the deploy path; only the CLI may wire in the local stack.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');

/** Which layers each layer may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  'src/errors.ts': [],
  'src/util': [],
  'src/mwaa': ['src/util', 'src/errors.ts'],
  'src/artifacts': ['src/util', 'src/errors.ts', 'src/mwaa'],
  'src/config': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/artifacts'],
  'src/generator': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/artifacts', 'src/config'],
  'src/runtime-check': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/artifacts', 'src/config'],
  // Neither the generator nor the runtime check: the deploy workflow composes them.
  'src/deployer': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/artifacts', 'src/config'],
  'src/workflows': [
    'src/util',
    'src/errors.ts',
    'src/mwaa',
    'src/artifacts',
    'src/config',
    'src/generator',
    'src/runtime-check',
    'src/deployer',
  ],
  'src/init': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/config'],
  // The programmatic API: every library, never the CLI or the local stack.
  'src/api.ts': [
    'src/util',
    'src/errors.ts',
    'src/mwaa',
    'src/artifacts',
    'src/config',
    'src/generator',
    'src/runtime-check',
    'src/deployer',
    'src/workflows',
    'package.json',
  ],
  'src/cli': [
    'src/util',
    'src/errors.ts',
    'src/mwaa',
    'src/artifacts',
    'src/config',
    'src/generator',
    'src/runtime-check',
    'src/deployer',
    'src/init',
    'src/workflows',
    'local-stack/src',
    'package.json',
  ],
  'local-stack/src': ['src/util', 'src/errors.ts', 'src/mwaa', 'src/artifacts'],
};

function layerOf(path: string): string | undefined {
  const rel = relative(repo, path);
  return Object.keys(ALLOWED)
    .sort((a, b) => b.length - a.length)
    .find((layer) => rel === layer || rel.startsWith(`${layer}/`));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The imports in `text` (the source of `file`) that break the layer table. */
function violationsIn(file: string, text: string): string[] {
  const from = layerOf(file);
  if (!from) return [`${relative(repo, file)}: in no layer; add its folder to the layer table`];
  const problems: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]!;
    if (!spec.startsWith('.')) continue;
    const to = layerOf(resolve(dirname(file), spec));
    if (to === undefined || to === from || ALLOWED[from]!.includes(to)) continue;
    problems.push(`${relative(repo, file)} imports ${spec} (${from} → ${to})`);
  }
  return problems;
}

describe('layers', () => {
  it('every import under src/ and local-stack/src/ follows the layer table', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('local-stack/src')];
    expect(files.flatMap((file) => violationsIn(file, readFileSync(file, 'utf8')))).toEqual([]);
  });

  it('catches an import that breaks them', () => {
    const file = join(repo, 'src/config/bad.ts');
    const found = violationsIn(
      file,
      "import { deploy } from '../deployer/deploy.js';\nconst x = await import('../../local-stack/src/state.js');",
    );
    expect(found).toEqual([
      'src/config/bad.ts imports ../deployer/deploy.js (src/config → src/deployer)',
      'src/config/bad.ts imports ../../local-stack/src/state.js (src/config → local-stack/src)',
    ]);
  });
});
