import type { ArtifactKind } from '../artifacts/kinds.js';
import type { Artifact, DagBuild } from './artifact.js';
import { sha256Hex, stableStringify } from '../util/stable-json.js';
import { byPath } from '../util/order.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT_VERSION = 1;

export interface ManifestEntry {
  path: string;
  kind: ArtifactKind;
  s3Key: string | null;
  size: number;
  sha256: string;
}

export interface Manifest {
  formatVersion: number;
  tool: { name: string; version: string };
  environment: string;
  configHash: string;
  airflowVersion: string;
  /** What the DAG runs besides its config: its library package and the hashes its tag is made of. */
  dagBuild: DagBuild;
  artifacts: ManifestEntry[];
}

export function buildManifest(
  fields: Omit<Manifest, 'formatVersion' | 'artifacts' | 'tool'> & { toolVersion: string },
  artifacts: Artifact[],
): Manifest {
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    tool: { name: 'mwaa-gpu-cicd', version: fields.toolVersion },
    environment: fields.environment,
    configHash: fields.configHash,
    airflowVersion: fields.airflowVersion,
    dagBuild: fields.dagBuild,
    artifacts: artifacts
      .map((artifact) => ({
        path: artifact.path,
        kind: artifact.kind,
        s3Key: artifact.s3Key,
        size: artifact.bytes.length,
        sha256: sha256Hex(artifact.bytes),
      }))
      .sort(byPath),
  };
}

export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${stableStringify(manifest, 2)}\n`);
}
