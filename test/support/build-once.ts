// Vitest global setup: build dist/ once before the tests that run the bundled CLI.
// scripts/test-all.mjs builds before any vitest run and runs several at once in one checkout, so
// it sets MWAA_TEST_DIST_BUILT: a second build there would rewrite dist/ under a running test.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.MWAA_TEST_DIST_BUILT === '1') return;
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
