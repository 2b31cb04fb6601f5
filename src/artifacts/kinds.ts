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
  /**
   * Object key in the MWAA bucket of the artifact at `path` under dist-artifacts/<env>/ (null: not
   * uploaded). Kinds of one file ignore the path; kinds of several files map each path to its key.
   */
  s3Key: (settings: KeySettings, path: string) => string | null;
  /** For kinds of several uploaded files: the keys they may take, as an IAM resource pattern. */
  keyPattern?: (settings: KeySettings) => string;
  /** The config field that chooses the object key, when one does. */
  keyField?: string;
  /** For pinned kinds: GetEnvironment/UpdateEnvironment's fields for the S3 path and object version. */
  environmentFields?: (typeof MWAA_VERSIONED_OBJECTS)[MwaaVersionedObject];
  /** What the kind is, for plans and messages. */
  label: string;
}

export const DAG_FILE_NAME = 'gpu_server_cicd_dag.py';
/**
 * The DAG's task logic ships as one zip in the DAG folder, named by the hash of what it holds:
 * `gpu_cicd_lib_<12 hex digits>.zip`, holding the package `gpu_cicd_lib_<12 hex digits>/`. The DAG
 * file imports exactly the library it was generated with, so a parse never pairs a DAG with another
 * library version, and a new library is a new object beside the old one (a later deploy removes
 * it). One object arrives whole: a folder of files would reach MWAA's workers file by file, in no
 * promised order, and Airflow parses a library module as a DAG file (and fails on its relative
 * imports) whenever it arrives before the folder's .airflowignore. Airflow looks for DAGs only at a
 * zip's top level, where this one has no file.
 */
export const DAG_LIBRARY_PREFIX = 'gpu_cicd_lib_';
const DAG_LIBRARY_FILE = /^gpu_cicd_lib_[0-9a-f]{12}\.zip$/;

/** The library's file name in the DAG folder. */
export function dagLibraryFileName(libraryPackage: string): string {
  return `${libraryPackage}.zip`;
}

/** The library zip a key names, when it is one directly in the DAG folder (`<dagsPrefix>/gpu_cicd_lib_<hash12>.zip`). */
export function dagLibraryOfKey(dagsPrefix: string, key: string): string | undefined {
  const prefix = `${dagsPrefix.replace(/\/+$/, '')}/`;
  if (!key.startsWith(prefix)) return undefined;
  const name = key.slice(prefix.length);
  return DAG_LIBRARY_FILE.test(name) ? name : undefined;
}

/** dist-artifacts/<env>/dags/<file> mirrors the DAG folder: its key is <dagsPrefix>/<file>. */
function dagFolderKey(settings: KeySettings, path: string): string {
  if (!path.startsWith('dags/')) throw new Error(`${path} is not under dags/, the DAG folder's copy in dist-artifacts`);
  return `${settings.mwaa.dagsPrefix}/${path.slice('dags/'.length)}`;
}

/**
 * Row order is upload order: pinned kinds first, then the DAG library before the DAG file that
 * imports it (MWAA still syncs in no promised order: the DAG imports the library only inside its
 * tasks, so a parse never needs it, and its first task retries until the library has arrived).
 */
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
  dagLibrary: {
    delivery: 'synced',
    contentType: 'application/zip',
    // dags/gpu_cicd_lib_<hash12>.zip: named by the renderer after what it holds.
    distPath: null,
    s3Key: dagFolderKey,
    keyPattern: (s) => `${s.mwaa.dagsPrefix}/${DAG_LIBRARY_PREFIX}*`,
    label: 'DAG library',
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

/** The keys an uploaded kind writes, for the IAM policy: its one key, or its pattern. */
export function kindKeyPattern(kind: UploadedKind, settings: KeySettings): string {
  const spec: KindSpec = ARTIFACT_KINDS[kind];
  if (spec.keyPattern) return spec.keyPattern(settings);
  if (spec.distPath === null) throw new Error(`artifact kind ${kind} has several files but no key pattern`);
  return spec.s3Key(settings, spec.distPath) as string;
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
    if (spec.keyField && spec.distPath !== null) keyed.push([spec.keyField, spec.s3Key({ envName: '', mwaa }, spec.distPath) as string]);
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
