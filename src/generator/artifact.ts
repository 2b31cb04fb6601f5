/** One generated file: where it goes under dist-artifacts/<env>/ and in the bucket, and its bytes. */
import type { ArtifactKind } from '../artifacts/kinds.js';

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

/** The first 12 hex digits: enough to tell configs apart in a header line. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * The DAG tag only the DAG generated from this config carries: visible in the UI and the REST API,
 * it tells a deploy when the scheduler has parsed the file it just uploaded.
 */
export function configTag(configHash: string): string {
  return `config-${shortHash(configHash)}`;
}
