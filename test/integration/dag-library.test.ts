/**
 * A library-only upgrade on the local stack: the same config with a changed DAG library reaches
 * Airflow as a DAG-folder sync, never an UpdateEnvironment, while the stack syncs in the worst
 * order MWAA allows (the DAG file first, the library a minute later). No parse fails meanwhile,
 * the first task waits for the library through its retries, the run uses the new library, and a
 * rollback brings the old one back from the bucket's versions; the next deploy removes the one no
 * DAG imports any more.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeployResult } from '../../src/deployer/deploy.js';
import type { DeployEvent } from '../../src/deployer/events.js';
import { changing, pruneActions } from '../../src/deployer/plan.js';
import { dagLibrary, libraryModules, type DagLibrary } from '../../src/generator/render-dag-library.js';
import { stackAirflowApi } from '../support/stack.js';
import { DAG_ID } from './deploy-run.js';
import { configVariant, controlPlaneSet, controlPlaneStats, libDeploy, requireLocalStack, statsDelta } from './deploy-helpers.js';

const stack = requireLocalStack();
const run = randomBytes(3).toString('hex');
const MARK = `library upgrade ${run}`;
const dagsFolder = stack.airflow?.dagsFolder ?? join(stack.airflowHome, 'dags');
// The standard config, with records of this file's own: a rollback here walks only its deploys.
const configPath = configVariant({ 'mwaa.deploymentsPrefix': `deployments-library-${run}` });
const HOLD_MS = 60_000;

/** The templates' library with one log line changed: what a toolkit upgrade touching only the library ships. */
function upgradedLibrary(): DagLibrary {
  const modules = libraryModules().map((m) => {
    if (m.name !== 'tasks.py') return m;
    const source = m.bytes.toString('utf8');
    const changed = source.replace('log.info("Run targets %d', `log.info("Run targets (${MARK}) %d`);
    expect(changed).not.toBe(source);
    return { ...m, bytes: Buffer.from(changed) };
  });
  return dagLibrary(modules);
}

/** The log of validate_inputs' last try in a run, and how many tries it took. */
async function firstTaskLog(result: DeployResult): Promise<{ tries: number; log: string }> {
  const api = stackAirflowApi(stack);
  const instances = await api.taskInstances(DAG_ID, result.runId!);
  const first = instances.find((ti) => ti.taskId === 'validate_inputs');
  expect(first, JSON.stringify(instances)).toBeDefined();
  return { tries: first!.tryNumber, log: (await api.taskLog(DAG_ID, result.runId!, first!)) ?? '' };
}

afterAll(async () => {
  await controlPlaneSet(stack, 'behaviour', { dagSyncOrder: 'listing' });
});

describe('a library-only upgrade', () => {
  const base = dagLibrary();
  const upgraded = upgradedLibrary();

  it('is a DAG-folder sync with no environment update; no parse fails while the library lags; the run uses it', async () => {
    // What runs before: the standard build, recorded under this file's prefix.
    await libDeploy({ configPath });
    await controlPlaneSet(stack, 'behaviour', { dagSyncOrder: 'dag-files-first', dagSyncHoldMs: HOLD_MS });
    const before = await controlPlaneStats(stack);
    const api = stackAirflowApi(stack);
    const zip = join(dagsFolder, `${upgraded.package}.zip`);
    const seen: { zipWhenLive?: boolean } = {};
    const importErrors: string[] = [];
    let watching = true;
    // Every parse Airflow records while the library lags must be clean.
    const watcher = (async () => {
      while (watching) {
        for (const error of await api.importErrors()) importErrors.push(`${error.filename}: ${error.stackTrace.slice(-300)}`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    const emit = (event: DeployEvent) => {
      if (event.type === 'dag-ready') seen.zipWhenLive = existsSync(zip);
    };
    let result: DeployResult;
    try {
      result = await libDeploy({ configPath, library: upgraded, emit, options: { trigger: true, waitForRun: true } });
    } finally {
      watching = false;
      await watcher;
    }

    const writes = changing(result.plan.actions).map((a) => ('target' in a ? `${a.type} ${a.target.kind}` : a.type));
    expect(writes).toEqual(['upload dagLibrary', 'upload dag']);
    expect(statsDelta(before, await controlPlaneStats(stack)).UpdateEnvironment).toBe(0);
    // The deploy saw its DAG live (the new build tag parsed) before the library had arrived.
    expect(seen.zipWhenLive).toBe(false);
    expect(importErrors).toEqual([]);
    expect(result.runState).toBe('success');
    const first = await firstTaskLog(result);
    // The first try found no library and the retries waited for it; the run used the new one.
    expect(first.tries).toBeGreaterThanOrEqual(2);
    expect(first.log).toContain(MARK);
    expect(result.removed ?? []).toEqual([]);

    // The replaced DAG's library stays until the next deploy, which removes it.
    const next = await libDeploy({ configPath, library: upgraded });
    expect(next.removed).toEqual([expect.stringMatching(new RegExp(`/${base.package}\\.zip$`))]);
  }, 600_000);

  it("rolls back to the old library from the bucket's versions, and the next deploy removes the upgrade", async () => {
    await controlPlaneSet(stack, 'behaviour', { dagSyncOrder: 'listing' });
    const rolled = await libDeploy({ configPath, library: upgraded, options: { rollback: true, trigger: true, waitForRun: true } });
    expect(rolled.rollbackOf).toBeDefined();
    const copies = changing(rolled.plan.actions).flatMap((a) => (a.type === 'copy' ? [a.target.kind] : []));
    // The old library was removed from the DAG folder: it comes back from its version in the bucket.
    expect(copies).toEqual(['dagLibrary', 'dag']);
    expect(rolled.runState).toBe('success');
    const first = await firstTaskLog(rolled);
    expect(first.log).toContain('Run targets');
    expect(first.log).not.toContain(MARK);
    expect(existsSync(join(dagsFolder, `${base.package}.zip`))).toBe(true);

    const next = await libDeploy({ configPath });
    expect(changing(next.plan.actions).filter((a) => !pruneActions([a]).length)).toEqual([]);
    expect(next.removed).toEqual([expect.stringMatching(new RegExp(`/${upgraded.package}\\.zip$`))]);
  }, 600_000);
});
