/**
 * The repositories of an environment as one list, whichever way the config wrote them: the
 * `repositories` list, or the `git` block (plus the top-level versionFile) as a list of one. The
 * generator, the config's own checks and the runtime check all take repositories from here.
 */
import type { z } from 'zod';
import type { environmentSchema, variableMappingSchema } from './schema.js';

/** A repository name: lowercase words joined by single "-" or "_", so that "__" never occurs in one. */
export const REPOSITORY_NAME = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
/** The name the `git` shorthand's repository gets (it shows in METRIC lines, never in Variable names). */
export const SHORTHAND_REPOSITORY_NAME = 'repo';

type Env = Pick<z.output<typeof environmentSchema>, 'git' | 'repositories' | 'versionFile'>;
export type VariableMapping = z.output<typeof variableMappingSchema>;

export interface RepositoryVersionFile {
  path: string;
  maxBytes: number;
  variables: VariableMapping[];
}

export interface ResolvedRepository {
  name: string;
  url: string;
  branch: string;
  checkoutDir: string;
  remoteName: string;
  /** null: the repository is only checked out. */
  versionFile: RepositoryVersionFile | null;
}

/** A repository with where the config sets it and its variables, as config paths (for messages). */
export interface ConfiguredRepository {
  repository: ResolvedRepository;
  configPath: Array<string | number>;
  variablesPath: Array<string | number>;
}

export function repositoriesOf(env: Env): ResolvedRepository[] {
  return configuredRepositories(env).map((configured) => configured.repository);
}

export function configuredRepositories(env: Env): ConfiguredRepository[] {
  const top = env.versionFile;
  if (env.repositories) {
    return env.repositories.map((repository, index) => {
      const own = typeof repository.versionFile === 'string' ? { path: repository.versionFile } : repository.versionFile;
      const resolved: ResolvedRepository = {
        name: repository.name,
        url: repository.url,
        branch: repository.branch,
        checkoutDir: repository.checkoutDir,
        remoteName: repository.remoteName,
        versionFile: own ? { path: own.path, maxBytes: own.maxBytes ?? top.maxBytes, variables: own.variables ?? top.variables } : null,
      };
      return {
        repository: resolved,
        configPath: ['repositories', index],
        variablesPath: own?.variables ? ['repositories', index, 'versionFile', 'variables'] : ['versionFile', 'variables'],
      };
    });
  }
  if (!env.git) return [];
  const shorthand: ResolvedRepository = {
    name: SHORTHAND_REPOSITORY_NAME,
    url: env.git.repoUrl,
    branch: env.git.branch,
    checkoutDir: env.git.checkoutDir,
    remoteName: env.git.remoteName,
    versionFile: { path: top.path, maxBytes: top.maxBytes, variables: top.variables },
  };
  return [{ repository: shorthand, configPath: ['git'], variablesPath: ['versionFile', 'variables'] }];
}

/** The repositories that name a version file, with it. */
export function versionRepositories(repositories: readonly ResolvedRepository[]) {
  return repositories.filter(
    (repository): repository is ResolvedRepository & { versionFile: RepositoryVersionFile } => repository.versionFile !== null,
  );
}
