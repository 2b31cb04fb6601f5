/**
 * botocore's service model for MWAA, the judge of every answer the control plane gives: a copy
 * without its documentation strings is committed (local-stack/test/fixtures/mwaa-service-2.json),
 * so unit tests walk it without Python; an integration test compares the copy with the botocore in
 * the local stack's venvs. Regenerate it with:
 *
 *   npx tsx local-stack/test/support/mwaa-model.ts > local-stack/test/fixtures/mwaa-service-2.json
 *
 * `checkAgainstShape` walks a JSON answer through a shape as the rest-json protocol serializes it:
 * structures (no member the shape lacks, every required member present), strings (enums, lengths
 * in code points, patterns as Smithy applies them: not anchored), integers and their ranges,
 * booleans, timestamps (epoch seconds unless the shape names another format), lists and maps with
 * their bounds, and documents (any JSON). It counts every value it checks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { botocoreDirs } from '../../../test/support/aws-models.js';

export const MWAA_MODEL_FIXTURE = resolve(import.meta.dirname, '../fixtures/mwaa-service-2.json');

export interface Shape {
  type: string;
  members?: Record<string, { shape: string; location?: string; locationName?: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  document?: boolean;
  timestampFormat?: string;
  error?: { httpStatusCode: number; senderFault?: boolean };
  exception?: boolean;
}

export interface MwaaModel {
  botocore: string;
  metadata: Record<string, unknown>;
  operations: Record<
    string,
    { http: { method: string; requestUri: string }; input?: { shape: string }; output?: { shape: string }; errors?: { shape: string }[] }
  >;
  shapes: Record<string, Shape>;
}

function withoutDocs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDocs);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (key !== 'documentation') out[key] = withoutDocs((value as Record<string, unknown>)[key]);
  }
  return out;
}

/** The model as a botocore directory holds it (its newest API version), documentation removed. */
export function extractMwaaModel(botocore: string): MwaaModel {
  const base = join(botocore, 'data', 'mwaa');
  const dir = join(base, readdirSync(base).sort().at(-1)!);
  const gz = join(dir, 'service-2.json.gz');
  const text = existsSync(gz) ? gunzipSync(readFileSync(gz)).toString('utf8') : readFileSync(join(dir, 'service-2.json'), 'utf8');
  const version = /__version__ = '([^']+)'/.exec(readFileSync(join(botocore, '__init__.py'), 'utf8'))?.[1] ?? 'unknown';
  const model = withoutDocs(JSON.parse(text)) as Omit<MwaaModel, 'botocore'>;
  return { botocore: version, metadata: model.metadata, operations: model.operations, shapes: model.shapes };
}

export function serializeMwaaModel(model: MwaaModel): string {
  return `${JSON.stringify(model, null, 1)}\n`;
}

export function readMwaaModel(): MwaaModel {
  return JSON.parse(readFileSync(MWAA_MODEL_FIXTURE, 'utf8')) as MwaaModel;
}

export interface WalkCount {
  /** Values checked against a shape (every member, list item, map key and value). */
  members: number;
}

/** Problems of `value` against shape `name`, each prefixed by its path in the answer. */
export function checkAgainstShape(model: MwaaModel, name: string, value: unknown, path: string, count: WalkCount): string[] {
  const shape = model.shapes[name];
  if (!shape) return [`${path}: the model has no shape ${name}`];
  count.members += 1;
  const problems: string[] = [];
  const wrong = (what: string): string[] => [`${path}: ${what} (shape ${name}, got ${JSON.stringify(value)?.slice(0, 120)})`];
  if (shape.document) return [];
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrong('expected an object');
      const members = shape.members ?? {};
      for (const key of Object.keys(value)) {
        if (!(key in members)) problems.push(`${path}.${key}: the shape ${name} has no such member`);
      }
      for (const key of shape.required ?? []) {
        if ((value as Record<string, unknown>)[key] === undefined) problems.push(`${path}.${key}: required by ${name}, absent`);
      }
      for (const [key, member] of Object.entries(members)) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        if (item === null) problems.push(`${path}.${key}: null (a member is omitted, never null)`);
        else problems.push(...checkAgainstShape(model, member.shape, item, `${path}.${key}`, count));
      }
      return problems;
    }
    case 'string': {
      if (typeof value !== 'string') return wrong('expected a string');
      if (shape.enum && !shape.enum.includes(value)) return wrong(`not one of ${shape.enum.join(', ')}`);
      const length = [...value].length;
      if (shape.min !== undefined && length < shape.min) return wrong(`shorter than ${shape.min}`);
      if (shape.max !== undefined && length > shape.max) return wrong(`longer than ${shape.max}`);
      if (shape.pattern !== undefined && !new RegExp(shape.pattern, 'u').test(value)) return wrong(`does not match /${shape.pattern}/`);
      return [];
    }
    case 'integer':
    case 'long': {
      if (!Number.isInteger(value)) return wrong('expected an integer');
      if (shape.min !== undefined && (value as number) < shape.min) return wrong(`less than ${shape.min}`);
      if (shape.max !== undefined && (value as number) > shape.max) return wrong(`more than ${shape.max}`);
      return [];
    }
    case 'double':
    case 'float':
      return typeof value === 'number' ? [] : wrong('expected a number');
    case 'boolean':
      return typeof value === 'boolean' ? [] : wrong('expected a boolean');
    case 'timestamp': {
      // rest-json bodies carry timestamps as epoch seconds unless the shape says otherwise.
      const format = shape.timestampFormat ?? 'unixTimestamp';
      if (format === 'unixTimestamp') return typeof value === 'number' && Number.isFinite(value) ? [] : wrong('expected epoch seconds');
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? [] : wrong(`expected a ${format} date`);
    }
    case 'list': {
      if (!Array.isArray(value)) return wrong('expected a list');
      if (shape.min !== undefined && value.length < shape.min) return wrong(`fewer than ${shape.min} items`);
      if (shape.max !== undefined && value.length > shape.max) return wrong(`more than ${shape.max} items`);
      for (const [i, item] of value.entries())
        problems.push(...checkAgainstShape(model, shape.member!.shape, item, `${path}[${i}]`, count));
      return problems;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrong('expected a map');
      const entries = Object.entries(value);
      if (shape.min !== undefined && entries.length < shape.min) return wrong(`fewer than ${shape.min} entries`);
      if (shape.max !== undefined && entries.length > shape.max) return wrong(`more than ${shape.max} entries`);
      for (const [key, item] of entries) {
        problems.push(...checkAgainstShape(model, shape.key!.shape, key, `${path}{${key}}`, count));
        problems.push(...checkAgainstShape(model, shape.value!.shape, item, `${path}.${key}`, count));
      }
      return problems;
    }
    default:
      return wrong(`a ${shape.type} shape, which the walk does not know`);
  }
}

/** One answer of the control plane, as it came off the wire. */
export interface WireAnswer {
  operation: string;
  status: number;
  errorType: string | null;
  body: unknown;
}

/**
 * Whether an answer is one the model allows for its operation: a 200 walks the output shape; an
 * error must be one the operation declares, with the shape's HTTP status and body members.
 * UnknownOperationException is what AWS answers for an operation the model lacks (errors.ts).
 */
export function checkAnswer(model: MwaaModel, answer: WireAnswer, count: WalkCount): string[] {
  const operation = model.operations[answer.operation];
  if (!operation) {
    if (answer.errorType === 'UnknownOperationException' && answer.status === 404) {
      return checkAgainstShape(model, 'UnknownOperationBody', answer.body, answer.operation, count);
    }
    return [`${answer.operation}: no such operation, and the answer is not UnknownOperationException 404`];
  }
  if (answer.errorType === null) {
    if (answer.status !== 200) return [`${answer.operation}: HTTP ${answer.status} without x-amzn-errortype`];
    return operation.output ? checkAgainstShape(model, operation.output.shape, answer.body, answer.operation, count) : [];
  }
  const declared = (operation.errors ?? []).map((e) => e.shape);
  if (!declared.includes(answer.errorType))
    return [`${answer.operation}: ${answer.errorType} is not among its errors (${declared.join(', ')})`];
  const shape = model.shapes[answer.errorType]!;
  const problems: string[] = [];
  if (shape.error?.httpStatusCode !== answer.status) {
    problems.push(`${answer.operation}: ${answer.errorType} answered HTTP ${answer.status}, the model says ${shape.error?.httpStatusCode}`);
  }
  return [...problems, ...checkAgainstShape(model, answer.errorType, answer.body, `${answer.operation}!${answer.errorType}`, count)];
}

/** The body of UnknownOperationException, which no MWAA shape describes: `{message}`. */
export function withUnknownOperation(model: MwaaModel): MwaaModel {
  return {
    ...model,
    shapes: {
      ...model.shapes,
      UnknownOperationBody: { type: 'structure', required: ['message'], members: { message: { shape: 'String' } } },
    },
  };
}

/** Reads one raw answer: status, `x-amzn-errortype` (its code part) and the JSON body. */
export async function wireAnswer(operation: string, response: Response): Promise<WireAnswer> {
  const text = await response.text();
  const errorType = response.headers.get('x-amzn-errortype')?.split(':')[0] ?? null;
  return { operation, status: response.status, errorType, body: text === '' ? {} : (JSON.parse(text) as unknown) };
}

// Run as a script: print the model of the first venv's botocore (the fixture).
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const dir = botocoreDirs()[0];
  if (!dir) throw new Error('No botocore in the local stack venvs: run npm run local -- up');
  process.stdout.write(serializeMwaaModel(extractMwaaModel(dir)));
}
