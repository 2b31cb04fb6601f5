import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Vitest runs cores − 1 files at a time: one on a 2-core machine. Most unit and system files
    // wait on child processes, sockets and timeouts rather than compute (the hostile-world matrix
    // waits out stalled remotes for minutes), so two run side by side there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'local-stack/test/unit/**/*.test.ts'],
          globalSetup: ['test/support/build-once.ts'],
          // Hang guards, not speed targets: npm test runs these files beside two Airflow stacks on
          // two cores, where a file that starts the CLI a dozen times takes several times longer.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Tests that need host programs (python3, git, sshd) but no running stack.
          name: 'system',
          include: ['test/system/**/*.test.ts', 'local-stack/test/system/**/*.test.ts'],
          globalSetup: ['test/support/build-once.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'local-stack/test/integration/**/*.test.ts'],
          globalSetup: ['test/support/build-once.ts'],
          // One shared stack: files run one after another.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
