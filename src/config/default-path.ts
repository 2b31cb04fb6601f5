/** Where a project's config file is, unless told otherwise. A module of its own: the CLI's command table reads it before it loads anything else. */
export const DEFAULT_CONFIG_PATH = 'config/config.yaml';
