/**
 * What the build renders ahead of time into dist/prebuilt/ (src/generator/prebuild.ts): every
 * Handlebars template precompiled, and the two zips (plugins.zip and the DAG library's) as archiver
 * writes them, each recorded with the SHA-256 of the template sources it came from. The bundled
 * code reads it instead of loading the Handlebars compiler and archiver at every start, and only
 * while templates/ still holds exactly the bytes the build read: an edited template (or plugin or
 * library module) makes the generator compile and zip at run time again, so a stale build is
 * slower, never wrong.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { builtDir } from '../util/package-root.js';
import { sha256Hex, stableStringify } from '../util/stable-json.js';

/** Bumped whenever the index's shape changes, so that code never reads an index it does not know. */
export const PREBUILT_FORMAT = 2;
export const PREBUILT_INDEX = 'index.cjs';
/** The zips the build writes beside the index. */
export const PREBUILT_ZIPS = { plugins: 'plugins.zip', dagLibrary: 'dag-library.zip' } as const;
export type PrebuiltZip = keyof typeof PREBUILT_ZIPS;

/** A zip's record in the index: its SHA-256, and its members' names and SHA-256 in zip order. */
export interface PrebuiltZipRecord {
  sha256: string;
  members: Array<{ name: string; sha256: string }>;
}

/** What dist/prebuilt/index.cjs exports (a CommonJS module: the template specs are code). */
export interface PrebuiltIndex {
  format: number;
  /** The Handlebars version that precompiled the templates; the runtime must be the same. */
  handlebars: string;
  /** The compile options the specs were compiled with. */
  templateOptions: object;
  /** Per template (relative to templates/): the source's SHA-256 and the precompiled spec. */
  templates: Record<string, { sourceSha256: string; spec: object }>;
  /** Each zip beside the index (PREBUILT_ZIPS). */
  zips: Record<PrebuiltZip, PrebuiltZipRecord>;
}

/** The build's output, read from `dir`: undefined when there is none or it is of another format. */
export interface Prebuilt {
  dir: string;
  index: PrebuiltIndex;
}

export function loadPrebuilt(dir: string): Prebuilt | undefined {
  let index: PrebuiltIndex;
  try {
    index = createRequire(import.meta.url)(join(dir, PREBUILT_INDEX)) as PrebuiltIndex;
  } catch {
    // No build output here (or a broken one): everything is rendered at run time.
    return undefined;
  }
  return index?.format === PREBUILT_FORMAT ? { dir, index } : undefined;
}

let bundled: Prebuilt | undefined | null = null;

/**
 * The output of the build this code is part of: only code running from the package's dist/ has
 * one (code run from src/, as tests do, always renders at run time).
 */
export function bundledPrebuilt(): Prebuilt | undefined {
  if (bundled === null) {
    const dist = builtDir();
    bundled = dist ? loadPrebuilt(join(dist, 'prebuilt')) : undefined;
  }
  return bundled;
}

/**
 * The precompiled spec of `relative`, when the build compiled exactly `source` with `options` and
 * the same Handlebars version as `runtimeVersion`; otherwise undefined (compile it now).
 */
export function freshTemplateSpec(
  prebuilt: Prebuilt,
  relative: string,
  source: Buffer,
  options: object,
  runtimeVersion: string,
): object | undefined {
  const { index } = prebuilt;
  const entry = index.templates[relative];
  if (!entry || index.handlebars !== runtimeVersion || stableStringify(index.templateOptions) !== stableStringify(options))
    return undefined;
  return entry.sourceSha256 === sha256Hex(source) ? entry.spec : undefined;
}

/**
 * A prebuilt zip, when the build zipped exactly these members (names, order and bytes); otherwise
 * undefined (zip them now).
 */
export function freshZip(
  prebuilt: Prebuilt,
  which: PrebuiltZip,
  members: ReadonlyArray<{ name: string; bytes: Buffer }>,
): Buffer | undefined {
  const recorded = prebuilt.index.zips[which];
  const same =
    recorded.members.length === members.length &&
    recorded.members.every((m, i) => m.name === members[i]!.name && m.sha256 === sha256Hex(members[i]!.bytes));
  if (!same) return undefined;
  let zip: Buffer;
  try {
    zip = readFileSync(join(prebuilt.dir, PREBUILT_ZIPS[which]));
  } catch {
    return undefined;
  }
  return sha256Hex(zip) === recorded.sha256 ? zip : undefined;
}

/** `members` zipped: the build's zip when it holds exactly them, else archiver's now. */
export async function zipOf(which: PrebuiltZip, members: ReadonlyArray<{ name: string; bytes: Buffer }>): Promise<Buffer> {
  const prebuilt = bundledPrebuilt();
  const ready = prebuilt && freshZip(prebuilt, which, members);
  if (ready) return ready;
  // archiver and its streams are loaded only here: most starts never need them.
  const { deterministicZip } = await import('./zip.js');
  return deterministicZip([...members]);
}
