/**
 * `npm run generate`'s underlying command against `node -e 0`, side by side: the cost of the tool
 * over a bare Node start (target: at most 5x).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interleaved, printTable, timeCommand } from './support.js';

const out = mkdtempSync(join(tmpdir(), 'bench-generate-'));
try {
  const medians = interleaved(11, {
    'node -e 0': () => timeCommand(process.execPath, ['-e', '0']),
    'node dist/cli.js generate --env dev': () => timeCommand(process.execPath, ['dist/cli.js', 'generate', '--env', 'dev', '--out', out]),
    'node dist/cli.js --help': () => timeCommand(process.execPath, ['dist/cli.js', '--help']),
  });
  const base = medians['node -e 0']!;
  printTable(
    'generate vs a bare Node start (median of 11 interleaved runs)',
    ['command', 'median ms', 'ratio to node -e 0'],
    Object.entries(medians).map(([name, ms]) => [name, ms, `${(ms / base).toFixed(2)}x`]),
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
