/** One generated file: where it goes under dist-artifacts/<env>/ and in the bucket, and its bytes. */
export type ArtifactKind = 'dag' | 'plugins' | 'requirements' | 'config' | 'iam';

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
