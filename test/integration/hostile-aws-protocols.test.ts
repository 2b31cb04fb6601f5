/**
 * The harness's table of protocols and error shapes (test/support/hostile/aws-protocols.json) is
 * what botocore's service models say: read from the botocore the local stack's venvs install (moto
 * brings it; hence an integration test: `local up` made the venvs), or from python3's. Regenerate with:
 *   npx tsx test/support/hostile/botocore-models.ts > test/support/hostile/aws-protocols.json
 */
import { describe, expect, it } from 'vitest';
import protocols from '../support/hostile/aws-protocols.json' with { type: 'json' };
import { MODELED_SHAPES } from '../support/hostile/aws-wire.js';
import { findBotocoreData, readAwsProtocols } from '../support/hostile/botocore-models.js';
import { repoRoot } from '../support/hostile/run-cli.js';

describe("the hostile harness's AWS wire formats", () => {
  it("match botocore's models of S3, MWAA, CloudWatch and Secrets Manager", () => {
    const fresh = readAwsProtocols(findBotocoreData(process.env, repoRoot));
    // Another botocore release may model more errors (new operations) or fewer; the protocols and
    // every shape the harness answers with must be as the table says.
    for (const [service, model] of Object.entries(protocols.services)) {
      const { errors: _errors, ...protocol } = model;
      const { errors: _freshErrors, ...freshProtocol } = fresh.services[service as keyof typeof fresh.services];
      expect(freshProtocol, service).toEqual(protocol);
    }
    expect(MODELED_SHAPES.length).toBeGreaterThan(5);
    for (const { service, shape } of MODELED_SHAPES) {
      const table = protocols.services[service].errors as Record<string, unknown>;
      expect(fresh.services[service].errors[shape], `${service} ${shape}`).toEqual(table[shape]);
    }
  });
});
