import { describe, expect, it } from 'vitest';
import { artifactDiff, planDiffs, zipChanges } from '../../../src/deployer/diff.js';
import { diffsMarkdown, formatDiffs, formatPlan, planMarkdown } from '../../../src/deployer/format.js';
import { plan, type DeployTarget, type RemoteState } from '../../../src/deployer/plan.js';
import { readRemoteState } from '../../../src/deployer/remote-state.js';
import { deterministicZip } from '../../../src/generator/zip.js';
import { ansiStyle } from '../../../src/util/style.js';
import { FakeClock, FakeMwaa, FakeS3, sha256 } from './fakes.js';
import { SETTINGS, target } from './helpers.js';

const zip = (files: Record<string, string>) =>
  deterministicZip(Object.entries(files).map(([name, text]) => ({ name, bytes: Buffer.from(text) })));

function zipTarget(bytes: Buffer): DeployTarget {
  return {
    kind: 'plugins',
    path: 'plugins.zip',
    key: 'plugins.zip',
    sha256: sha256(bytes),
    size: bytes.length,
    source: { type: 'bytes', bytes },
  };
}

describe('artifactDiff', () => {
  it('diffs text against the deployed bytes, and a new object against nothing', () => {
    const changed = artifactDiff({
      kind: 'dag',
      key: 'dags/d.py',
      oldBytes: Buffer.from('a = 1\nb = 2\n'),
      newBytes: Buffer.from('a = 1\nb = 3\n'),
    });
    expect(changed).toMatchObject({ change: 'changed', label: 'DAG file' });
    expect(changed.diff).toBe('--- a/dags/d.py\n+++ b/dags/d.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n');
    const added = artifactDiff({ kind: 'config', key: 'config/dev/config.yaml', oldBytes: undefined, newBytes: Buffer.from('x: 1\n') });
    expect(added.change).toBe('new');
    expect(added.diff).toBe('--- /dev/null\n+++ b/config/dev/config.yaml\n@@ -0,0 +1 @@\n+x: 1\n');
  });

  it('says binary content differs rather than printing it', () => {
    const diff = artifactDiff({ kind: 'dag', key: 'k', oldBytes: Buffer.from([0, 1, 2]), newBytes: Buffer.from([0, 1, 3]) });
    expect(diff.binary).toBe(true);
    expect(diff.diff).toBeUndefined();
  });

  it('lists the members two zips differ in, with the diff of changed text members', async () => {
    const before = await zip({ 'gpu_ssh_utils.py': 'A = 1\n', 'old.py': 'x\n', 'same.py': 's\n' });
    const after = await zip({ 'gpu_ssh_utils.py': 'A = 2\n', 'new.py': 'y\n', 'same.py': 's\n' });
    expect(zipChanges(before, after, 'plugins.zip')).toEqual([
      {
        name: 'gpu_ssh_utils.py',
        change: 'changed',
        oldSize: 6,
        newSize: 6,
        diff: '--- a/plugins.zip/gpu_ssh_utils.py\n+++ b/plugins.zip/gpu_ssh_utils.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n',
      },
      { name: 'new.py', change: 'added', newSize: 2 },
      { name: 'old.py', change: 'removed', oldSize: 2 },
    ]);
    const diff = artifactDiff({ kind: 'plugins', key: 'plugins.zip', oldBytes: before, newBytes: after });
    expect(diff.members?.map((m) => `${m.change} ${m.name}`)).toEqual(['changed gpu_ssh_utils.py', 'added new.py', 'removed old.py']);
  });
});

describe('planDiffs', () => {
  async function deployed() {
    const s3 = new FakeS3();
    const mwaa = new FakeMwaa(new FakeClock());
    const pluginsV1 = await zip({ 'gpu_ssh_utils.py': 'A = 1\n' });
    const put = async (t: DeployTarget) => {
      const bytes = (t.source as { bytes: Uint8Array }).bytes;
      return (await s3.putObject({ bucket: SETTINGS.bucket, key: t.key, body: bytes, metadata: { sha256: t.sha256 } })).versionId!;
    };
    const pinned = await put(zipTarget(pluginsV1));
    await put(target('dag', 'dags/d.py', 'retries = 1\n'));
    mwaa.state.pins = { plugins: { path: 'plugins.zip', version: pinned } };
    return { s3, mwaa, pinned };
  }

  it('diffs what the plan writes against what the environment runs: the pinned version, the current object', async () => {
    const { s3, mwaa, pinned } = await deployed();
    // A plugins.zip uploaded after the pinned one but never pinned: MWAA still runs the pinned one.
    const stray = await zip({ 'gpu_ssh_utils.py': 'A = 99\n' });
    await s3.putObject({ bucket: SETTINGS.bucket, key: 'plugins.zip', body: stray, metadata: { sha256: sha256(stray) } });
    const targets = [zipTarget(await zip({ 'gpu_ssh_utils.py': 'A = 2\n' })), target('dag', 'dags/d.py', 'retries = 2\n')];
    const remote: RemoteState = await readRemoteState(s3, mwaa, SETTINGS.bucket, SETTINGS.environmentName, targets);
    const p = plan(SETTINGS, targets, remote);
    const diffs = await planDiffs(s3, SETTINGS.bucket, p.actions, remote);
    expect(diffs.map((d) => [d.key, d.change, d.against])).toEqual([
      ['plugins.zip', 'changed', { versionId: pinned, pinned: true }],
      ['dags/d.py', 'changed', { versionId: expect.any(String), pinned: false }],
    ]);
    expect(diffs[0]!.members?.[0]?.diff).toContain('-A = 1\n+A = 2\n');
    expect(diffs[1]!.diff).toContain('-retries = 1\n+retries = 2\n');
    expect(s3.calls.filter((c) => c.startsWith('get '))).toEqual([`get plugins.zip@${pinned}`, 'get dags/d.py']);
  });

  it('diffs a new DAG library against the library the DAG in the bucket imports, module by module', async () => {
    const s3 = new FakeS3();
    const mwaa = new FakeMwaa(new FakeClock(), { name: 'env-x' });
    const old = await zip({ 'gpu_cicd_lib_aaaaaaaaaaaa/tasks.py': 'A = 1\n', 'gpu_cicd_lib_aaaaaaaaaaaa/params.py': 'P = 1\n' });
    const oldKey = 'dags/gpu_cicd_lib_aaaaaaaaaaaa.zip';
    await s3.putObject({ bucket: SETTINGS.bucket, key: oldKey, body: old, metadata: { sha256: sha256(old) } });
    const dagV1 = 'library = "gpu_cicd_lib_aaaaaaaaaaaa.zip"\n';
    await s3.putObject({ bucket: SETTINGS.bucket, key: 'dags/d.py', body: Buffer.from(dagV1), metadata: { sha256: sha256(dagV1) } });
    const next = await zip({ 'gpu_cicd_lib_bbbbbbbbbbbb/tasks.py': 'A = 2\n', 'gpu_cicd_lib_bbbbbbbbbbbb/params.py': 'P = 1\n' });
    const library: DeployTarget = {
      ...zipTarget(next),
      kind: 'dagLibrary',
      path: 'dags/gpu_cicd_lib_bbbbbbbbbbbb.zip',
      key: 'dags/gpu_cicd_lib_bbbbbbbbbbbb.zip',
    };
    const targets = [library, target('dag', 'dags/d.py', 'library = "gpu_cicd_lib_bbbbbbbbbbbb.zip"\n')];
    const remote = await readRemoteState(s3, mwaa, SETTINGS.bucket, SETTINGS.environmentName, targets, undefined, 'dags');
    expect(remote.dagLibraries).toEqual({ keys: [oldKey], inUse: oldKey });
    const [diff] = await planDiffs(s3, SETTINGS.bucket, plan(SETTINGS, targets, remote).actions, remote);
    expect(diff).toMatchObject({ key: library.key, change: 'changed', against: { key: oldKey, pinned: false } });
    // Compared by their names inside the package: one module changed, none added or removed.
    expect(diff!.members!.map((m) => [m.name, m.change])).toEqual([['tasks.py', 'changed']]);
    expect(diff!.members![0]!.diff).toContain('-A = 1\n+A = 2\n');
    expect(formatDiffs([diff!])).toContain(
      `${library.key}: changed DAG library, against ${oldKey}, the library the DAG in the bucket imports`,
    );
  });

  it('reads nothing for objects the plan skips', async () => {
    const { s3, mwaa } = await deployed();
    const targets = [target('dag', 'dags/d.py', 'retries = 1\n')];
    const remote = await readRemoteState(s3, mwaa, SETTINGS.bucket, SETTINGS.environmentName, targets);
    expect(await planDiffs(s3, SETTINGS.bucket, plan(SETTINGS, targets, remote).actions, remote)).toEqual([]);
    expect(s3.calls.filter((c) => c.startsWith('get '))).toEqual([]);
  });
});

describe('plan and diff views', () => {
  const available: RemoteState = {
    environment: { name: 'env-x', status: 'AVAILABLE', airflowVersion: '2.10.3', pins: {} },
    versioning: 'Enabled',
    current: {},
    pinned: {},
  };

  it('a refused plan says it is refused, never "No changes"', () => {
    const refused = plan(SETTINGS, [target('dag', 'dags/d.py', 'x')], { ...available, versioning: 'Suspended' });
    const text = formatPlan(refused, 'env-x');
    expect(text).toMatch(/REFUSED: Bucket airflow-test has versioning Suspended/);
    expect(text).not.toMatch(/No changes/);
    expect(text.trimEnd().split('\n').pop()).toBe('Refused: none of the 1 change will be applied until the problems above are fixed.');
    const nothing = plan(SETTINGS, [], { ...available, environment: { ...available.environment, airflowVersion: '2.9.2' } });
    expect(formatPlan(nothing, 'env-x').trimEnd().split('\n').pop()).toBe(
      'Refused: nothing will be applied until the problems above are fixed.',
    );
  });

  it('colours verbs and refusals on a terminal only', () => {
    const p = plan(SETTINGS, [target('dag', 'dags/d.py', 'x')], available);
    expect(formatPlan(p, 'env-x', ansiStyle)).toContain('\u001b[32mupload');
    expect(formatPlan(p, 'env-x')).not.toContain('\u001b');
  });

  it('renders the plan as a Markdown table for a job summary', () => {
    const p = plan(SETTINGS, [target('dag', 'dags/d.py', 'x'), target('requirements', 'requirements.txt', 'r')], {
      ...available,
      versioning: 'Suspended',
    });
    const md = planMarkdown(p, 'env-x', 'prod');
    expect(md).toContain('### Deploy plan for `env-x` (prod)');
    expect(md).toContain('| action | object | detail |\n|---|---|---|\n| upload | `requirements.txt` |');
    expect(md).toMatch(/> \*\*REFUSED:\*\* Bucket airflow-test has versioning Suspended/);
    expect(md.trimEnd().split('\n').pop()).toBe('**Refused: none of the 3 changes will be applied until the problems above are fixed.**');
  });

  it('prints diffs as text and as collapsed Markdown sections whose fence the content cannot close', () => {
    const diffs = [
      artifactDiff({
        kind: 'dag',
        key: 'dags/d.py',
        oldBytes: Buffer.from('doc = """```"""\n'),
        newBytes: Buffer.from('doc = """````"""\n'),
      }),
    ];
    const text = formatDiffs(diffs);
    expect(text).toContain('=== dags/d.py: changed DAG file\n');
    expect(text).toContain('-doc = """```"""\n+doc = """````"""');
    const md = diffsMarkdown(diffs);
    expect(md).toContain('<details><summary>dags/d.py: changed DAG file');
    expect(md).toContain('`````diff\n--- a/dags/d.py');
    expect(md).toMatch(/\n`````\n\n<\/details>/);
  });

  it('cuts long Markdown diffs to stay within a comment', () => {
    const big = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n');
    const md = diffsMarkdown([artifactDiff({ kind: 'dag', key: 'd.py', oldBytes: Buffer.from(''), newBytes: Buffer.from(big) })], 2000);
    expect(md.length).toBeLessThan(3000);
    expect(md).toContain('(cut; run deploy --plan --diff to see all of it)');
  });
});
