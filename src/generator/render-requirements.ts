import type { ResolvedConfig } from '../config/resolved.js';
import { airflowConstraintUrl } from '../mwaa/requirements.js';
import { compileTemplate } from './templates.js';

/**
 * What the plugin modules import beyond the MWAA image: boto3 and PyYAML ship with it (Airflow
 * and its Amazon provider depend on them), paramiko does not. Versions come from the constraint
 * file of the target Airflow, so none is pinned here.
 */
export const PLUGIN_REQUIREMENTS = ['paramiko'] as const;

/** Depends on nothing but the target versions and the package list (see the header it writes). */
export function renderRequirements(config: ResolvedConfig): string {
  return compileTemplate('requirements/requirements.txt.hbs')({
    airflowVersion: config.airflow.version,
    // The one form MWAA and pip both read as this constraint file (src/mwaa/requirements.ts).
    constraintUrl: airflowConstraintUrl(config.airflow.version, config.airflow.pythonVersion),
    requirements: [...PLUGIN_REQUIREMENTS].sort(),
  });
}
