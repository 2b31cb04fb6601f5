/**
 * Build-time half of prebuilt.ts: precompiles every Handlebars template under templates/ and zips
 * the plugin modules with archiver, through the same functions the generator would call at run
 * time, and records the SHA-256 of every source read. scripts/build.mjs runs it into
 * dist/prebuilt/; nothing at run time imports this module.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { compareCodeUnits } from '../util/order.js';
import { sha256Hex } from '../util/stable-json.js';
import { PREBUILT_FORMAT, PREBUILT_INDEX, PREBUILT_PLUGINS_ZIP, type PrebuiltIndex } from './prebuilt.js';
import { pluginsZipEntries } from './render-plugins.js';
import { handlebarsCompiler, readTemplateFile, TEMPLATE_OPTIONS, templateOptions, templatePath } from './templates.js';
import { deterministicZip } from './zip.js';

/** Every template under templates/, relative to it, with forward slashes. */
export function templateNames(): string[] {
  const root = templatePath('');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.hbs'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort(compareCodeUnits);
}

/** Writes index.cjs and plugins.zip into `outDir`. */
export async function prebuild(outDir: string): Promise<void> {
  const handlebars = handlebarsCompiler();
  const templates = templateNames().map((name) => {
    const source = readTemplateFile(name);
    const spec = handlebars.precompile(source.toString('utf8'), templateOptions()) as unknown as string;
    return `    ${JSON.stringify(name)}: { sourceSha256: ${JSON.stringify(sha256Hex(source))}, spec: ${spec} },\n`;
  });
  const members = pluginsZipEntries();
  const zip = await deterministicZip(members);
  const plain: Omit<PrebuiltIndex, 'templates'> = {
    format: PREBUILT_FORMAT,
    handlebars: handlebars.VERSION,
    templateOptions: TEMPLATE_OPTIONS,
    pluginsZip: { sha256: sha256Hex(zip), members: members.map((m) => ({ name: m.name, sha256: sha256Hex(m.bytes) })) },
  };
  const index =
    '// Written by the build (src/generator/prebuild.ts); read by src/generator/prebuilt.ts.\n' +
    `'use strict';\nmodule.exports = {\n  ...${JSON.stringify(plain)},\n  templates: {\n${templates.join('')}  },\n};\n`;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, PREBUILT_PLUGINS_ZIP), zip);
  writeFileSync(join(outDir, PREBUILT_INDEX), index);
}
