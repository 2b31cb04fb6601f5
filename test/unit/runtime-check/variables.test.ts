import { describe, expect, it } from 'vitest';
import { compareValues, sameValue, summarizeComparisons } from '../../../src/runtime-check/variables.js';

describe('sameValue', () => {
  it.each([
    ['1.2.3', '1.2.3', true],
    ['1.2.3', '1.2.3 ', false],
    ['abc', 'ABC', false],
    [42n, '42', true],
    [42n, '42.0', false],
    [1.5, '1.5', true],
    [1, '1', true],
    [42n, '43', false],
    [42n, '', false],
    [true, 'true', true],
    [false, 'false', true],
    [true, 'True', false],
    [true, '1', false],
    // Exact: a float conversion would call these equal.
    [12345678901234567n, '12345678901234567', true],
    [12345678901234567n, '12345678901234568', false],
    [12345678901234567n, '12345678901234567.0', false],
    [1e21, '1e+21', true],
  ] as const)('file %s vs Airflow %j -> %s', (file, airflow, expected) => {
    expect(sameValue(file, airflow)).toBe(expected);
  });
});

describe('compareValues / summarizeComparisons', () => {
  const mappings = [
    { fileKey: 'a', key: 'gpu-01__a', fileValue: '1.0' },
    { fileKey: 'b', key: 'gpu-01__b', fileValue: 2n },
    { fileKey: 'c', key: 'gpu-01__c', fileValue: true },
  ];

  it('marks matches, differences and missing Variables', () => {
    const rows = compareValues(
      mappings,
      new Map([
        ['gpu-01__a', '1.0'],
        ['gpu-01__b', '3'],
        ['gpu-01__c', undefined],
      ]),
    );
    expect(rows).toEqual([
      { fileKey: 'a', key: 'gpu-01__a', fileValue: '1.0', airflowValue: '1.0', equal: true },
      { fileKey: 'b', key: 'gpu-01__b', fileValue: '2', airflowValue: '3', equal: false },
      { fileKey: 'c', key: 'gpu-01__c', fileValue: 'true', airflowValue: null, equal: false },
    ]);
    expect(summarizeComparisons(rows)).toBe('gpu-01__b differs: file "2", Airflow "3"; gpu-01__c is not set in Airflow (file: "true")');
  });

  it('says how many matched when all do', () => {
    const rows = compareValues(mappings.slice(0, 1), new Map([['gpu-01__a', '1.0']]));
    expect(summarizeComparisons(rows)).toBe('1 of 1 Variables match the file');
  });
});
