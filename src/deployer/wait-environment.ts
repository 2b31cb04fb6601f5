/**
 * Waits for an MWAA environment to settle after UpdateEnvironment (or before a deploy). MWAA may
 * still report AVAILABLE right after the call, so "done" needs evidence that this update ran:
 * a transitional status seen, or a successful LastUpdate that started after the request, or the
 * requested versions pinned and a grace period passed.
 */
import { PINNED_KINDS } from '../artifacts/kinds.js';
import { UserError } from '../errors.js';
import type { Clock } from './clock.js';
import type { EnvironmentState, EnvironmentUpdate, MwaaPort } from './ports.js';
import { describeStatus, isWaitable, statusTodo } from '../mwaa/environment-status.js';

export const FAILED_STATUSES = new Set(['UPDATE_FAILED', 'UNAVAILABLE', 'CREATE_FAILED', 'DELETING', 'DELETED']);

export class EnvironmentUpdateFailedError extends UserError {
  constructor(
    readonly state: EnvironmentState,
    what: string,
  ) {
    const error = state.lastUpdate?.errorMessage
      ? ` LastUpdate error: ${state.lastUpdate.errorCode ?? 'Error'}: ${state.lastUpdate.errorMessage}`
      : '';
    super(`Environment ${state.name} went ${describeStatus(state.status)} ${what}.${error}`);
    this.name = 'EnvironmentUpdateFailedError';
  }
}

export interface WaitOptions {
  clock: Clock;
  timeoutMs: number;
  pollMs: number;
  onStatus?: (status: string, elapsedMs: number) => void;
}

export interface UpdateEvidence {
  requestedAtMs: number;
  update: EnvironmentUpdate;
  /** Accept AVAILABLE with the requested pins after this long even if no transition was seen. */
  graceMs?: number;
}

function pinsApplied(state: EnvironmentState, update: EnvironmentUpdate): boolean {
  return PINNED_KINDS.every((kind) => update[kind]?.version === undefined || state.pins[kind]?.version === update[kind]?.version);
}

/**
 * Polls until AVAILABLE. With `evidence`, waits for that update to be the one that finished,
 * and treats a failed status as the update failing; without, any failed status also fails.
 */
export async function waitForAvailable(
  mwaa: MwaaPort,
  name: string,
  options: WaitOptions,
  evidence?: UpdateEvidence,
): Promise<EnvironmentState> {
  const { clock, timeoutMs, pollMs } = options;
  const started = clock.now();
  const grace = evidence?.graceMs ?? 60_000;
  let sawTransition = false;
  let lastStatus = '';
  for (;;) {
    const state = await mwaa.getEnvironment(name);
    const elapsed = clock.now() - started;
    if (state.status !== lastStatus || options.onStatus) options.onStatus?.(state.status, elapsed);
    lastStatus = state.status;
    // A status that does not end by itself (PENDING waits for the customer's VPC endpoints) ends the wait.
    if (!isWaitable(state.status) && !FAILED_STATUSES.has(state.status)) {
      throw new UserError(`Environment ${name} is ${describeStatus(state.status)}. ${statusTodo(state.status)}`);
    }
    if (state.status !== 'AVAILABLE' && !FAILED_STATUSES.has(state.status)) sawTransition = true;
    if (evidence) {
      const lastUpdateStarted = state.lastUpdate?.createdAt ? Date.parse(state.lastUpdate.createdAt) : undefined;
      // Allow for clock skew between us and the service: a second before the request is "after".
      const thisUpdate = lastUpdateStarted !== undefined && lastUpdateStarted >= evidence.requestedAtMs - 1000;
      if (FAILED_STATUSES.has(state.status) && (sawTransition || thisUpdate)) {
        throw new EnvironmentUpdateFailedError(state, 'while applying the update');
      }
      if (state.status === 'AVAILABLE' && pinsApplied(state, evidence.update)) {
        const succeeded = thisUpdate && state.lastUpdate?.status === 'SUCCESS';
        if (sawTransition || succeeded || elapsed >= grace) return state;
      }
    } else {
      if (state.status === 'AVAILABLE' || state.status === 'UPDATE_FAILED') return state;
      if (FAILED_STATUSES.has(state.status)) throw new EnvironmentUpdateFailedError(state, 'while we waited for it');
    }
    if (elapsed >= timeoutMs) {
      throw new UserError(
        `Timed out after ${Math.round(elapsed / 1000)} s waiting for environment ${name} (status ${state.status}). ` +
          'The update may still finish: run deploy again later (it resumes where this one stopped), or raise --timeout.',
      );
    }
    await clock.sleep(Math.min(pollMs, Math.max(0, timeoutMs - elapsed)));
  }
}
