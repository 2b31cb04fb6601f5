/** One generated file: where it goes under dist-artifacts/<env>/ and in the bucket, and its bytes. */
import type { ArtifactKind } from '../artifacts/kinds.js';
import { sha256Hex, stableStringify } from '../util/stable-json.js';

export interface Artifact {
  /** Relative path under dist-artifacts/<env>/, with forward slashes. */
  path: string;
  kind: ArtifactKind;
  /** Object key in the MWAA bucket; null for files that are not uploaded (IAM policies). */
  s3Key: string | null;
  bytes: Buffer;
}

export interface GeneratorMeta {
  toolVersion: string;
  configHash: string;
}

/** What the generated DAG file runs besides its config: recorded in the manifest. */
export interface DagBuild {
  /** The library package the DAG imports (from gpu_cicd_lib_<hash12>.zip in the DAG folder): gpu_cicd_lib_<hash12>. */
  library: string;
  /** The hash the package is named by (src/generator/render-dag-library.ts libraryHash). */
  librarySha256: string;
  /** SHA-256 of the DAG file's template. */
  templateSha256: string;
}

/** The first 12 hex digits: enough to tell configs apart in a header line. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * The DAG tag only the DAG generated from this config, library, template and tool version carries:
 * visible in the UI and the REST API, it tells a deploy when the scheduler has parsed the file it
 * just uploaded. It hashes what the DAG runs, so a library-only upgrade gives a new tag too.
 */
export function dagBuildTag(manifest: { configHash: string; tool: { version: string }; dagBuild: DagBuild }): string {
  const what = { configHash: manifest.configHash, toolVersion: manifest.tool.version, ...manifest.dagBuild };
  return `build-${shortHash(sha256Hex(stableStringify(what)))}`;
}
