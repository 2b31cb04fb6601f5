import { describe, expect, it } from 'vitest';
import { parseConf } from '../../../../src/cli/commands/deploy.js';

describe('parseConf', () => {
  it('overrides config conf with --conf pairs; values may contain =', () => {
    expect(parseConf({ a: '1', b: '2' }, ['b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
  });
  it.each(['novalue', '1bad=x', '=x'])('rejects %j', (pair) => expect(() => parseConf({}, [pair])).toThrow(/--conf expects key=value/));
});
