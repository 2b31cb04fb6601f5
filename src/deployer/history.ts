/**
 * An environment's deploy history, read from its deploy records (records.ts), newest first: when,
 * who (the IAM identity where the record keeps it), what changed against the record before it, the
 * object versions, the config hash, and which record a rollback restored. Text, Markdown and JSON
 * views; pure apart from the reads, the CLI prints.
 */
import { ARTIFACT_KINDS } from '../artifacts/kinds.js';
import { plainStyle, type Style } from '../util/style.js';
import { clean } from '../util/terminal-text.js';
import { markdownCell, markdownCode } from './format.js';
import type { S3Port } from './ports.js';
import { environmentRecords, recordId, recordsPrefix, type DeployRecord, type KeyedRecord, type RecordWho } from './records.js';

export interface HistoryObject {
  kind: DeployRecord['objects'][number]['kind'];
  key: string;
  sha256: string;
  versionId?: string;
}

/** How an object differs from the record before: new key, other content, or gone. */
export interface HistoryChange {
  kind: HistoryObject['kind'];
  key: string;
  change: 'new' | 'changed' | 'removed';
}

export interface HistoryEntry {
  /** The record's id (records.ts recordId): what `rollback --to` takes. */
  id: string;
  key: string;
  at: string;
  kind: DeployRecord['kind'];
  who: RecordWho;
  configHash?: string;
  toolVersion?: string;
  /** For a rollback: the id of the record it restored. */
  restored?: string;
  objects: HistoryObject[];
  /** Against the older record before it; every object for the first record. */
  changes: HistoryChange[];
  /** The newest record: what runs, unless a deploy changed it without recording. */
  newest: boolean;
}

export interface History {
  envName: string;
  /** s3://bucket/prefix/records/ */
  location: string;
  entries: HistoryEntry[];
}

function changesBetween(older: DeployRecord | undefined, newer: DeployRecord): HistoryChange[] {
  const before = new Map((older?.objects ?? []).map((o) => [o.key, o]));
  const after = new Set(newer.objects.map((o) => o.key));
  const changes: HistoryChange[] = [];
  for (const object of newer.objects) {
    const old = before.get(object.key);
    if (!old) changes.push({ kind: object.kind, key: object.key, change: 'new' });
    else if (old.sha256 !== object.sha256) changes.push({ kind: object.kind, key: object.key, change: 'changed' });
  }
  for (const old of older?.objects ?? []) {
    if (!after.has(old.key)) changes.push({ kind: old.kind, key: old.key, change: 'removed' });
  }
  return changes;
}

/** The history of records given oldest first (as environmentRecords reads them), newest first. */
export function historyOf(records: readonly KeyedRecord[]): HistoryEntry[] {
  const entries = records.map(({ key, record }, index): HistoryEntry => {
    const entry: HistoryEntry = {
      id: recordId(key),
      key,
      at: record.at,
      kind: record.kind,
      // Records written by hand or by old versions: only what each has.
      who: { ...(record.who ?? { user: '?', host: '?' }) },
      objects: record.objects.map((o) => ({
        kind: o.kind,
        key: o.key,
        sha256: o.sha256,
        ...(o.versionId ? { versionId: o.versionId } : {}),
      })),
      changes: changesBetween(records[index - 1]?.record, record),
      newest: index === records.length - 1,
    };
    if (record.configHash) entry.configHash = record.configHash;
    if (record.toolVersion) entry.toolVersion = record.toolVersion;
    if (record.restored) entry.restored = recordId(record.restored);
    return entry;
  });
  return entries.reverse();
}

export async function readHistory(s3: S3Port, settings: { bucket: string; deploymentsPrefix: string; envName: string }): Promise<History> {
  const records = await environmentRecords(s3, settings.bucket, settings.deploymentsPrefix, settings.envName);
  return {
    envName: settings.envName,
    location: `s3://${settings.bucket}/${recordsPrefix(settings.deploymentsPrefix)}`,
    entries: historyOf(records),
  };
}

/** A version id as text shows it: long ids (S3's are 32 characters) cut to 12, in full in --json. */
export function shortVersion(versionId: string | undefined): string {
  if (!versionId) return '-';
  return versionId.length > 14 ? `${versionId.slice(0, 12)}…` : versionId;
}

function whoText(who: RecordWho): string {
  const local = `${who.user}@${who.host}${who.awsProfile ? `, profile ${who.awsProfile}` : ''}`;
  return who.arn ? `${who.arn} (${local})` : `${local} (no IAM identity recorded)`;
}

function changesText(entry: HistoryEntry): string {
  if (entry.changes.length === 0) return entry.kind === 'reconcile' ? 'nothing (records what already ran)' : 'nothing';
  return entry.changes.map((c) => `${ARTIFACT_KINDS[c.kind].label} ${c.change}`).join(', ');
}

function kindText(entry: HistoryEntry): string {
  return entry.kind === 'rollback' ? `ROLLBACK to ${entry.restored ?? '?'}` : entry.kind;
}

export function formatHistory(history: History, style: Style = plainStyle): string {
  if (history.entries.length === 0) {
    return `No deploy records of ${history.envName} in ${history.location}: nothing was deployed with this tool yet.\n`;
  }
  const lines = [`Deploys of ${style.bold(history.envName)} (${history.location}), newest first:`];
  for (const entry of history.entries) {
    const kind = entry.kind === 'rollback' ? style.yellow(kindText(entry)) : kindText(entry);
    lines.push('', `${style.bold(entry.id)}  ${kind}${entry.newest ? style.dim('  (newest)') : ''}`);
    lines.push(`  when     ${entry.at}`);
    lines.push(`  who      ${clean(whoText(entry.who))}`);
    lines.push(`  changed  ${changesText(entry)}`);
    if (entry.configHash) lines.push(`  config   ${entry.configHash.slice(0, 12)}`);
    for (const object of entry.objects) {
      lines.push(style.dim(`  ${ARTIFACT_KINDS[object.kind].label.padEnd(17)} ${object.key}  version ${shortVersion(object.versionId)}`));
    }
  }
  lines.push('', `Restore any of them: rollback --env ${history.envName} --to <id>`);
  return `${lines.join('\n')}\n`;
}

export function historyMarkdown(history: History): string {
  const lines = [`### Deploys of ${markdownCode(history.envName)}`, ''];
  if (history.entries.length === 0) return `${lines.join('\n')}No deploy records in ${markdownCode(history.location)}.\n`;
  lines.push('| record | when | kind | who | changed | config |', '|---|---|---|---|---|---|');
  for (const entry of history.entries) {
    const who = entry.who.arn ?? `${entry.who.user}@${entry.who.host}`;
    lines.push(
      `| ${markdownCode(entry.id)} | ${entry.at} | ${markdownCell(kindText(entry))} | ${markdownCell(clean(who))} | ` +
        `${markdownCell(changesText(entry))} | ${entry.configHash ? markdownCode(entry.configHash.slice(0, 12)) : ''} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function historyJson(history: History): Record<string, unknown> {
  return { environment: history.envName, location: history.location, records: history.entries };
}
