import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_KINDS, ARTIFACT_KINDS, dagLibraryOfKey, kindKeyPattern, UPLOADED_KINDS } from '../../../src/artifacts/kinds.js';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import type { ResolvedConfig } from '../../../src/config/resolved.js';
import { dagBuildTag } from '../../../src/generator/artifact.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { dagBuild, renderDag } from '../../../src/generator/render-dag.js';
import { dagLibrary, libraryHash, libraryModules, renderDagLibrary } from '../../../src/generator/render-dag-library.js';
import { templatePath } from '../../../src/generator/templates.js';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const meta = { toolVersion: '0.1.0', configHash: 'f'.repeat(64) };

async function config(env: string, change: (c: ResolvedConfig) => void = () => {}): Promise<ResolvedConfig> {
  const resolved = resolveConfig(await readConfigFile(), env);
  change(resolved);
  return resolved;
}

/** The entries of a stored zip (deterministicZip stores, never deflates), read with Python's zipfile. */
function zipEntries(bytes: Buffer): Array<{ name: string; sha256: string }> {
  const listing = spawnSync(
    'python3',
    [
      '-c',
      'import sys,zipfile,io,hashlib,json; z=zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())); print(json.dumps([{"name": i.filename, "sha256": hashlib.sha256(z.read(i)).hexdigest()} for i in z.infolist()]))',
    ],
    { input: bytes, encoding: 'utf8' },
  );
  expect(listing.status, listing.stderr).toBe(0);
  return JSON.parse(listing.stdout) as Array<{ name: string; sha256: string }>;
}

describe('the DAG library zip', () => {
  it('holds every module of templates/dag/gpu_cicd_lib byte for byte, in its content-addressed package and nothing at its top level', async () => {
    const source = templatePath('dag/gpu_cicd_lib');
    const modules = readdirSync(source)
      .filter((name) => name.endsWith('.py') || name.endsWith('.json'))
      .sort();
    expect(modules).toEqual(
      expect.arrayContaining([
        '__init__.py',
        'tasks.py',
        'airflow2.py',
        'airflow3.py',
        'version_file.py',
        'gpus.py',
        'nvidia_smi_query.json',
      ]),
    );
    const library = dagLibrary();
    expect(library.package).toMatch(/^gpu_cicd_lib_[0-9a-f]{12}$/);
    expect(library.package).toBe(`gpu_cicd_lib_${library.sha256.slice(0, 12)}`);
    const file = await renderDagLibrary(library);
    expect(file.path).toBe(`dags/${library.package}.zip`);
    // Airflow looks for DAG files only at a zip's top level: every entry is inside the package.
    expect(zipEntries(file.bytes)).toEqual(
      modules.map((name) => ({ name: `${library.package}/${name}`, sha256: sha256(readFileSync(join(source, name))) })),
    );
    expect((await renderDagLibrary(dagLibrary())).bytes.equals(file.bytes)).toBe(true);
  });

  it('is named by the hash of its file names and bytes: the same files, the same name; any change, a new one', () => {
    const members = libraryModules();
    const hash = libraryHash(members);
    expect(libraryHash([...members].reverse())).toBe(hash);
    const edited = members.map((m, i) => (i === 0 ? { ...m, bytes: Buffer.concat([m.bytes, Buffer.from('\n')]) } : m));
    expect(libraryHash(edited)).not.toBe(hash);
    expect(dagLibrary(edited).package).not.toBe(dagLibrary(members).package);
    const renamed = members.map((m, i) => (i === 0 ? { ...m, name: `x${m.name}` } : m));
    expect(libraryHash(renamed)).not.toBe(hash);
    expect(libraryHash(members.slice(1))).not.toBe(hash);
    expect(dagLibrary().sha256).toBe(dagLibrary().sha256);
  });
});

describe('the DAG build tag', () => {
  it('changes when only the library changes, and the DAG then imports the new package', async () => {
    const c = await config('prod');
    const library = dagLibrary();
    const other = { package: 'gpu_cicd_lib_0123456789ab', sha256: `0123456789ab${'0'.repeat(52)}` };
    const before = renderDag(c, meta, library);
    const after = renderDag(c, meta, other);
    const tag = (source: string) => /"(build-[0-9a-f]{12})"/.exec(source)![1];
    expect(tag(after)).not.toBe(tag(before));
    expect(before).toContain(`from ${library.package} import tasks`);
    expect(after).toContain(`from ${other.package} import tasks`);
    // Nothing else differs: the config's values and the wiring are the same.
    const strip = (source: string, pkg: string) => source.replaceAll(tag(source)!, 'TAG').replaceAll(pkg, 'LIB');
    expect(strip(after, other.package)).toBe(strip(before, library.package));
  });

  it('is the tag the generated DAG carries, computed from the manifest alone', async () => {
    const generated = await generateEnvironment(await config('prod'), '0.0.0-test');
    const tag = dagBuildTag(generated.manifest);
    expect(tag).toMatch(/^build-[0-9a-f]{12}$/);
    const dag = generated.artifacts.find((a) => a.kind === 'dag')!;
    expect(dag.bytes.toString()).toContain(`"${tag}"`);
    // In its docs as well, which Airflow keeps only in the stored (serialized) DAG.
    expect(dag.bytes.toString()).toContain(`\nThis file (${tag}) is the config`);
    // The config, the tool version, the library and the template each change it.
    const base = { configHash: generated.manifest.configHash, tool: { version: '0.0.0-test' }, dagBuild: generated.manifest.dagBuild };
    expect(dagBuildTag(base)).toBe(tag);
    const changed = [
      { ...base, configHash: 'e'.repeat(64) },
      { ...base, tool: { version: '0.0.1' } },
      { ...base, dagBuild: { ...base.dagBuild, librarySha256: 'e'.repeat(64) } },
      { ...base, dagBuild: { ...base.dagBuild, templateSha256: 'e'.repeat(64) } },
    ];
    for (const variant of changed) expect(dagBuildTag(variant)).not.toBe(tag);
    expect(generated.manifest.dagBuild).toEqual(dagBuild(dagLibrary()));
  });
});

describe('the dagLibrary artifact kind', () => {
  it('comes before the DAG file in the table, whose order is upload order', () => {
    expect(ALL_KINDS.indexOf('dagLibrary')).toBeLessThan(ALL_KINDS.indexOf('dag'));
    expect(UPLOADED_KINDS).toContain('dagLibrary');
    expect(ARTIFACT_KINDS.dagLibrary.delivery).toBe('synced');
  });

  it('is one object in the DAG folder, for any dagsPrefix, listed in the manifest with its hash', async () => {
    for (const dagsPrefix of ['dags', 'team/airflow/dags']) {
      const c = await config('prod', (c) => {
        c.mwaa.dagsPrefix = dagsPrefix;
      });
      const generated = await generateEnvironment(c, '0.0.0-test');
      const file = await renderDagLibrary(dagLibrary());
      const entries = generated.manifest.artifacts.filter((a) => a.kind === 'dagLibrary');
      expect(entries.map((e) => e.path)).toEqual([file.path]);
      const [entry] = entries;
      expect(entry!.sha256).toBe(sha256(file.bytes));
      expect(entry!.size).toBe(file.bytes.length);
      expect(entry!.s3Key).toBe(`${dagsPrefix}/${dagLibrary().package}.zip`);
      expect(dagLibraryOfKey(dagsPrefix, entry!.s3Key!)).toBe(`${dagLibrary().package}.zip`);
      expect(generated.manifest.artifacts.find((a) => a.kind === 'dag')!.s3Key).toBe(`${dagsPrefix}/gpu_server_cicd_dag.py`);
      expect(kindKeyPattern('dagLibrary', c)).toBe(`${dagsPrefix}/gpu_cicd_lib_*`);
    }
  });

  it('tells library keys from the other keys of the DAG folder', () => {
    expect(dagLibraryOfKey('dags', 'dags/gpu_cicd_lib_0123456789ab.zip')).toBe('gpu_cicd_lib_0123456789ab.zip');
    expect(dagLibraryOfKey('dags/', 'dags/gpu_cicd_lib_0123456789ab.zip')).toBe('gpu_cicd_lib_0123456789ab.zip');
    for (const key of [
      'dags/gpu_server_cicd_dag.py',
      'dags/gpu_cicd_lib_0123456789ab',
      'dags/gpu_cicd_lib_0123456789ab/tasks.py',
      'dags/gpu_cicd_lib_0123456789AB.zip',
      'dags/gpu_cicd_lib_0123456789a.zip',
      'dags/gpu_cicd_lib_0123456789ab.zip.bak',
      'dags/users_own/gpu_cicd_lib_0123456789ab.zip',
      'other/gpu_cicd_lib_0123456789ab.zip',
    ]) {
      expect(dagLibraryOfKey('dags', key), key).toBeUndefined();
    }
  });

  it('generates byte-identical output on every run', async () => {
    const c = await config('prod');
    const [a, b] = [await generateEnvironment(c, '0.0.0-test'), await generateEnvironment(structuredClone(c), '0.0.0-test')];
    expect(b.files.map((f) => f.path)).toEqual(a.files.map((f) => f.path));
    for (const [index, file] of a.files.entries()) expect(b.files[index]!.bytes.equals(file.bytes), file.path).toBe(true);
  });
});
