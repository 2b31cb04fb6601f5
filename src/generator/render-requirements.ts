import type { ResolvedConfig } from '../config/resolved.js';
import { shortHash, type GeneratorMeta } from './artifact.js';
import { compileTemplate } from './templates.js';

/**
 * What the plugin modules import beyond the MWAA image: boto3 and PyYAML ship with it (Airflow
 * and its Amazon provider depend on them), paramiko does not. Versions come from the constraint
 * file of the target Airflow, so none is pinned here.
 */
export const PLUGIN_REQUIREMENTS = ['paramiko'] as const;

export function renderRequirements(config: ResolvedConfig, meta: GeneratorMeta): string {
  return compileTemplate('requirements/requirements.txt.hbs')({
    toolVersion: meta.toolVersion,
    configHashShort: shortHash(meta.configHash),
    airflowVersion: config.airflow.version,
    pythonVersion: config.airflow.pythonVersion,
    requirements: [...PLUGIN_REQUIREMENTS].sort(),
  });
}
