/**
 * `npm run generate`'s underlying command against `node -e 0`, side by side: the cost of the tool
 * over a bare Node start (target: at most 3x), from 15 interleaved pairs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interleaved, printTable, timeCommand } from './support.js';

const ROUNDS = 15;
const TARGET = 3;
const out = mkdtempSync(join(tmpdir(), 'bench-generate-'));
try {
  const medians = interleaved(ROUNDS, {
    'node -e 0': () => timeCommand(process.execPath, ['-e', '0']),
    'node dist/cli.js generate --env dev': () => timeCommand(process.execPath, ['dist/cli.js', 'generate', '--env', 'dev', '--out', out]),
    'node dist/cli.js --help': () => timeCommand(process.execPath, ['dist/cli.js', '--help']),
  });
  const base = medians['node -e 0']!;
  printTable(
    `generate vs a bare Node start (median of ${ROUNDS} interleaved runs; target generate <= ${TARGET}x)`,
    ['command', 'median ms', 'ratio to node -e 0'],
    Object.entries(medians).map(([name, ms]) => [name, ms, `${(ms / base).toFixed(2)}x`]),
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
