/**
 * The one table of what the toolkit ships. Every module that treats artifacts differently by kind
 * (generator, plan, apply, records, waiters, formatting, IAM policy, local control plane) reads
 * it here, so adding a kind (a startup script, say) is one row plus its renderer.
 *
 * Delivery, as MWAA takes each file:
 * - `pinned`: MWAA reads the object by version: each change needs UpdateEnvironment with the new
 *   VersionId (tens of minutes). Written and pinned before anything `synced`, so a DAG never runs
 *   against plugins it does not know.
 * - `synced`: read from the bucket as it is (MWAA syncs the DAG folder about every 30 s).
 * - `local`: written to dist-artifacts only (IAM policies a human applies).
 */

import { MWAA_VERSIONED_OBJECTS, type MwaaVersionedObject } from '../mwaa/environment-objects.js';

export type Delivery = 'pinned' | 'synced' | 'local';

/** Where an artifact's object goes, from the environment's mwaa settings. */
export interface KeySettings {
  envName: string;
  mwaa: { dagsPrefix: string; pluginsKey: string; requirementsKey: string };
}

interface KindSpec {
  delivery: Delivery;
  /** Content-Type of the uploaded object (null: not uploaded). */
  contentType: string | null;
  /** Path under dist-artifacts/<env>/ (null: several files, named by their renderer). */
  distPath: string | null;
  /** Object key in the MWAA bucket (null: not uploaded). */
  s3Key: (settings: KeySettings) => string | null;
  /** The config field that chooses the object key, when one does. */
  keyField?: string;
  /** For pinned kinds: GetEnvironment/UpdateEnvironment's fields for the S3 path and object version. */
  environmentFields?: (typeof MWAA_VERSIONED_OBJECTS)[MwaaVersionedObject];
  /** What the kind is, for plans and messages. */
  label: string;
}

export const DAG_FILE_NAME = 'gpu_server_cicd_dag.py';

/** Row order is upload order: pinned kinds first. */
export const ARTIFACT_KINDS = {
  requirements: {
    delivery: 'pinned',
    contentType: 'text/plain',
    distPath: 'requirements.txt',
    s3Key: (s) => s.mwaa.requirementsKey,
    keyField: 'mwaa.requirementsKey',
    environmentFields: MWAA_VERSIONED_OBJECTS.Requirements,
    label: 'requirements.txt',
  },
  plugins: {
    delivery: 'pinned',
    contentType: 'application/zip',
    distPath: 'plugins.zip',
    s3Key: (s) => s.mwaa.pluginsKey,
    keyField: 'mwaa.pluginsKey',
    environmentFields: MWAA_VERSIONED_OBJECTS.Plugins,
    label: 'plugins.zip',
  },
  dag: {
    delivery: 'synced',
    contentType: 'text/x-python',
    distPath: `dags/${DAG_FILE_NAME}`,
    s3Key: (s) => `${s.mwaa.dagsPrefix}/${DAG_FILE_NAME}`,
    keyField: 'mwaa.dagsPrefix',
    label: 'DAG file',
  },
  config: {
    delivery: 'synced',
    contentType: 'application/yaml',
    distPath: 'config/config.yaml',
    s3Key: (s) => `config/${s.envName}/config.yaml`,
    label: 'resolved config',
  },
  iam: {
    delivery: 'local',
    contentType: null,
    distPath: null,
    s3Key: () => null,
    label: 'IAM policy',
  },
} as const satisfies Record<string, KindSpec>;

export type ArtifactKind = keyof typeof ARTIFACT_KINDS;
type KindsWith<D extends Delivery> = { [K in ArtifactKind]: (typeof ARTIFACT_KINDS)[K]['delivery'] extends D ? K : never }[ArtifactKind];
/** Kinds MWAA pins by object version. */
export type PinnedKind = KindsWith<'pinned'>;
/** Kinds uploaded to the bucket. */
export type UploadedKind = KindsWith<'pinned' | 'synced'>;

export const ALL_KINDS = Object.keys(ARTIFACT_KINDS) as ArtifactKind[];
export const PINNED_KINDS = ALL_KINDS.filter((k): k is PinnedKind => ARTIFACT_KINDS[k].delivery === 'pinned');
export const UPLOADED_KINDS = ALL_KINDS.filter((k): k is UploadedKind => ARTIFACT_KINDS[k].delivery !== 'local');

export function kindSpec(kind: ArtifactKind): KindSpec {
  return ARTIFACT_KINDS[kind];
}

export function isPinned(kind: ArtifactKind): kind is PinnedKind {
  return ARTIFACT_KINDS[kind].delivery === 'pinned';
}

export function isUploaded(kind: ArtifactKind): kind is UploadedKind {
  return ARTIFACT_KINDS[kind].delivery !== 'local';
}

/** The object keys the config chooses, each with the field that chooses it (for a check that they differ). */
export function keyedByConfig(mwaa: KeySettings['mwaa']): Array<[field: string, key: string]> {
  const keyed: Array<[string, string]> = [];
  for (const kind of ALL_KINDS) {
    const spec: KindSpec = ARTIFACT_KINDS[kind];
    if (spec.keyField) keyed.push([spec.keyField, spec.s3Key({ envName: '', mwaa }) as string]);
  }
  return keyed;
}

/** A pinned kind's S3 path and object version, as GetEnvironment reports and UpdateEnvironment takes them. */
export interface Pin {
  path: string;
  version?: string;
}
export type Pins = Partial<Record<PinnedKind, Pin>>;

/** Reads the pins out of an MWAA environment description (SDK shape, or the control plane's record). */
export function pinsFromEnvironment(environment: Record<string, unknown>): Pins {
  const pins: Pins = {};
  for (const kind of PINNED_KINDS) {
    const fields = ARTIFACT_KINDS[kind].environmentFields;
    const path = environment[fields.path];
    const version = environment[fields.version];
    if (typeof path === 'string' && path.length > 0) {
      pins[kind] = typeof version === 'string' && version.length > 0 ? { path, version } : { path };
    }
  }
  return pins;
}

/** The UpdateEnvironment input fields that set these pins. */
export function environmentFieldsForPins(pins: Pins): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const kind of PINNED_KINDS) {
    const pin = pins[kind];
    if (!pin) continue;
    const names = ARTIFACT_KINDS[kind].environmentFields;
    fields[names.path] = pin.path;
    if (pin.version !== undefined) fields[names.version] = pin.version;
  }
  return fields;
}
