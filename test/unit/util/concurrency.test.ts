import { describe, expect, it } from 'vitest';
import { mapWithConcurrency } from '../../../src/util/concurrency.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapWithConcurrency', () => {
  it('keeps results in input order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const results = await mapWithConcurrency(items, 7, async (item) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick((item * 7) % 5);
      inFlight--;
      return item * 2;
    });
    expect(results).toEqual(items.map((i) => i * 2));
    expect(peak).toBe(7);
  });

  it('runs everything at once when the limit exceeds the item count', async () => {
    let peak = 0;
    let inFlight = 0;
    await mapWithConcurrency([1, 2, 3], 100, async () => {
      peak = Math.max(peak, ++inFlight);
      await tick(5);
      inFlight--;
    });
    expect(peak).toBe(3);
  });

  it('handles an empty list', async () => {
    expect(await mapWithConcurrency([], 4, async () => 1)).toEqual([]);
  });

  it('rejects with the first error after in-flight work settles, and starts nothing new', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('boom');
      await tick(10);
      settled++;
      return item;
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects limit %s', async (limit) => {
    await expect(mapWithConcurrency([1], limit, async () => 1)).rejects.toThrow(RangeError);
  });
});
