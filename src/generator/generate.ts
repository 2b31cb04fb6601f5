/**
 * Config in, artifacts out: every render is a pure function of the resolved config, so the same
 * config gives the same bytes on every run and machine.
 */
import { join } from 'node:path';
import { ALL_KINDS, kindSpec, type ArtifactKind } from '../artifacts/kinds.js';
import type { ResolvedConfig } from '../config/resolved.js';
import type { Artifact, GeneratorMeta } from './artifact.js';
import { buildManifest, MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.js';
import { renderResolvedConfig } from './render-config.js';
import { dagBuild, renderDag } from './render-dag.js';
import { dagLibrary, renderDagLibrary, type DagLibrary } from './render-dag-library.js';
import { renderIamPolicies } from './render-iam.js';
import { renderPluginsZip } from './render-plugins.js';
import { renderRequirements } from './render-requirements.js';
import { sha256Hex, stableStringify } from '../util/stable-json.js';
import { readDirectoryFiles, writeDirectoryAtomically, type OutputFile } from './writer.js';
import { byPath } from '../util/order.js';

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

/**
 * Each kind's renderer: one file's bytes, or several files named by the renderer (their keys come
 * from the kind's s3Key). The DAG library is rendered once per run, for its files and for the DAG
 * that imports it.
 */
type Renderer = (config: ResolvedConfig, meta: GeneratorMeta, library: DagLibrary) => Promise<Buffer | OutputFile[]>;
const RENDERERS: Record<ArtifactKind, Renderer> = {
  requirements: async (config) => Buffer.from(renderRequirements(config)),
  plugins: () => renderPluginsZip(),
  dagLibrary: async (_config, _meta, library) => [await renderDagLibrary(library)],
  dag: async (config, meta, library) => Buffer.from(renderDag(config, meta, library)),
  config: async (config, meta) => Buffer.from(renderResolvedConfig(config, meta)),
  iam: async (config) => renderIamPolicies(config),
};

/** `library`: the DAG library the templates give, unless a test ships another. */
export async function generateEnvironment(
  config: ResolvedConfig,
  toolVersion: string,
  library: DagLibrary = dagLibrary(),
): Promise<GeneratedEnvironment> {
  const meta: GeneratorMeta = { toolVersion, configHash: configHash(config) };
  const artifacts: Artifact[] = [];
  for (const kind of ALL_KINDS) {
    const spec = kindSpec(kind);
    const rendered = await RENDERERS[kind](config, meta, library);
    if (Buffer.isBuffer(rendered)) {
      if (spec.distPath === null) throw new Error(`artifact kind ${kind} renders one file but has no distPath`);
      artifacts.push({ path: spec.distPath, kind, s3Key: spec.s3Key(config, spec.distPath), bytes: rendered });
    } else {
      for (const file of rendered) artifacts.push({ ...file, kind, s3Key: spec.s3Key(config, file.path) });
    }
  }
  const manifest = buildManifest(
    {
      toolVersion,
      environment: config.envName,
      configHash: meta.configHash,
      airflowVersion: config.airflow.version,
      dagBuild: dagBuild(library),
    },
    artifacts,
  );
  const files = [...artifacts.map(({ path, bytes }) => ({ path, bytes })), { path: MANIFEST_FILE, bytes: serializeManifest(manifest) }];
  files.sort(byPath);
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
    if (!existing?.equals(file.bytes)) stale.add(file.path);
    onDisk.delete(file.path);
  }
  for (const leftover of onDisk.keys()) stale.add(leftover);
  return [...stale].sort();
}
