/**
 * What a plan would change, as content: for each object the plan writes, a unified diff of the
 * new bytes against what the environment runs now (for plugins.zip and requirements.txt the
 * version it pins, for the DAG and config the current object), and for plugins.zip the members
 * added, removed and changed. The bytes are read through the S3 port; the comparison is pure.
 */
import { ARTIFACT_KINDS, isPinned, type UploadedKind } from '../artifacts/kinds.js';
import { unifiedDiff } from '../util/unified-diff.js';
import { ZipFormatError, zipMembers, type ZipMember } from '../util/zip-listing.js';
import type { Action, DeployTarget, RemoteState } from './plan.js';
import type { S3Port } from './ports.js';

export interface MemberChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  oldSize?: number;
  newSize?: number;
  /** Unified diff of a changed text member. */
  diff?: string;
}

export interface ArtifactDiff {
  kind: UploadedKind;
  key: string;
  /** What the kind is (`DAG file`, `plugins.zip`, ...). */
  label: string;
  change: 'new' | 'changed';
  /**
   * What the new bytes are compared with: the pinned version, or the current object (for a new
   * DAG library, the library the DAG in the bucket imports, at its own `key`).
   */
  against?: { versionId: string | undefined; pinned: boolean; key?: string };
  /** Unified diff of a text object. */
  diff?: string;
  /** Set when the object is neither text nor a readable zip. */
  binary?: boolean;
  /** For a zip (plugins.zip): its members, added, removed and changed. */
  members?: MemberChange[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The text of `bytes`, or undefined for binary content (NUL bytes or invalid UTF-8). */
export function asText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function membersOf(bytes: Uint8Array | undefined, rename: (name: string) => string): Map<string, ZipMember> {
  return new Map((bytes ? zipMembers(bytes) : []).map((m) => [rename(m.name), m]));
}

/** A DAG library's members lie in a folder named by its hash: compared by their names inside it. */
const INSIDE_PACKAGE = (name: string): string => name.slice(name.indexOf('/') + 1);
const AS_IS = (name: string): string => name;

/** The members two zip archives differ in, by name; changed text members with their diff. */
export function zipChanges(
  oldZip: Uint8Array | undefined,
  newZip: Uint8Array,
  label: string,
  rename: (name: string) => string = AS_IS,
): MemberChange[] {
  const before = membersOf(oldZip, rename);
  const after = membersOf(newZip, rename);
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: MemberChange[] = [];
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    if (!a && b) changes.push({ name, change: 'added', newSize: b.size });
    else if (a && !b) changes.push({ name, change: 'removed', oldSize: a.size });
    else if (a && b && (a.crc32 !== b.crc32 || a.size !== b.size)) {
      const change: MemberChange = { name, change: 'changed', oldSize: a.size, newSize: b.size };
      const oldText = a.bytes && asText(a.bytes);
      const newText = b.bytes && asText(b.bytes);
      if (oldText !== undefined && newText !== undefined) {
        change.diff = unifiedDiff(oldText, newText, { oldLabel: `a/${label}/${name}`, newLabel: `b/${label}/${name}` });
      }
      changes.push(change);
    }
  }
  return changes;
}

/** The content change of one object: pure, from the old bytes (undefined: none) and the new. */
export function artifactDiff(input: {
  kind: UploadedKind;
  key: string;
  oldBytes: Uint8Array | undefined;
  newBytes: Uint8Array;
  against?: ArtifactDiff['against'];
}): ArtifactDiff {
  const { kind, key, oldBytes, newBytes } = input;
  const result: ArtifactDiff = { kind, key, label: ARTIFACT_KINDS[kind].label, change: oldBytes === undefined ? 'new' : 'changed' };
  if (input.against) result.against = input.against;
  if (isZip(newBytes) && (oldBytes === undefined || isZip(oldBytes))) {
    try {
      result.members = zipChanges(oldBytes, newBytes, key, kind === 'dagLibrary' ? INSIDE_PACKAGE : AS_IS);
      return result;
    } catch (error) {
      if (!(error instanceof ZipFormatError)) throw error;
    }
  }
  const oldText = oldBytes === undefined ? '' : asText(oldBytes);
  const newText = asText(newBytes);
  if (oldText === undefined || newText === undefined) {
    result.binary = true;
    return result;
  }
  result.diff = unifiedDiff(oldText, newText, { oldLabel: oldBytes === undefined ? '/dev/null' : `a/${key}`, newLabel: `b/${key}` });
  return result;
}

/** The version a pinned kind runs now under the target's key, when the environment pins one there. */
function pinnedVersion(target: DeployTarget, remote: RemoteState): string | undefined {
  if (!isPinned(target.kind)) return undefined;
  const pin = remote.environment.pins[target.kind];
  return pin?.path === target.key ? pin.version : undefined;
}

/**
 * The diffs of every write in the plan, in plan order. Reads the deployed bytes (the pinned
 * version for pinned kinds, the current object otherwise) and, for a rollback's copies, the
 * version being restored.
 */
export async function planDiffs(s3: S3Port, bucket: string, actions: readonly Action[], remote: RemoteState): Promise<ArtifactDiff[]> {
  const writes = actions.filter((a): a is Extract<Action, { type: 'upload' | 'copy' }> => a.type === 'upload' || a.type === 'copy');
  return Promise.all(
    writes.map(async (action) => {
      const { target } = action;
      const pinned = pinnedVersion(target, remote);
      const current = remote.current[target.key];
      // A new library is a new key: it is compared with the library the DAG in the bucket imports.
      const previousLibrary = target.kind === 'dagLibrary' && !current ? remote.dagLibraries?.inUse : undefined;
      const oldKey = previousLibrary ?? target.key;
      const old = pinned !== undefined || current || previousLibrary ? await s3.getObject(bucket, oldKey, pinned) : undefined;
      let newBytes: Uint8Array;
      if (target.source.type === 'bytes') {
        newBytes = target.source.bytes;
      } else {
        const restored = await s3.getObject(bucket, target.key, target.source.versionId);
        if (!restored) throw new Error(`version ${target.source.versionId} of ${target.key} is gone from the bucket`);
        newBytes = restored.body;
      }
      const input: Parameters<typeof artifactDiff>[0] = { kind: target.kind, key: target.key, oldBytes: old?.body, newBytes };
      if (old) {
        input.against = { versionId: old.versionId ?? pinned, pinned: pinned !== undefined };
        if (previousLibrary) input.against.key = previousLibrary;
      }
      return artifactDiff(input);
    }),
  );
}
