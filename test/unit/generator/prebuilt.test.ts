import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { prebuild, templateNames } from '../../../src/generator/prebuild.js';
import { freshTemplateSpec, freshZip, loadPrebuilt, type Prebuilt } from '../../../src/generator/prebuilt.js';
import { dagLibrary, dagLibraryZipEntries } from '../../../src/generator/render-dag-library.js';
import { pluginsZipEntries } from '../../../src/generator/render-plugins.js';
import { handlebarsCompiler, readTemplateFile, TEMPLATE_OPTIONS, templateOptions } from '../../../src/generator/templates.js';
import { deterministicZip } from '../../../src/generator/zip.js';
import { readDirectoryFiles } from '../../../src/generator/writer.js';
import { useTmpDir } from '../../support/tmp.js';

const repo = resolve('.');
const tmp = useTmpDir();
const version = handlebarsCompiler().VERSION;

/** What the bundled CLI (dist/, built by the global setup) writes for `dev`, run from package root `root`. */
async function bundledGenerate(root: string) {
  const out = join(tmp(), 'out');
  const result = spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'generate', '--env', 'dev', '--out', out], {
    cwd: repo,
    env: { ...process.env, MWAA_LOCAL_HOME: join(tmp(), 'no-stack') },
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return readDirectoryFiles(join(out, 'dev'));
}

describe('the build output that spares generate the Handlebars compiler and archiver', () => {
  let prebuilt: Prebuilt;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mwaa-gpu-cicd-prebuilt-'));
    await prebuild(dir);
    prebuilt = loadPrebuilt(dir)!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the bundled CLI the bytes that compiling and zipping at run time give', async () => {
    const atRunTime = await generateEnvironment(
      resolveConfig(await readConfigFile(), 'dev'),
      JSON.parse(readFileSync('package.json', 'utf8')).version,
    );
    expect(await bundledGenerate(repo)).toEqual(atRunTime.files);
  });

  it('is not used once the templates of an installed package are edited', async () => {
    const root = join(tmp(), 'package');
    for (const path of ['package.json', 'dist', 'templates']) cpSync(join(repo, path), join(root, path), { recursive: true });
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
    const before = await bundledGenerate(root);
    const marker = '# edited after the build\n';
    const requirements = join(root, 'templates/requirements/requirements.txt.hbs');
    writeFileSync(requirements, readFileSync(requirements, 'utf8') + marker);
    const plugin = join(root, 'templates/plugins/gpu_ssh_utils.py');
    writeFileSync(plugin, readFileSync(plugin, 'utf8') + marker);
    const libraryModule = join(root, 'templates/dag/gpu_cicd_lib/common.py');
    writeFileSync(libraryModule, readFileSync(libraryModule, 'utf8') + marker);
    const after = await bundledGenerate(root);
    const text = (files: Awaited<ReturnType<typeof bundledGenerate>>, path: string) => files.find((f) => f.path === path)!.bytes;
    expect(text(after, 'requirements.txt').toString()).toBe(text(before, 'requirements.txt').toString() + marker);
    const zip = text(after, 'plugins.zip');
    expect(zip.equals(text(before, 'plugins.zip'))).toBe(false);
    expect(zip.equals(await deterministicZip(pluginsZipEntriesIn(root)))).toBe(true);
    // The edited library is another package (its name is its hash), zipped now.
    const libraries = (files: Awaited<ReturnType<typeof bundledGenerate>>) =>
      files.filter((f) => /^dags\/gpu_cicd_lib_.*\.zip$/.test(f.path));
    const [libraryAfter] = libraries(after);
    expect(libraryAfter!.path).not.toBe(libraries(before)[0]!.path);
    expect(libraryAfter!.bytes.subarray(0, 2).toString()).toBe('PK');
  });

  it('holds every template, precompiled with the options compiling uses', () => {
    expect(templateNames()).toContain('dag/gpu_server_cicd_dag.py.hbs');
    for (const name of templateNames()) {
      const spec = freshTemplateSpec(prebuilt, name, readTemplateFile(name), TEMPLATE_OPTIONS, version) as { main?: unknown };
      expect(typeof spec?.main, name).toBe('function');
    }
    expect(templateOptions()).toEqual(TEMPLATE_OPTIONS);
  });

  it('is not used for a template that changed, another Handlebars version or other options', () => {
    const name = 'requirements/requirements.txt.hbs';
    const source = readTemplateFile(name);
    expect(freshTemplateSpec(prebuilt, name, Buffer.concat([source, Buffer.from('\n')]), TEMPLATE_OPTIONS, version)).toBeUndefined();
    expect(freshTemplateSpec(prebuilt, name, source, TEMPLATE_OPTIONS, '0.0.1')).toBeUndefined();
    expect(freshTemplateSpec(prebuilt, name, source, { noEscape: true }, version)).toBeUndefined();
    expect(freshTemplateSpec(prebuilt, 'missing.hbs', source, TEMPLATE_OPTIONS, version)).toBeUndefined();
  });

  it.each([
    ['plugins', 'plugins.zip', () => pluginsZipEntries()],
    ['dagLibrary', 'dag-library.zip', () => dagLibraryZipEntries(dagLibrary())],
  ] as const)('holds %s (%s) as archiver writes it, used only for the same members', async (which, file, entriesOf) => {
    const entries = entriesOf();
    const zip = freshZip(prebuilt, which, entries);
    expect(zip?.equals(await deterministicZip(entries))).toBe(true);
    const edited = entries.map((e, i) => (i === 0 ? { ...e, bytes: Buffer.concat([e.bytes, Buffer.from('#\n')]) } : e));
    expect(freshZip(prebuilt, which, edited)).toBeUndefined();
    expect(freshZip(prebuilt, which, entries.slice(1))).toBeUndefined();
    // A zip file that is not the one the build recorded is not used either.
    const path = join(prebuilt.dir, file);
    const original = readFileSync(path);
    writeFileSync(path, Buffer.concat([original, Buffer.from([0])]));
    expect(freshZip(prebuilt, which, entries)).toBeUndefined();
    writeFileSync(path, original);
  });

  it('is absent when the directory holds no build output', () => {
    expect(loadPrebuilt(join(tmp(), 'nothing-here'))).toBeUndefined();
  });
});

function pluginsZipEntriesIn(root: string) {
  return pluginsZipEntries().map((e) => ({ name: e.name, bytes: readFileSync(join(root, 'templates/plugins', e.name)) }));
}
