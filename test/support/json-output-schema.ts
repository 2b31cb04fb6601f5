/** docs/json-output.schema.json as a validator (zod's JSON Schema reader, already a dependency). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from './cli.js';

const schema = z.fromJSONSchema(JSON.parse(readFileSync(join(repoRoot, 'docs/json-output.schema.json'), 'utf8')));

/** The parsed document when it is one JSON document that the schema accepts; throws saying why otherwise. */
export function validEnvelope(stdout: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(stdout);
  } catch {
    throw new Error(`stdout is not one JSON document:\n${stdout.slice(0, 2000)}`);
  }
  const result = schema.safeParse(document);
  if (!result.success)
    throw new Error(`stdout does not match docs/json-output.schema.json: ${result.error.message}\n${stdout.slice(0, 2000)}`);
  return document as Record<string, unknown>;
}
