/**
 * Differential fuzzing of the two version.yaml readers: the runtime check's (src/runtime-check/
 * version-file.ts, here in-process) and the DAG's (templates/dag/gpu_cicd_lib/version_file.py, in one
 * Python process with PyYAML: test/python/dag/version_fuzz_reader.py). Both read the same
 * generated batch; any document that one accepts and the other refuses, or that they read to
 * different values, is a disagreement, reported with its seed and index, which regenerate it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VERSION_FILE_LIMITS } from '../../src/config/validators.js';
import { readVersionDocument, type YamlValue } from '../../src/runtime-check/version-file.js';
import { generateDocuments } from './version-yaml-generator.js';

/** One reader's answer: a value (typed, see version_fuzz_reader.py), a refusal, or a crash. */
export type Answer = { ok: true; value: unknown } | { ok: false; reason: string } | { crash: string };

export interface Disagreement {
  index: number;
  document: string;
  check: Answer;
  dag: Answer;
}

export interface FuzzReport {
  seed: number;
  count: number;
  /** Documents both readers accepted with equal values. */
  accepted: number;
  /** Documents both readers refused. */
  refused: number;
  disagreements: Disagreement[];
  seconds: { generate: number; check: number; dag: number };
}

/** Reads a batch with the DAG's reader; a function so that tests can stand in for Python. */
export type DagReader = (documents: readonly string[]) => Promise<Answer[]>;

const READER = resolve(import.meta.dirname, '../python/dag/version_fuzz_reader.py');

/**
 * The DAG's reader in one Python process (the interpreter must have PyYAML: a stack venv's). The
 * batch goes in a file, so that Python reads while this process reads the same batch with the
 * check's reader (a pipe would wait for this process's event loop): two cores, half the time.
 */
export function pythonDagReader(python: string, timeoutMs = 600_000): DagReader {
  return (documents) => {
    const dir = mkdtempSync(join(tmpdir(), 'version-fuzz-'));
    const batch = join(dir, 'batch.json');
    writeFileSync(batch, JSON.stringify({ limits: VERSION_FILE_LIMITS, documents }));
    return new Promise<Answer[]>((resolvePromise, reject) => {
      const child = spawn(python, [READER, batch], { stdio: ['ignore', 'pipe', 'inherit'] });
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code !== 0) {
          reject(new Error(`${python} ${READER} ended with ${signal ? `${signal} (after ${timeoutMs} ms?)` : `exit code ${code}`}`));
          return;
        }
        const answers = Buffer.concat(chunks)
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Answer);
        if (answers.length === documents.length) resolvePromise(answers);
        else reject(new Error(`the DAG's reader answered ${answers.length} of ${documents.length} documents`));
      });
    }).finally(() => rmSync(dir, { recursive: true, force: true }));
  };
}

export function checkAnswer(document: string): Answer {
  try {
    const read = readVersionDocument(document);
    return read.ok ? { ok: true, value: typed(read.document) } : { ok: false, reason: read.reason };
  } catch (error) {
    return { crash: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

/** The typed encoding version_fuzz_reader.py writes, for equal values to compare as equal JSON. */
export function typed(value: YamlValue): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return text(value);
  if (typeof value === 'bigint') return { int: value.toString() };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { float: 'nan' };
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setFloat64(0, value);
    return { float: bytes.getBigUint64(0).toString(16).padStart(16, '0') };
  }
  if (Array.isArray(value)) return value.map(typed);
  return { map: [...value].map(([key, item]) => [text(key), typed(item)]) };
}

function text(value: string): string {
  let out = '';
  // By code point: a lone surrogate stays one, a pair is one astral character, as in Python.
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    out += code >= 0x20 && code <= 0x7e && ch !== '\\' ? ch : `\\u{${code.toString(16)}}`;
  }
  return out;
}

/** Same verdict, and when both accept, the same typed value; a crash never agrees. */
export function agree(check: Answer, dag: Answer): boolean {
  if ('crash' in check || 'crash' in dag) return false;
  if (check.ok !== dag.ok) return false;
  return !check.ok || JSON.stringify(check.value) === JSON.stringify((dag as { value: unknown }).value);
}

export async function fuzzVersionReaders(seed: number, count: number, readDag: DagReader): Promise<FuzzReport> {
  let started = performance.now();
  const documents = generateDocuments(seed, count);
  const generate = (performance.now() - started) / 1000;
  started = performance.now();
  let dag = 0;
  const dagDone = readDag(documents).then((answers) => {
    dag = (performance.now() - started) / 1000;
    return answers;
  });
  // Swallowed here, rethrown by the await below: the check's reader runs meanwhile.
  dagDone.catch(() => undefined);
  const checkAnswers = documents.map(checkAnswer);
  const check = (performance.now() - started) / 1000;
  const dagAnswers = await dagDone;
  const report: FuzzReport = { seed, count, accepted: 0, refused: 0, disagreements: [], seconds: { generate, check, dag } };
  documents.forEach((document, index) => {
    const [c, d] = [checkAnswers[index]!, dagAnswers[index]!];
    if (!agree(c, d)) report.disagreements.push({ index, document, check: c, dag: d });
    else if ('ok' in c && c.ok) report.accepted += 1;
    else report.refused += 1;
  });
  return report;
}

/** How to regenerate and rerun a run: the environment variables the fuzz test reads. */
export function rerunHint(seed: number, count: number): string {
  return `VERSION_FUZZ_SEED=${seed} VERSION_FUZZ_COUNT=${count}`;
}

export function describeDisagreement(seed: number, disagreement: Disagreement): string {
  return [
    `seed ${seed}, document ${disagreement.index}: the readers disagree`,
    `  document: ${JSON.stringify(disagreement.document)}`,
    `  check (TypeScript): ${JSON.stringify(disagreement.check)}`,
    `  DAG (PyYAML):       ${JSON.stringify(disagreement.dag)}`,
  ].join('\n');
}

export function summary(report: FuzzReport): string {
  const { generate, check, dag } = report.seconds;
  return (
    `version.yaml fuzz: seed ${report.seed}, ${report.count} documents: ${report.accepted} accepted by both, ` +
    `${report.refused} refused by both, ${report.disagreements.length} disagreements ` +
    `(generate ${generate.toFixed(1)} s, check reader ${check.toFixed(1)} s, DAG reader ${dag.toFixed(1)} s)`
  );
}
