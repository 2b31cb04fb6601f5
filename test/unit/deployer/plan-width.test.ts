/**
 * The text plan stays readable with real S3 version ids (32 characters each): they are shortened
 * there, and whole in --json.
 */
import { describe, expect, it } from 'vitest';
import { formatPlan, planJson } from '../../../src/deployer/format.js';
import { plan, type RemoteState } from '../../../src/deployer/plan.js';
import { sha256 } from './fakes.js';
import { SETTINGS, targets } from './helpers.js';

/** Version ids as S3 hands them out: 32 characters of a URL-safe alphabet. */
const id = (seed: string) => `${seed}sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHYa`.slice(0, 32);

function deployed(): RemoteState {
  return {
    environment: {
      name: 'env-x',
      status: 'AVAILABLE',
      airflowVersion: SETTINGS.airflowVersion,
      pins: { plugins: { path: 'plugins.zip', version: id('p1') }, requirements: { path: 'requirements.txt', version: id('r1') } },
    },
    versioning: 'Enabled',
    current: {
      'dags/gpu_server_cicd_dag.py': { sha256: sha256('dag v1'), versionId: id('d1') },
      // Both uploaded by a deploy that stopped before UpdateEnvironment: pinned now without a write.
      'plugins.zip': { sha256: sha256('plugins v2'), versionId: id('p2') },
      'requirements.txt': { sha256: sha256('reqs v2'), versionId: id('r2') },
      'config/local/config.yaml': { sha256: sha256('config v1'), versionId: id('c1') },
    },
    pinned: {
      plugins: { sha256: sha256('plugins v1'), versionId: id('p1') },
      requirements: { sha256: sha256('reqs v1'), versionId: id('r1') },
    },
  };
}

describe('plan width', () => {
  it('rows fit 120 columns with two 32-character version ids in the update, which --json keeps whole', () => {
    const p = plan(SETTINGS, targets({ plugins: 'plugins v2', requirements: 'reqs v2' }), deployed());
    const text = formatPlan(p, 'env-x');
    expect(text).toContain('update-env');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    expect(text).toContain(`${id('p2').slice(0, 8)}…`);
    expect(text).not.toContain(id('p2'));
    expect(JSON.stringify(planJson(p))).toContain(id('p2'));
  });
});
