import { describe, expect, it } from 'vitest';
import { formatPlan, planJson, planMarkdown } from '../../../src/deployer/format.js';
import { artifactActions, plan, type RemoteState } from '../../../src/deployer/plan.js';
import type { EnvironmentState, ObjectHead } from '../../../src/deployer/ports.js';
import { SETTINGS, targets } from './helpers.js';
import { sha256 } from './fakes.js';

const ENV: EnvironmentState = {
  name: 'env-x',
  status: 'AVAILABLE',
  airflowVersion: '2.10.3',
  bucket: 'airflow-test',
  dagS3Path: 'dags',
  pins: {},
};

function head(text: string, versionId: string): ObjectHead {
  return { sha256: sha256(text), versionId };
}

/** Remote state where everything from targets() (v1) is deployed and pinned. */
function deployedState(): RemoteState {
  return {
    environment: {
      ...ENV,
      pins: { plugins: { path: 'plugins.zip', version: 'p1' }, requirements: { path: 'requirements.txt', version: 'r1' } },
    },
    versioning: 'Enabled',
    current: {
      'dags/gpu_server_cicd_dag.py': head('dag v1', 'd1'),
      'plugins.zip': head('plugins v1', 'p1'),
      'requirements.txt': head('reqs v1', 'r1'),
      'config/local/config.yaml': head('config v1', 'c1'),
    },
    pinned: { plugins: head('plugins v1', 'p1'), requirements: head('reqs v1', 'r1') },
  };
}

const summary = (p: ReturnType<typeof plan>) =>
  artifactActions(p.actions).map((a) => (a.type === 'update-environment' ? 'update' : `${a.type} ${a.target.key}`));

describe('plan', () => {
  it('first deploy: uploads plugins and requirements, pins them, then the DAG and config', () => {
    const p = plan(SETTINGS, targets(), { environment: ENV, versioning: 'Enabled', current: {}, pinned: {} });
    expect(summary(p)).toEqual([
      'upload requirements.txt',
      'upload plugins.zip',
      'update',
      'upload dags/gpu_server_cicd_dag.py',
      'upload config/local/config.yaml',
    ]);
    const update = p.actions[2];
    expect(update).toMatchObject({
      type: 'update-environment',
      pins: {
        plugins: { key: 'plugins.zip', fromWrite: true },
        requirements: { key: 'requirements.txt', fromWrite: true },
      },
    });
    expect(p.changes).toBe(5);
    expect(p.refusals).toEqual([]);
  });

  it('nothing changed: every action is a skip and changes is 0', () => {
    const p = plan(SETTINGS, targets(), deployedState());
    expect(p.actions.every((a) => a.type === 'skip')).toBe(true);
    expect(p.changes).toBe(0);
  });

  it('DAG-only change: one upload, no environment update', () => {
    const p = plan(SETTINGS, targets({ dag: 'dag v2' }), deployedState());
    expect(p.actions.filter((a) => a.type !== 'skip').map((a) => a.type)).toEqual(['upload']);
    expect(p.changes).toBe(1);
  });

  it('plugins change: upload, update pinning only plugins, before the DAG', () => {
    const p = plan(SETTINGS, targets({ plugins: 'plugins v2', dag: 'dag v2' }), deployedState());
    expect(summary(p)).toEqual([
      'skip requirements.txt',
      'upload plugins.zip',
      'update',
      'upload dags/gpu_server_cicd_dag.py',
      'skip config/local/config.yaml',
    ]);
    const update = p.actions.find((a) => a.type === 'update-environment')!;
    expect(update).toMatchObject({ pins: { plugins: { fromWrite: true } } });
    expect(update.type === 'update-environment' && update.pins.requirements).toBeFalsy();
  });

  it('an upload that was never pinned (interrupted deploy) is pinned without writing it again', () => {
    const remote = deployedState();
    remote.current['plugins.zip'] = head('plugins v2', 'p2');
    const p = plan(SETTINGS, targets({ plugins: 'plugins v2' }), remote);
    expect(summary(p)).toContain('skip plugins.zip');
    expect(p.actions.find((a) => a.type === 'update-environment')).toMatchObject({
      pins: { plugins: { key: 'plugins.zip', versionId: 'p2' } },
    });
    expect(p.changes).toBe(1);
  });

  it('the pinned version counts, not the latest one: same content pinned means no update', () => {
    const remote = deployedState();
    remote.current['plugins.zip'] = head('something else uploaded by hand', 'p9');
    const p = plan(SETTINGS, targets(), remote);
    expect(p.changes).toBe(0);
  });

  it('objects without our sha256 metadata are re-uploaded', () => {
    const remote = deployedState();
    remote.current['dags/gpu_server_cicd_dag.py'] = { versionId: 'x' };
    const p = plan(SETTINGS, targets(), remote);
    expect(summary(p)).toContain('upload dags/gpu_server_cicd_dag.py');
  });

  it('rollback targets become copies of the old version', () => {
    const t = targets({ plugins: 'plugins v1' }).map((x) =>
      x.kind === 'plugins' ? { ...x, source: { type: 'version' as const, versionId: 'p1' } } : x,
    );
    const remote = deployedState();
    remote.current['plugins.zip'] = head('plugins v2', 'p2');
    remote.environment.pins.plugins = { path: 'plugins.zip', version: 'p2' };
    remote.pinned.plugins = head('plugins v2', 'p2');
    const p = plan(SETTINGS, t, remote);
    expect(p.actions.find((a) => a.type === 'copy' && a.target.key === 'plugins.zip')).toMatchObject({
      type: 'copy',
      sourceVersionId: 'p1',
    });
  });

  describe('refusals', () => {
    it.each([
      [{ versioning: 'Suspended' }, 'versioning', /put-bucket-versioning --bucket airflow-test --versioning-configuration Status=Enabled/],
      [{ versioning: undefined }, 'versioning', /never enabled/],
      [{ env: { airflowVersion: '2.9.2' } }, 'airflow-version', /runs Airflow 2\.9\.2 but the config targets 2\.10\.3/],
      [{ env: { status: 'UPDATING' } }, 'status', /is UPDATING \(an update is being applied\), not AVAILABLE.*--wait-for-available/],
      [{ env: { bucket: 'airflow-other' } }, 'bucket', /airflow-other/],
      [{ env: { dagS3Path: 'other-dags/' } }, 'dag-path', /other-dags/],
    ] as const)('%j → %s', (change, code, message) => {
      const remote = deployedState();
      if ('versioning' in change) remote.versioning = change.versioning;
      if ('env' in change) Object.assign(remote.environment, change.env);
      const p = plan(SETTINGS, targets(), remote);
      expect(p.refusals.map((r) => r.code)).toEqual([code]);
      expect(p.refusals[0]!.message).toMatch(message);
    });

    it.each([
      [
        '2.10.3',
        '3.3.1',
        /or change the environment's version first: aws mwaa update-environment --name env-x --airflow-version 2\.11\.2, then aws mwaa update-environment --name env-x --airflow-version 3\.3\.1 \(MWAA moves 2\.x to 3\.x in place only from 2\.11\.2\); or create a new environment on Airflow 3\.3\.1/,
      ],
      ['2.11.2', '3.3.1', /first: aws mwaa update-environment --name env-x --airflow-version 3\.3\.1\.$/],
      ['3.3.1', '2.11.2', /first: aws mwaa update-environment --name env-x --airflow-version 2\.11\.2\.$/],
      ['3.3.1', '2.10.3', /MWAA cannot change 3\.3\.1 to 2\.10\.3 in place: create a new environment/],
    ])("the hint from %s to %s follows MWAA's version rules", (from, to, hint) => {
      const remote = deployedState();
      remote.environment.airflowVersion = from;
      const p = plan({ ...SETTINGS, airflowVersion: to }, targets(), remote);
      expect(p.refusals[0]!.message).toMatch(hint);
    });

    it.each([
      ['MAINTENANCE', /is MAINTENANCE \(MWAA is applying maintenance in its weekly maintenance window\), not AVAILABLE\. Wait for it/],
      ['CREATING_SNAPSHOT', /is CREATING_SNAPSHOT \(MWAA is snapshotting its metadata database.*\. Wait for it/],
      ['ROLLING_BACK', /is ROLLING_BACK \(an update failed and MWAA is restoring the previous version\)/],
      ['UNAVAILABLE', /is UNAVAILABLE .*; waiting will not help\./],
      [
        'PENDING',
        /is PENDING \(MWAA paused its creation until the VPC endpoints it needs exist in your VPC \(EndpointManagement CUSTOMER\); without them it becomes CREATE_FAILED 72 hours after the create request\), not AVAILABLE\. Create the VPC endpoints .*vpc-endpoint-management\.html.*; waiting here will not help\.$/,
      ],
    ])('%s is refused with what it means and whether waiting helps', (status, message) => {
      const remote = deployedState();
      remote.environment.status = status;
      expect(plan(SETTINGS, targets(), remote).refusals.map((r) => r.message)).toEqual([expect.stringMatching(message)]);
    });

    it('UPDATE_FAILED is usable (MWAA rolled back) with a warning carrying the error', () => {
      const remote = deployedState();
      remote.environment.status = 'UPDATE_FAILED';
      remote.environment.lastUpdate = { status: 'FAILED', errorCode: 'X', errorMessage: 'plugins broke' };
      const p = plan(SETTINGS, targets(), remote);
      expect(p.refusals).toEqual([]);
      expect(p.warnings[0]).toMatch(/UPDATE_FAILED.*plugins broke/);
    });

    it('PRIVATE_ONLY is a note (the trigger needs the VPC), shown by the plan; other access modes say nothing', () => {
      const remote = deployedState();
      remote.environment.webserverAccessMode = 'PRIVATE_ONLY';
      const p = plan(SETTINGS, targets({ dag: 'dag v2' }), remote);
      expect(p.refusals).toEqual([]);
      expect(p.warnings).toEqual([]);
      expect(p.notes).toEqual([expect.stringMatching(/^Environment env-x is PRIVATE_ONLY \(WebserverAccessMode\).*--no-trigger/)]);
      expect(formatPlan(p, 'env-x')).toContain(`  note: ${p.notes![0]}`);
      expect(planMarkdown(p, 'env-x', 'local')).toContain(`> **note:** ${p.notes![0]}`);
      expect(planJson(p)).toMatchObject({ notes: p.notes });
      for (const mode of ['PUBLIC_ONLY', undefined]) {
        remote.environment.webserverAccessMode = mode;
        expect(plan(SETTINGS, targets(), remote).notes).toBeUndefined();
      }
    });

    it('a trailing slash on DagS3Path is the same prefix', () => {
      const remote = deployedState();
      remote.environment.dagS3Path = 'dags/';
      expect(plan(SETTINGS, targets(), remote).refusals).toEqual([]);
    });
  });
});
