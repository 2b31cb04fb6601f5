/**
 * Build-time half of prebuilt.ts: precompiles every Handlebars template under templates/ and zips
 * the plugin modules and the DAG library with archiver, through the same functions the generator
 * would call at run time, and records the SHA-256 of every source read. scripts/build.mjs runs it into
 * dist/prebuilt/; nothing at run time imports this module.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { compareCodeUnits } from '../util/order.js';
import { sha256Hex } from '../util/stable-json.js';
import {
  PREBUILT_FORMAT,
  PREBUILT_INDEX,
  PREBUILT_ZIPS,
  type PrebuiltIndex,
  type PrebuiltZip,
  type PrebuiltZipRecord,
} from './prebuilt.js';
import { dagLibrary, dagLibraryZipEntries } from './render-dag-library.js';
import { pluginsZipEntries } from './render-plugins.js';
import { handlebarsCompiler, readTemplateFile, TEMPLATE_OPTIONS, templateOptions, templatePath } from './templates.js';
import { deterministicZip, type ZipEntry } from './zip.js';

/** Every template under templates/, relative to it, with forward slashes. */
export function templateNames(): string[] {
  const root = templatePath('');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.hbs'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort(compareCodeUnits);
}

/** Writes index.cjs and the zips (PREBUILT_ZIPS) into `outDir`. */
export async function prebuild(outDir: string): Promise<void> {
  const handlebars = handlebarsCompiler();
  const templates = templateNames().map((name) => {
    const source = readTemplateFile(name);
    const spec = handlebars.precompile(source.toString('utf8'), templateOptions()) as unknown as string;
    return `    ${JSON.stringify(name)}: { sourceSha256: ${JSON.stringify(sha256Hex(source))}, spec: ${spec} },\n`;
  });
  const sources: Record<PrebuiltZip, ZipEntry[]> = { plugins: pluginsZipEntries(), dagLibrary: dagLibraryZipEntries(dagLibrary()) };
  const zips = {} as Record<PrebuiltZip, PrebuiltZipRecord>;
  const bytes = {} as Record<PrebuiltZip, Buffer>;
  for (const which of Object.keys(PREBUILT_ZIPS) as PrebuiltZip[]) {
    const members = sources[which];
    bytes[which] = await deterministicZip(members);
    zips[which] = { sha256: sha256Hex(bytes[which]), members: members.map((m) => ({ name: m.name, sha256: sha256Hex(m.bytes) })) };
  }
  const plain: Omit<PrebuiltIndex, 'templates'> = {
    format: PREBUILT_FORMAT,
    handlebars: handlebars.VERSION,
    templateOptions: TEMPLATE_OPTIONS,
    zips,
  };
  const index =
    '// Written by the build (src/generator/prebuild.ts); read by src/generator/prebuilt.ts.\n' +
    `'use strict';\nmodule.exports = {\n  ...${JSON.stringify(plain)},\n  templates: {\n${templates.join('')}  },\n};\n`;
  mkdirSync(outDir, { recursive: true });
  for (const which of Object.keys(PREBUILT_ZIPS) as PrebuiltZip[]) writeFileSync(join(outDir, PREBUILT_ZIPS[which]), bytes[which]);
  writeFileSync(join(outDir, PREBUILT_INDEX), index);
}
