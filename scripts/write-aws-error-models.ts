// Regenerates test/fixtures/aws-error-models.json from botocore in the local stack's venv (run
// `local up` first); test/integration/aws-error-models.test.ts fails when the fixture is stale.
// Usage: npx tsx scripts/write-aws-error-models.ts [<site-packages/botocore directory>]
import { writeFileSync } from 'node:fs';
import {
  AWS_MODELS_FIXTURE,
  botocoreDirs,
  extractAwsErrorModels,
  serializeAwsErrorModels,
  venvPython,
} from '../test/support/aws-models.js';

const botocore = process.argv[2] ?? botocoreDirs().at(-1);
if (!botocore) {
  process.stderr.write('No botocore found in the local stack venvs: run `npm run local -- up` first, or name the directory.\n');
  process.exit(2);
}
writeFileSync(AWS_MODELS_FIXTURE, serializeAwsErrorModels(extractAwsErrorModels(botocore, venvPython(botocore))));
process.stdout.write(`Wrote ${AWS_MODELS_FIXTURE} from ${botocore}\n`);
