/** Small helpers shared by the benchmarks: medians of interleaved runs and a printed table. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Wall time of one process run, in milliseconds; throws if it fails. */
export function timeCommand(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: 'ignore', ...options });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`);
  return ms;
}

/**
 * Runs the candidates in turn, round after round, so that machine noise hits them alike, and
 * returns each one's median in milliseconds.
 */
export function interleaved(rounds: number, candidates: Record<string, () => number>): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, run] of Object.entries(candidates)) samples[name]!.push(run());
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

export function printTable(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? '').length)));
  process.stdout.write(`\n${title}\n`);
  for (const [index, row] of cells.entries()) {
    process.stdout.write(`  ${row.map((cell, i) => String(cell).padEnd(widths[i]!)).join('  ')}\n`);
    if (index === 0) process.stdout.write(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  }
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
}
