/**
 * test/fixtures/aws-error-models.json is what botocore in the local stack's venvs says (the
 * error tables of test/unit/mwaa walk it): regenerate it with scripts/write-aws-error-models.ts
 * when botocore or the calls in src/ change.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AWS_MODELS_FIXTURE, botocoreDirs, extractAwsErrorModels, serializeAwsErrorModels, venvPython } from '../support/aws-models.js';

describe('the AWS error models fixture', () => {
  it("matches botocore's models and retry lists in every venv of the local stack", () => {
    const dirs = botocoreDirs();
    expect(dirs.length, 'no botocore in the local stack venvs: run npm run local -- up').toBeGreaterThan(0);
    const fixture = readFileSync(AWS_MODELS_FIXTURE, 'utf8');
    for (const dir of dirs) {
      expect(
        serializeAwsErrorModels(extractAwsErrorModels(dir, venvPython(dir))),
        `${dir}: run npx tsx scripts/write-aws-error-models.ts`,
      ).toBe(fixture);
    }
  });
});
