import { readTemplateFile } from './templates.js';
import { deterministicZip } from './zip.js';

/** The modules plugins.zip carries at its root, importable as top-level modules on MWAA. */
export const PLUGIN_MODULES = ['aws_secrets_utils.py', 'gpu_ssh_utils.py'] as const;

/**
 * plugins.zip holds the modules exactly as they are in templates/plugins/: nothing
 * config-dependent goes in, so a config change never forces an MWAA environment update.
 */
export async function renderPluginsZip(): Promise<Buffer> {
  return deterministicZip(PLUGIN_MODULES.map((name) => ({ name, bytes: readTemplateFile(`plugins/${name}`) })));
}
