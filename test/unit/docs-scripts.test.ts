/**
 * Every `npm run <script>` the documentation shows must exist in package.json: the docs promise
 * commands that run exactly as written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };

const root = join(import.meta.dirname, '../..');

function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** `npm run [npm's options] <name>` occurrences in a text (`npm run -s local` names `local`), with their line numbers. */
function npmRunScripts(text: string): { name: string; line: number }[] {
  const found: { name: string; line: number }[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(/\bnpm run(?:-script)?(?: --?[a-z][a-z-]*)* ([A-Za-z0-9:_][A-Za-z0-9:_-]*)/g))
      found.push({ name: match[1]!, line: index + 1 });
  });
  return found;
}

describe('npm scripts named in the docs', () => {
  const files = [join(root, 'README.md'), join(root, 'local-stack/README.md'), ...markdownUnder(join(root, 'docs'))];
  const scripts = new Set(Object.keys(pkg.scripts));

  it('finds the scripts a line names', () => {
    expect(npmRunScripts('a\nrun `npm run deploy -- --env prod` or npm run test:unit\neval "$(npm run -s local -- env)"')).toEqual([
      { name: 'deploy', line: 2 },
      { name: 'test:unit', line: 2 },
      { name: 'local', line: 3 },
    ]);
  });

  it.each(files.map((f) => [relative(root, f), f]))('%s names only scripts package.json has', (_name, file) => {
    const missing = npmRunScripts(readFileSync(file, 'utf8'))
      .filter((s) => !scripts.has(s.name))
      .map((s) => `line ${s.line}: npm run ${s.name}`);
    expect(missing).toEqual([]);
  });

  it('the docs name deploy, which package.json runs from the built CLI', () => {
    expect(pkg.scripts.deploy).toBe('node dist/cli.js deploy');
  });
});
