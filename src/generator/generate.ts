/**
 * Config in, artifacts out: every render is a pure function of the resolved config, so the same
 * config gives the same bytes on every run and machine.
 */
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/resolved.js';
import { DAG_FILE_NAME, dagS3Key } from '../config/validators.js';
import type { Artifact, GeneratorMeta } from './artifact.js';
import { buildManifest, MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.js';
import { renderResolvedConfig } from './render-config.js';
import { renderDag } from './render-dag.js';
import { renderIamPolicies } from './render-iam.js';
import { renderPluginsZip } from './render-plugins.js';
import { renderRequirements } from './render-requirements.js';
import { sha256Hex, stableStringify } from '../util/stable-json.js';
import { readDirectoryFiles, writeDirectoryAtomically, type OutputFile } from './writer.js';

export { DAG_FILE_NAME };
export const DEFAULT_OUT_DIR = 'dist-artifacts';

export interface GeneratedEnvironment {
  config: ResolvedConfig;
  artifacts: Artifact[];
  manifest: Manifest;
  /** The artifacts plus manifest.json: exactly what dist-artifacts/<env>/ holds. */
  files: OutputFile[];
}

export function configHash(config: ResolvedConfig): string {
  return sha256Hex(stableStringify(config));
}

export async function generateEnvironment(config: ResolvedConfig, toolVersion: string): Promise<GeneratedEnvironment> {
  const meta: GeneratorMeta = { toolVersion, configHash: configHash(config) };
  const { dagsPrefix, pluginsKey, requirementsKey } = config.mwaa;
  const artifacts: Artifact[] = [
    {
      path: `dags/${DAG_FILE_NAME}`,
      kind: 'dag',
      s3Key: dagS3Key(dagsPrefix),
      bytes: Buffer.from(renderDag(config, meta)),
    },
    { path: 'plugins.zip', kind: 'plugins', s3Key: pluginsKey, bytes: await renderPluginsZip() },
    {
      path: 'requirements.txt',
      kind: 'requirements',
      s3Key: requirementsKey,
      bytes: Buffer.from(renderRequirements(config)),
    },
    {
      path: 'config/config.yaml',
      kind: 'config',
      s3Key: `config/${config.envName}/config.yaml`,
      bytes: Buffer.from(renderResolvedConfig(config, meta)),
    },
    ...renderIamPolicies(config).map((policy) => ({ ...policy, kind: 'iam' as const, s3Key: null })),
  ];
  const manifest = buildManifest(
    { toolVersion, environment: config.envName, configHash: meta.configHash, airflowVersion: config.airflow.version },
    artifacts,
  );
  const files = [...artifacts.map(({ path, bytes }) => ({ path, bytes })), { path: MANIFEST_FILE, bytes: serializeManifest(manifest) }];
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { config, artifacts, manifest, files };
}

export function environmentDir(outDir: string, envName: string): string {
  return join(outDir, envName);
}

export async function writeEnvironment(outDir: string, generated: GeneratedEnvironment): Promise<string> {
  const dir = environmentDir(outDir, generated.config.envName);
  await writeDirectoryAtomically(dir, generated.files);
  return dir;
}

/** Paths that differ between what is on disk and what the config generates now (for --check). */
export async function staleFiles(outDir: string, generated: GeneratedEnvironment): Promise<string[]> {
  const onDisk = new Map((await readDirectoryFiles(environmentDir(outDir, generated.config.envName))).map((f) => [f.path, f.bytes]));
  const stale = new Set<string>();
  for (const file of generated.files) {
    const existing = onDisk.get(file.path);
    if (!existing || !existing.equals(file.bytes)) stale.add(file.path);
    onDisk.delete(file.path);
  }
  for (const leftover of onDisk.keys()) stale.add(leftover);
  return [...stale].sort();
}
