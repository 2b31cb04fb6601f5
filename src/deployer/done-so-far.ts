/**
 * What a deploy had already done when it failed, read from its own events: the objects written
 * (with their versions), whether the environment update was requested and how it ended, the
 * record, the alarms, and whether the lock was released. A failure part-way through says this,
 * and what a rerun will do, so that nobody has to guess the state of the bucket or environment.
 */
import { RemoteError, UserError } from '../errors.js';
import type { DeployEvent } from './events.js';
import { TriggerUnreachableError } from './trigger-unreachable.js';

export interface DoneSoFar {
  written: Array<{ key: string; method: 'upload' | 'copy'; versionId?: string }>;
  /** A write that started and did not finish: its object may or may not be there. */
  unfinishedWrite?: string;
  /** `refused`: UpdateEnvironment itself failed with an answer; `unknown`: it got no clear answer. */
  environmentUpdate: 'not requested' | 'refused' | 'unknown' | 'requested' | 'finished';
  /** The status the update ended in, when it finished. */
  updateStatus?: string;
  recordKey?: string;
  alarmsPut: string[];
  alarmsDeleted: string[];
  /** Stale DAG libraries removed. */
  removed: string[];
  /** The lock's key and whether it was released. */
  lock?: { key: string; released: boolean };
  runId?: string;
}

export class DeployProgress {
  readonly done: DoneSoFar = { written: [], environmentUpdate: 'not requested', alarmsPut: [], alarmsDeleted: [], removed: [] };
  private writing: string | undefined;

  observe(event: DeployEvent): void {
    const done = this.done;
    switch (event.type) {
      case 'write-started':
        this.writing = event.key;
        break;
      case 'write-finished':
        this.writing = undefined;
        done.written.push({ key: event.key, method: event.method, ...(event.versionId ? { versionId: event.versionId } : {}) });
        break;
      case 'update-started':
        done.environmentUpdate = 'requested';
        break;
      case 'update-finished':
        done.environmentUpdate = 'finished';
        done.updateStatus = event.status;
        break;
      case 'record-written':
        done.recordKey = event.key;
        break;
      case 'alarm-put':
        done.alarmsPut.push(event.name);
        break;
      case 'alarm-deleted':
        done.alarmsDeleted.push(event.name);
        break;
      case 'object-deleted':
        done.removed.push(event.key);
        break;
      case 'lock-acquired':
        done.lock = { key: event.key, released: false };
        break;
      case 'lock-released':
        done.lock = { key: event.key, released: true };
        break;
      case 'triggered':
        done.runId = event.runId;
        break;
      default:
        break;
    }
    if (this.writing) done.unfinishedWrite = this.writing;
    else delete done.unfinishedWrite;
  }

  /** True when the failure left anything changed (or the lock held). */
  changedAnything(): boolean {
    const d = this.done;
    return (
      d.written.length > 0 ||
      d.unfinishedWrite !== undefined ||
      d.environmentUpdate !== 'not requested' ||
      d.recordKey !== undefined ||
      d.alarmsPut.length + d.alarmsDeleted.length > 0 ||
      d.removed.length > 0 ||
      (d.lock !== undefined && !d.lock.released)
    );
  }

  /** The lines a failure message ends with: what was done, and what a rerun does. */
  lines(bucket: string): string[] {
    return [`Done before the failure: ${this.summary(bucket)}.`, this.rerun()];
  }

  /** What was done, as one clause per step. */
  summary(bucket: string): string {
    const d = this.done;
    const s3 = (key: string) => `s3://${bucket}/${key}`;
    const parts: string[] = [];
    if (d.written.length > 0) {
      const objects = d.written.map((w) => `${s3(w.key)}${w.versionId ? ` (version ${w.versionId})` : ''}`).join(', ');
      parts.push(`${d.written.some((w) => w.method === 'copy') ? 'wrote' : 'uploaded'} ${objects}`);
    } else {
      parts.push('uploaded nothing');
    }
    if (d.unfinishedWrite) parts.push(`the write of ${s3(d.unfinishedWrite)} did not finish (it may or may not be there)`);
    parts.push(
      {
        'not requested': 'the environment was not updated',
        refused: 'the environment was not updated (UpdateEnvironment was refused)',
        unknown:
          'the environment update may or may not have started (UpdateEnvironment got no clear answer: check its status in the MWAA console)',
        requested: 'the environment update was requested and had not finished',
        finished: `the environment update finished (${d.updateStatus})`,
      }[d.environmentUpdate],
    );
    if (d.recordKey) parts.push(`the deploy record ${s3(d.recordKey)} was written`);
    if (d.alarmsPut.length + d.alarmsDeleted.length > 0) {
      parts.push(`alarms written: ${[...d.alarmsPut, ...d.alarmsDeleted.map((n) => `${n} (deleted)`)].join(', ')}`);
    }
    if (d.removed.length > 0) parts.push(`stale DAG libraries removed: ${d.removed.map(s3).join(', ')}`);
    if (d.lock) {
      parts.push(
        d.lock.released
          ? 'the deploy lock was released'
          : `the deploy lock ${s3(d.lock.key)} may still be held (its release failed): it expires on its own, or remove it: aws s3 rm ${s3(d.lock.key)}`,
      );
    }
    return parts.join('; ');
  }

  /** What a rerun does. */
  private rerun(): string {
    const d = this.done;
    const notUpdated = d.environmentUpdate === 'not requested' || d.environmentUpdate === 'refused';
    const rerun =
      d.environmentUpdate === 'requested' || d.environmentUpdate === 'unknown'
        ? 'Once the environment is AVAILABLE again, deploy again: it plans from what is there now and uploads only what differs.'
        : 'Deploy again: it plans from what is there now and uploads only what differs' +
          `${d.written.length > 0 ? ' (the objects above are in place and are not uploaded again)' : ''}` +
          `${notUpdated && d.written.length > 0 ? ', then pins the new versions with UpdateEnvironment if they need it' : ''}.`;
    return rerun;
  }
}

/** Failures after which a request may have been carried out all the same. */
const UNCLEAR = new Set(['timeout', 'server-error']);

/** `error` with what the deploy had done appended (and in its JSON details), when it changed anything. */
export function withProgress(error: unknown, progress: DeployProgress, bucket: string): unknown {
  // The trigger failed after everything else: that part is done, not failed.
  if (error instanceof TriggerUnreachableError) {
    const done = progress.changedAnything() ? progress.summary(bucket) : 'nothing needed uploading or updating';
    return error.withDone(`The deploy itself is done: ${done}.`, progress.done);
  }
  if (!progress.changedAnything()) return error;
  // UpdateEnvironment itself failed: with an answer it changed nothing; without one, nobody knows.
  if (error instanceof RemoteError && error.facts.service === 'MWAA' && error.facts.operation === 'UpdateEnvironment') {
    if (progress.done.environmentUpdate === 'requested') {
      progress.done.environmentUpdate = UNCLEAR.has(error.facts.kind) ? 'unknown' : 'refused';
    }
  }
  const lines = progress.lines(bucket);
  const deploy = progress.done;
  if (error instanceof RemoteError) {
    return new RemoteError(`${error.message}\n${lines.join('\n')}`, error.facts, {
      cause: error.cause ?? error,
      details: { ...(error.details ?? {}), deploy },
    });
  }
  if (error instanceof UserError) {
    return new UserError(`${error.message}\n${lines.join('\n')}`, error.exitCode, {
      cause: error.cause ?? error,
      details: { ...(error.details ?? {}), deploy },
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UserError(`Deploy failed part-way: ${message}\n${lines.join('\n')}`, undefined, { cause: error, details: { deploy } });
}
