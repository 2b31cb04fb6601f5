import { describe, expect, it } from 'vitest';
import { progressPrinter, REPEAT_MS, SPINNER_FRAMES } from '../../../src/cli/progress.js';

function stream(tty: boolean) {
  const written: string[] = [];
  return { written, stream: { isTTY: tty, columns: 80, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream };
}

describe('progress during network waits', () => {
  it('off a terminal, a repeated status is printed again every 10 s, not on every poll', () => {
    let now = 0;
    const { written, stream: s } = stream(false);
    const progress = progressPrinter(s, () => now);
    for (let second = 0; second <= 30; second += 2) {
      now = second * 1000;
      progress.print({ text: `environment UPDATING (${second}s)`, live: true });
    }
    expect(REPEAT_MS).toBe(10_000);
    expect(written).toEqual([
      'environment UPDATING (0s)\n',
      'environment UPDATING (10s)\n',
      'environment UPDATING (20s)\n',
      'environment UPDATING (30s)\n',
    ]);
  });

  it('on a terminal, the line is rewritten in place behind a turning spinner', () => {
    const { written, stream: s } = stream(true);
    const progress = progressPrinter(s, () => 0);
    progress.print({ text: 'environment UPDATING (1s)', live: true });
    progress.print({ text: 'environment UPDATING (2s)', live: true });
    progress.done();
    expect(written).toEqual([
      `${SPINNER_FRAMES[0]} environment UPDATING (1s)`,
      '\r\x1b[2K',
      `${SPINNER_FRAMES[1]} environment UPDATING (2s)`,
      '\r\x1b[2K',
    ]);
  });
});
