/**
 * The bounds on every request the toolkit sends to AWS and to the MWAA web server, in one place
 * (README, "Limits and timeouts", lists them with the others). Whatever a remote does (never
 * answer, stall after the headers, drip a byte a second, send gigabytes), a request ends within
 * its deadline and reads at most its cap.
 *
 * The two timeouts can be changed per run, as the AWS CLI's --cli-connect-timeout and
 * --cli-read-timeout can:
 *   MWAA_GPU_CICD_CONNECT_TIMEOUT   seconds to open a connection (default 10)
 *   MWAA_GPU_CICD_REQUEST_TIMEOUT   seconds for one attempt of one request, answer included (default 60)
 */
import { ExitCode, UserError } from '../errors.js';

export interface TransportLimits {
  /** Opening the TCP connection. */
  connectTimeoutMs: number;
  /**
   * One attempt of one request, from sending it to the last byte of the answer: a remote that
   * stalls or drips ends here even while it keeps the connection busy.
   */
  requestTimeoutMs: number;
  /**
   * One attempt of an S3 object transfer (GetObject, PutObject, CopyObject): their bodies can be
   * large, and CopyObject keeps the connection alive with whitespace while S3 copies.
   */
  objectTransferTimeoutMs: number;
  /**
   * The most one answer may be: of the MWAA web server (REST or CLI), and of every AWS call but
   * S3 object reads (those have caps of their own, aws-ports.ts).
   */
  maxAnswerBytes: number;
  /** How much of the end of a failed task's log deploy keeps (it prints the last 40 lines). */
  logTailBytes: number;
  /** The largest S3 object read (the objects `deploy --plan --diff` compares; records and the lock are far smaller). */
  maxObjectBytes: number;
}

export const LIMIT_VARIABLES = {
  connect: 'MWAA_GPU_CICD_CONNECT_TIMEOUT',
  request: 'MWAA_GPU_CICD_REQUEST_TIMEOUT',
} as const;

/**
 * The AWS CLI waits 60 s for a read; we take that as the whole attempt's deadline. Connecting
 * gets 10 s (the AWS CLI allows 60): a healthy TCP handshake takes milliseconds even across
 * regions, and Node's fetch gives up at 10 s too, so both kinds of client agree.
 */
export const DEFAULT_LIMITS: TransportLimits = {
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  objectTransferTimeoutMs: 5 * 60_000,
  // Airflow's list pages hold at most 100 rows, AWS's at most 1,000 keys or 100 alarms; the
  // largest answers (100 import errors with their tracebacks, 100 Variables) stay far below this.
  maxAnswerBytes: 16 * 1024 * 1024,
  logTailBytes: 64 * 1024,
  // A plugins.zip of wheels for an environment without internet access is the largest object
  // deploy reads; MWAA itself warns against plugins.zip much past a few hundred MiB.
  maxObjectBytes: 512 * 1024 * 1024,
};

/** Object transfers get this many request deadlines. */
const OBJECT_TRANSFER_FACTOR = 5;

function seconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text.trim());
  if (!Number.isFinite(value) || value <= 0 || value > 86_400) {
    throw new UserError(
      `${name} must be a number of seconds from 0 to 86400 (such as 30 or 0.5); got ${JSON.stringify(text)}.`,
      ExitCode.usage,
    );
  }
  return Math.round(value * 1000);
}

/** The limits of this run: the defaults, with the timeouts the environment variables set. */
export function transportLimits(env: NodeJS.ProcessEnv = process.env): TransportLimits {
  const connect = seconds(env, LIMIT_VARIABLES.connect);
  const request = seconds(env, LIMIT_VARIABLES.request);
  return {
    ...DEFAULT_LIMITS,
    ...(connect !== undefined ? { connectTimeoutMs: connect } : {}),
    ...(request !== undefined ? { requestTimeoutMs: request, objectTransferTimeoutMs: request * OBJECT_TRANSFER_FACTOR } : {}),
  };
}

/** `60 s`, `0.5 s`: a deadline as messages show it. */
export function shownSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}
