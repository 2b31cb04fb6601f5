import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isSafeAbsolutePath, SAFE_ABSOLUTE_PATH_PATTERN } from '../../../src/config/validators.js';

describe('the workspace path rule', () => {
  it('means the same in JavaScript and in Python (the DAG applies it with re.fullmatch)', () => {
    const paths = [
      '/',
      '/a',
      '/a/',
      '/a//b',
      '/a/./b',
      '/a/../b',
      '/.',
      '/..',
      '/...',
      '/a/.b',
      '/a/b.',
      '/a/b..c',
      'a/b',
      '',
      '/a b',
      '/a\n',
      '/a/b;c',
      '/ü',
      `/${'x'.repeat(1023)}`,
      `/${'x'.repeat(1024)}`,
      '//',
      '/a/.',
      '/a/..',
      '/-x',
      '/a/b/',
    ];
    const script = 'import json, re, sys\np, xs = json.load(sys.stdin)\nprint(json.dumps([re.fullmatch(p, x) is not None for x in xs]))';
    const python = JSON.parse(
      execFileSync('python3', ['-c', script], { input: JSON.stringify([SAFE_ABSOLUTE_PATH_PATTERN, paths]), encoding: 'utf8' }),
    ) as boolean[];
    expect(python).toEqual(paths.map(isSafeAbsolutePath));
    expect(python.filter(Boolean).length).toBeGreaterThan(5);
  });
});
