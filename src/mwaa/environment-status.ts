/**
 * MWAA's environment statuses (API reference, Environment.Status): why an environment is in each
 * one that is not AVAILABLE, whether waiting brings it back, and what to do when it does not.
 * https://docs.aws.amazon.com/mwaa/latest/API/API_Environment.html
 */
export interface StatusMeaning {
  why: string;
  /** Whether the environment gets back to AVAILABLE on its own, so that a deploy may wait for it. */
  waitable: boolean;
  /** For a status waiting does not leave: what the user has to do. */
  todo?: string;
}

export const STATUS_MEANINGS: Record<string, StatusMeaning> = {
  CREATING: { why: 'MWAA is still creating it', waitable: true },
  // Creation with EndpointManagement CUSTOMER (e.g. in a shared VPC) stops here until the customer
  // has made the VPC endpoints; it resumes once they exist, and fails 72 hours after the request.
  PENDING: {
    why:
      'MWAA paused its creation until the VPC endpoints it needs exist in your VPC (EndpointManagement CUSTOMER); ' +
      'without them it becomes CREATE_FAILED 72 hours after the create request',
    waitable: false,
    todo:
      'Create the VPC endpoints the environment needs (the MWAA console lists them; ' +
      'https://docs.aws.amazon.com/mwaa/latest/userguide/vpc-endpoint-management.html), then deploy once it is AVAILABLE; ' +
      'waiting here will not help.',
  },
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

/** False only for a status MWAA documents as not ending by itself; an unknown status may. */
export function isWaitable(status: string): boolean {
  return STATUS_MEANINGS[status]?.waitable !== false;
}

/** What to do about a status that waiting does not end. */
export function statusTodo(status: string): string {
  return STATUS_MEANINGS[status]?.todo ?? 'Deploying needs an AVAILABLE environment; waiting will not help.';
}
