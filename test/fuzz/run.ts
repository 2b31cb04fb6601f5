/**
 * Runs the version.yaml fuzzer from the command line (the test suite runs it through
 * test/python/dag/test_version_fuzz.py):
 *
 *   node_modules/.bin/tsx test/fuzz/run.ts --python .local-stack/venvs/airflow-2.11.2/bin/python
 *     [--seed N] [--count N] [--runs N] [--show N]
 *
 * The seed defaults to VERSION_FUZZ_SEED, else a fresh random one (printed); the count to
 * VERSION_FUZZ_COUNT, else 20,000. --runs N runs N batches with seeds seed, seed+1, ...; --show N
 * prints at most N disagreements per batch. Exits 1 on any disagreement.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { describeDisagreement, fuzzVersionReaders, pythonDagReader, rerunHint, summary } from './version-fuzz.js';

const { values } = parseArgs({
  options: {
    python: { type: 'string' },
    seed: { type: 'string' },
    count: { type: 'string' },
    runs: { type: 'string', default: '1' },
    show: { type: 'string', default: '5' },
  },
});

function whole(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}

if (!values.python) throw new Error('--python <interpreter with PyYAML> is required (a local stack venv python)');
const first = whole('seed', values.seed ?? process.env.VERSION_FUZZ_SEED, randomInt(2 ** 32 - 1));
const count = whole('count', values.count ?? process.env.VERSION_FUZZ_COUNT, 20_000);
const runs = whole('--runs', values.runs, 1);
const show = whole('--show', values.show, 5);
const readDag = pythonDagReader(values.python);

let failed = 0;
let documents = 0;
for (let run = 0; run < runs; run++) {
  const seed = (first + run) % 2 ** 32;
  process.stdout.write(`version.yaml fuzz: seed ${seed} (rerun: ${rerunHint(seed, count)})\n`);
  const report = await fuzzVersionReaders(seed, count, readDag);
  documents += report.count;
  process.stdout.write(`${summary(report)}\n`);
  for (const disagreement of report.disagreements.slice(0, show)) process.stdout.write(`${describeDisagreement(seed, disagreement)}\n`);
  if (report.disagreements.length > 0) failed += 1;
}
if (runs > 1) process.stdout.write(`${documents} documents in ${runs} batches from seed ${first}: ${failed} batches with disagreements\n`);
process.exitCode = failed > 0 ? 1 : 0;
