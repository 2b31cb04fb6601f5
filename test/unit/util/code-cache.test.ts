import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWithCodeCache, writeCodeCache } from '../../../src/util/code-cache.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();

describe('loadWithCodeCache', () => {
  it('runs a CommonJS file, from the cache once one is written, and from source once the file changes', () => {
    const file = join(tmp(), 'bundle.cjs');
    writeFileSync(file, "exports.answer = () => 40 + 2; exports.dir = __dirname; exports.path = require('node:path').sep;\n");
    const first = loadWithCodeCache(file);
    expect(first.fromCache).toBe(false);
    expect((first.exports.answer as () => number)()).toBe(42);
    expect(first.exports.dir).toBe(join(file, '..'));
    writeCodeCache(file, first);
    const second = loadWithCodeCache(file);
    expect(second.fromCache).toBe(true);
    expect((second.exports.answer as () => number)()).toBe(42);
    // Same length, other code: the cache was made from other source and is not used.
    writeFileSync(file, "exports.answer = () => 40 + 3; exports.dir = __dirname; exports.path = require('node:path').sep;\n");
    const third = loadWithCodeCache(file);
    expect(third.fromCache).toBe(false);
    expect((third.exports.answer as () => number)()).toBe(43);
  });

  it('finds the cache the build wrote for the bundled generate', () => {
    // dist/ is built by the global setup with this Node; checked in a plain Node process, as the
    // CLI runs (V8 rejects a cache made under other V8 flags, as the test runner's workers have).
    const script = `const { loadWithCodeCache } = await import('./src/util/code-cache.ts');
      const bundle = loadWithCodeCache('dist/generate.cjs');
      console.log(JSON.stringify({ fromCache: bundle.fromCache, entry: typeof bundle.exports.runPlainGenerate }));`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ fromCache: true, entry: 'function' });
  });
});
