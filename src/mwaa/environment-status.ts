/**
 * MWAA's environment statuses (API reference, Environment.Status): why an environment is in each
 * one that is not AVAILABLE, and whether waiting brings it back.
 * https://docs.aws.amazon.com/mwaa/latest/API/API_Environment.html
 */
export const STATUS_MEANINGS: Record<string, { why: string; waitable: boolean }> = {
  CREATING: { why: 'MWAA is still creating it', waitable: true },
  PENDING: { why: 'MWAA is about to update it', waitable: true },
  UPDATING: { why: 'an update is being applied', waitable: true },
  ROLLING_BACK: { why: 'an update failed and MWAA is restoring the previous version', waitable: true },
  MAINTENANCE: { why: 'MWAA is applying maintenance in its weekly maintenance window', waitable: true },
  CREATING_SNAPSHOT: { why: 'MWAA is snapshotting its metadata database (as before a version change)', waitable: true },
  UPDATE_FAILED: { why: 'the last update failed and MWAA rolled it back; it is usable', waitable: true },
  UNAVAILABLE: { why: 'it is not working; see the MWAA console and CloudWatch logs', waitable: false },
  CREATE_FAILED: { why: 'its creation failed', waitable: false },
  DELETING: { why: 'it is being deleted', waitable: false },
  DELETED: { why: 'it was deleted', waitable: false },
};

/** `STATUS (why)` for progress lines and messages. */
export function describeStatus(status: string): string {
  const meaning = STATUS_MEANINGS[status];
  return meaning ? `${status} (${meaning.why})` : status;
}
