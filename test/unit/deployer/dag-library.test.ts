/**
 * The DAG library in a deploy: uploaded before the DAG that imports it, with no environment update;
 * a library no DAG imports any more removed one deploy later (the replaced DAG's stays until then);
 * every record keeps its library's version, so a rollback copies it back from the bucket.
 */
import { describe, expect, it } from 'vitest';
import { deploy, type DeployOptions } from '../../../src/deployer/deploy.js';
import type { DeployEvent } from '../../../src/deployer/events.js';
import { formatPlan, planJson } from '../../../src/deployer/format.js';
import { plan, pruneActions, type DeployTarget, type RemoteState } from '../../../src/deployer/plan.js';
import { airflowApi } from '../../../src/mwaa/airflow-api.js';
import { newestOfLine } from '../../../src/mwaa/versions.js';
import { FakeAirflow } from '../support/fake-airflow.js';
import { FakeClock, FakeMwaa, FakeS3, sha256 } from './fakes.js';
import { DEPLOY_SETTINGS, OPTIONS, SETTINGS, target, targets } from './helpers.js';

const LIB = (hash: string) => `dags/gpu_cicd_lib_${hash.repeat(12)}.zip`;

/** The targets of a build whose DAG imports library `hash` (a, b, c...). */
function build(hash: string): DeployTarget[] {
  const dag = `# DAG\ndef library():\n    archive = "gpu_cicd_lib_${hash.repeat(12)}.zip"\n`;
  return [target('dagLibrary', LIB(hash), `zip ${hash}`), ...targets({ dag })];
}

function world() {
  const clock = new FakeClock();
  const s3 = new FakeS3();
  const mwaa = new FakeMwaa(clock, { name: 'env-x' });
  const fake = new FakeAirflow('2');
  const cli = fake.cli();
  const airflow = airflowApi({ version: newestOfLine('2'), cli, rest: fake.rest(), onFallback: () => undefined });
  const events: DeployEvent[] = [];
  const deps = { s3, mwaa, cli, airflow, clock, emit: (e: DeployEvent) => events.push(e), who: { user: 'tester', host: 'box', pid: 42 } };
  const settings = DEPLOY_SETTINGS;
  const run = (t: DeployTarget[], options: Partial<DeployOptions> = {}) => {
    events.length = 0;
    s3.calls.length = 0;
    return deploy(settings, t, { ...OPTIONS, ...options }, deps);
  };
  const libraries = () => [...s3.objects.keys()].filter((k) => k.startsWith('dags/gpu_cicd_lib_') && s3.text(k) !== undefined).sort();
  return { s3, mwaa, events, run, libraries };
}

describe('plan: stale DAG libraries', () => {
  const base: RemoteState = {
    environment: { name: 'env-x', status: 'AVAILABLE', pins: {} },
    versioning: 'Enabled',
    current: {},
    pinned: {},
  };

  it("removes every library zip but this deploy's and the one the replaced DAG imports, after everything else", () => {
    const remote: RemoteState = {
      ...base,
      dagLibraries: { keys: [LIB('a'), LIB('b'), LIB('c')], inUse: LIB('b') },
    };
    const p = plan(SETTINGS, build('c'), remote);
    expect(pruneActions(p.actions)).toEqual([{ type: 'delete-stale-library', key: LIB('a') }]);
    expect(p.actions.at(-1)).toEqual({ type: 'delete-stale-library', key: LIB('a') });
    expect(formatPlan(p, 'env-x')).toMatch(
      new RegExp(`remove\\s+${LIB('a').replace(/\./g, '\\.')}\\s+DAG library no DAG imports any more`),
    );
    expect(planJson(p)).toMatchObject({ actions: expect.arrayContaining([{ type: 'delete-stale-library', key: LIB('a') }]) });
  });

  it('removes nothing when the libraries were not read (no DAG among the targets)', () => {
    expect(pruneActions(plan(SETTINGS, build('c'), base).actions)).toEqual([]);
  });
});

describe('deploy: the DAG library', () => {
  it('a library-only upgrade writes the new library before the DAG, never updates the environment, and removes the old one a deploy later', async () => {
    const w = world();
    await w.run(build('a'));
    const updates = w.mwaa.updates.length;

    const upgrade = await w.run(build('b'));
    expect(w.mwaa.updates.length).toBe(updates);
    expect(w.s3.writes.filter((c) => !c.includes('deployments/'))).toEqual([`put ${LIB('b')}`, 'put dags/gpu_server_cicd_dag.py']);
    // The replaced DAG imported a: a worker may still run it, so a stays for now.
    expect(pruneActions(upgrade.plan.actions)).toEqual([]);
    expect(w.libraries()).toEqual([LIB('a'), LIB('b')]);
    const record = JSON.parse(w.s3.text(upgrade.recordKey!)!);
    expect(record.objects).toContainEqual(expect.objectContaining({ kind: 'dagLibrary', key: LIB('b'), versionId: expect.any(String) }));

    const next = await w.run(build('b'));
    expect(next.plan.changes).toBe(1);
    expect(next.removed).toEqual([LIB('a')]);
    expect(w.events).toContainEqual({ type: 'object-deleted', key: LIB('a') });
    expect(w.libraries()).toEqual([LIB('b')]);
    // Removing a stale library changes nothing that runs: no record for it.
    expect(next.recordKey).toBeUndefined();
    expect((await w.run(build('b'))).plan.changes).toBe(0);
  });

  it('a rollback copies the library its record used back from the bucket, even after it was removed', async () => {
    const w = world();
    await w.run(build('a'));
    await w.run(build('b'));
    await w.run(build('b'));
    expect(w.libraries()).toEqual([LIB('b')]);

    const rolled = await w.run(build('b'), { rollback: true });
    expect(rolled.rollbackOf).toBeDefined();
    expect(w.s3.writes).toContain(`copy ${LIB('a')}@${w.s3.objects.get(LIB('a'))![0]!.versionId}`);
    expect(w.s3.text(LIB('a'))).toBe('zip a');
    expect(w.s3.text('dags/gpu_server_cicd_dag.py')).toContain('gpu_cicd_lib_aaaaaaaaaaaa.zip');
    // b is what the replaced DAG imported: it stays until the next deploy.
    expect(w.libraries()).toEqual([LIB('a'), LIB('b')]);
    expect(sha256('zip a')).toBe(
      JSON.parse(w.s3.text(rolled.recordKey!)!).objects.find((o: { kind: string }) => o.kind === 'dagLibrary').sha256,
    );
  });

  it("keeps a library someone else's DAG file names nowhere near ours: only gpu_cicd_lib_<hash12>.zip directly in the DAG folder is ours", async () => {
    const w = world();
    await w.s3.putObject({ bucket: 'airflow-test', key: 'dags/team/gpu_cicd_lib_dddddddddddd.zip', body: Buffer.from('theirs') });
    await w.s3.putObject({ bucket: 'airflow-test', key: 'dags/gpu_cicd_lib_notours.zip', body: Buffer.from('theirs') });
    await w.run(build('a'));
    await w.run(build('b'));
    await w.run(build('b'));
    expect(w.s3.text('dags/team/gpu_cicd_lib_dddddddddddd.zip')).toBe('theirs');
    expect(w.s3.text('dags/gpu_cicd_lib_notours.zip')).toBe('theirs');
  });
});
