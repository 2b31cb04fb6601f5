import { zipOf } from './prebuilt.js';
import { readTemplateFile } from './templates.js';
import type { ZipEntry } from './zip.js';

/** The modules plugins.zip carries at its root, importable as top-level modules on MWAA. */
export const PLUGIN_MODULES = ['aws_secrets_utils.py', 'gpu_ssh_utils.py'] as const;

/** What plugins.zip holds: the modules exactly as they are in templates/plugins/. */
export function pluginsZipEntries(): ZipEntry[] {
  return PLUGIN_MODULES.map((name) => ({ name, bytes: readTemplateFile(`plugins/${name}`) }));
}

/**
 * plugins.zip holds the modules exactly as they are in templates/plugins/: nothing
 * config-dependent goes in, so a config change never forces an MWAA environment update. The zip
 * the build wrote with archiver serves while the modules are those it zipped; otherwise (edited
 * modules, code run from src/) archiver zips them now.
 */
export function renderPluginsZip(): Promise<Buffer> {
  return zipOf('plugins', pluginsZipEntries());
}
