import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_KINDS, ARTIFACT_KINDS, dagLibraryFolderOfKey, kindKeyPattern, UPLOADED_KINDS } from '../../../src/artifacts/kinds.js';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import type { ResolvedConfig } from '../../../src/config/resolved.js';
import { dagBuildTag } from '../../../src/generator/artifact.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { dagBuild, renderDag } from '../../../src/generator/render-dag.js';
import { airflowIgnore, libraryHash, libraryModules, renderDagLibrary } from '../../../src/generator/render-dag-library.js';
import { templatePath } from '../../../src/generator/templates.js';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const meta = { toolVersion: '0.1.0', configHash: 'f'.repeat(64) };

async function config(env: string, change: (c: ResolvedConfig) => void = () => {}): Promise<ResolvedConfig> {
  const resolved = resolveConfig(await readConfigFile(), env);
  change(resolved);
  return resolved;
}

const patterns = (text: string) => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('the DAG library folder', () => {
  it("ignores everything under both ignore syntaxes, its line's default syntax first (snapshot)", () => {
    // Airflow 2 defaults to regexp (".*" matches every path), Airflow 3 to glob ("[!.]*" every
    // name without a leading dot, ".*" every one with): both files hold both patterns.
    expect(patterns(airflowIgnore('2'))).toEqual(['.*', '[!.]*']);
    expect(patterns(airflowIgnore('3'))).toEqual(['[!.]*', '.*']);
    expect(airflowIgnore('2')).toMatchSnapshot();
    expect(airflowIgnore('3')).toMatchSnapshot();
  });

  it('holds every module of templates/dag/gpu_cicd_lib byte for byte, and its .airflowignore', () => {
    const source = templatePath('dag/gpu_cicd_lib');
    const modules = readdirSync(source)
      .filter((name) => name.endsWith('.py'))
      .sort();
    expect(modules).toEqual(expect.arrayContaining(['__init__.py', 'tasks.py', 'airflow2.py', 'airflow3.py', 'version_file.py']));
    for (const line of ['2', '3'] as const) {
      const library = renderDagLibrary(line);
      expect(library.package).toMatch(/^gpu_cicd_lib_[0-9a-f]{12}$/);
      expect(library.package).toBe(`gpu_cicd_lib_${library.sha256.slice(0, 12)}`);
      expect(library.files.map((f) => f.path)).toEqual([`.airflowignore`, ...modules].map((name) => `dags/${library.package}/${name}`));
      for (const name of modules) {
        expect(library.files.find((f) => f.path.endsWith(`/${name}`))!.bytes.equals(readFileSync(join(source, name)))).toBe(true);
      }
      expect(library.files[0]!.bytes.toString()).toBe(airflowIgnore(line));
    }
    // The ignore file differs per line, so each line has its own folder.
    expect(renderDagLibrary('2').package).not.toBe(renderDagLibrary('3').package);
  });

  it('is named by the hash of its file names and bytes: the same files, the same name; any change, a new one', () => {
    const members = libraryModules();
    const hash = libraryHash(members);
    expect(libraryHash([...members].reverse())).toBe(hash);
    const edited = members.map((m, i) => (i === 0 ? { ...m, bytes: Buffer.concat([m.bytes, Buffer.from('\n')]) } : m));
    expect(libraryHash(edited)).not.toBe(hash);
    const renamed = members.map((m, i) => (i === 0 ? { ...m, name: `x${m.name}` } : m));
    expect(libraryHash(renamed)).not.toBe(hash);
    expect(libraryHash(members.slice(1))).not.toBe(hash);
    expect(renderDagLibrary('2').sha256).toBe(renderDagLibrary('2').sha256);
  });
});

describe('the DAG build tag', () => {
  it('changes when only the library changes, and the DAG then imports the new folder', async () => {
    const c = await config('prod');
    const library = renderDagLibrary('2');
    const other = { package: 'gpu_cicd_lib_0123456789ab', sha256: `0123456789ab${'0'.repeat(52)}` };
    const before = renderDag(c, meta, library);
    const after = renderDag(c, meta, other);
    const tag = (source: string) => /"(build-[0-9a-f]{12})"/.exec(source)![1];
    expect(tag(after)).not.toBe(tag(before));
    expect(before).toContain(`from ${library.package} import tasks`);
    expect(after).toContain(`from ${other.package} import tasks`);
    // Nothing else differs: the config's values and the wiring are the same.
    const strip = (source: string, pkg: string) => source.replace(tag(source)!, 'TAG').replaceAll(pkg, 'LIB');
    expect(strip(after, other.package)).toBe(strip(before, library.package));
  });

  it('is the tag the generated DAG carries, computed from the manifest alone', async () => {
    const generated = await generateEnvironment(await config('prod'), '0.0.0-test');
    const tag = dagBuildTag(generated.manifest);
    expect(tag).toMatch(/^build-[0-9a-f]{12}$/);
    const dag = generated.artifacts.find((a) => a.kind === 'dag')!;
    expect(dag.bytes.toString()).toContain(`"${tag}"`);
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
    expect(generated.manifest.dagBuild).toEqual(dagBuild(renderDagLibrary('2')));
  });
});

describe('the dagLibrary artifact kind', () => {
  it('comes before the DAG file in the table, whose order is upload order', () => {
    expect(ALL_KINDS.indexOf('dagLibrary')).toBeLessThan(ALL_KINDS.indexOf('dag'));
    expect(UPLOADED_KINDS).toContain('dagLibrary');
    expect(ARTIFACT_KINDS.dagLibrary.delivery).toBe('synced');
  });

  it('gives every library file its own key under the DAG folder, for any dagsPrefix, listed in the manifest with its hash', async () => {
    for (const dagsPrefix of ['dags', 'team/airflow/dags']) {
      const c = await config('prod', (c) => {
        c.mwaa.dagsPrefix = dagsPrefix;
      });
      const generated = await generateEnvironment(c, '0.0.0-test');
      const library = renderDagLibrary('2');
      const entries = generated.manifest.artifacts.filter((a) => a.kind === 'dagLibrary');
      expect(entries.map((e) => e.path)).toEqual(library.files.map((f) => f.path));
      for (const entry of entries) {
        const file = library.files.find((f) => f.path === entry.path)!;
        expect(entry.sha256).toBe(sha256(file.bytes));
        expect(entry.size).toBe(file.bytes.length);
        expect(entry.s3Key).toBe(`${dagsPrefix}/${entry.path.slice('dags/'.length)}`);
        expect(dagLibraryFolderOfKey(dagsPrefix, entry.s3Key!)).toBe(library.package);
      }
      expect(generated.manifest.artifacts.find((a) => a.kind === 'dag')!.s3Key).toBe(`${dagsPrefix}/gpu_server_cicd_dag.py`);
      expect(kindKeyPattern('dagLibrary', c)).toBe(`${dagsPrefix}/gpu_cicd_lib_*`);
    }
  });

  it('tells library keys from the other keys of the DAG folder', () => {
    expect(dagLibraryFolderOfKey('dags', 'dags/gpu_cicd_lib_0123456789ab/tasks.py')).toBe('gpu_cicd_lib_0123456789ab');
    expect(dagLibraryFolderOfKey('dags/', 'dags/gpu_cicd_lib_0123456789ab/sub/x.py')).toBe('gpu_cicd_lib_0123456789ab');
    for (const key of [
      'dags/gpu_server_cicd_dag.py',
      'dags/gpu_cicd_lib_0123456789ab',
      'dags/gpu_cicd_lib_0123456789AB/tasks.py',
      'dags/gpu_cicd_lib_0123456789a/tasks.py',
      'dags/users_own/gpu_cicd_lib_0123456789ab/tasks.py',
      'other/gpu_cicd_lib_0123456789ab/tasks.py',
    ]) {
      expect(dagLibraryFolderOfKey('dags', key), key).toBeUndefined();
    }
  });

  it('generates byte-identical output on every run', async () => {
    const c = await config('prod');
    const [a, b] = [await generateEnvironment(c, '0.0.0-test'), await generateEnvironment(structuredClone(c), '0.0.0-test')];
    expect(b.files.map((f) => f.path)).toEqual(a.files.map((f) => f.path));
    for (const [index, file] of a.files.entries()) expect(b.files[index]!.bytes.equals(file.bytes), file.path).toBe(true);
  });
});
