/**
 * config/config.schema.json, derived from the zod schema for editor completion and validation.
 * In the file every environment field is optional (defaults and overrides are partial); the
 * merged environment must be complete, which the loader checks.
 */
import { z } from 'zod';
import { environmentSchema } from './schema.js';
import { sortKeys } from '../util/stable-json.js';

function withoutRequired(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutRequired);
  if (node === null || typeof node !== 'object') return node;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'required' && Array.isArray(value)) continue;
    result[key] = withoutRequired(value);
  }
  return result;
}

export function buildConfigJsonSchema(): Record<string, unknown> {
  const environment = z.toJSONSchema(environmentSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete environment.$schema;
  const partialEnvironment = withoutRequired(environment);
  return sortKeys({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'mwaa-gpu-cicd configuration',
    description: 'defaults plus per-environment overrides, deep-merged (lists replace).',
    type: 'object',
    additionalProperties: false,
    required: ['environments'],
    properties: {
      $schema: { type: 'string', description: 'JSON Schema reference for editors.' },
      defaults: { ...(partialEnvironment as object), description: 'Settings every environment starts from.' },
      environments: {
        type: 'object',
        description: 'Per-environment overrides, deep-merged over defaults.',
        propertyNames: { pattern: '^[a-z][a-z0-9-]{0,30}$' },
        additionalProperties: partialEnvironment,
        minProperties: 1,
      },
    },
  }) as Record<string, unknown>;
}

export function serializeJsonSchema(): string {
  return `${JSON.stringify(buildConfigJsonSchema(), null, 2)}\n`;
}
