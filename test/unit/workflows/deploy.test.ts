/**
 * The deploy workflow's own decisions: the exit code of the whole deploy, and the DAG marker it
 * hands the deployer (read from the generated DAG, so the deployer needs no generator).
 */
import { describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import type { Plan } from '../../../src/deployer/plan.js';
import { ExitCode } from '../../../src/errors.js';
import { dagBuildTag } from '../../../src/generator/artifact.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { dagMarker, deployExitCode } from '../../../src/workflows/deploy.js';

const plan = (changes: number) => ({ changes }) as Plan;

describe('deployExitCode', () => {
  it.each([
    ['a plan', { planOnly: true }, { plan: plan(2) }, undefined, ExitCode.ok],
    [
      'a plan with changes, --detailed-exitcode',
      { planOnly: true, detailedExitCode: true },
      { plan: plan(2) },
      undefined,
      ExitCode.changesPending,
    ],
    ['a plan without changes, --detailed-exitcode', { planOnly: true, detailedExitCode: true }, { plan: plan(0) }, undefined, ExitCode.ok],
    ['a deploy that triggered nothing', { planOnly: false }, { plan: plan(1) }, undefined, ExitCode.ok],
    ['a run that succeeded', { planOnly: false }, { plan: plan(1), runState: 'success' }, undefined, ExitCode.ok],
    ['a run that failed', { planOnly: false }, { plan: plan(1), runState: 'failed' }, undefined, ExitCode.failure],
    ['a run that succeeded, smoke check passed', { planOnly: false }, { plan: plan(1), runState: 'success' }, { ok: true }, ExitCode.ok],
    [
      'a run that succeeded, smoke check failed',
      { planOnly: false },
      { plan: plan(1), runState: 'success' },
      { ok: false },
      ExitCode.failure,
    ],
    // --detailed-exitcode goes with --plan only: a deploy's changes are no reason to exit 3.
    ['a deploy with changes and detailedExitCode', { planOnly: false, detailedExitCode: true }, { plan: plan(3) }, undefined, ExitCode.ok],
  ] as const)('%s', (_what, request, result, smoke, code) => {
    expect(deployExitCode(request, result, smoke)).toBe(code);
  });
});

describe('dagMarker', () => {
  it('is the tag the generated DAG carries for this build, and nothing for a DAG without it', async () => {
    const generated = await generateEnvironment(resolveConfig(await readConfigFile(), 'dev'), '0.0.0-test');
    const marker = dagBuildTag(generated.manifest);
    expect(dagMarker(generated)).toBe(marker);
    const untagged = {
      ...generated,
      artifacts: generated.artifacts.map((a) => (a.kind === 'dag' ? { ...a, bytes: Buffer.from('# no tag here\n') } : a)),
    };
    expect(dagMarker(untagged)).toBeUndefined();
  });
});
