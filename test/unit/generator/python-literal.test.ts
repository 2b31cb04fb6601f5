import { describe, expect, it } from 'vitest';
import { pythonLiteral } from '../../../src/generator/python-literal.js';

describe('pythonLiteral', () => {
  it('sorts dict keys and maps JSON scalars to Python ones', () => {
    expect(pythonLiteral({ b: 1, a: [true, null] })).toBe('{"a": [True, None], "b": 1}');
  });

  it('refuses values Python literals cannot hold', () => {
    expect(() => pythonLiteral(Number.NaN)).toThrow(/NaN/);
    expect(() => pythonLiteral(() => 1)).toThrow(/function/);
  });
});
