/**
 * The trigger could not reach the web server: the uploads and the environment update are done
 * (they talk to S3 and the MWAA API only), the run was not started. When GetEnvironment says the
 * web server is PRIVATE_ONLY that is the expected outcome outside the VPC, and the message says
 * so and how to go on: deploy with --no-trigger here, trigger from inside the VPC.
 */
import { RemoteError } from '../errors.js';
import { PRIVATE_ONLY, PRIVATE_ONLY_REASON, unreachableWebServer, type UnreachableWebServer } from '../mwaa/web-server-access.js';

export class TriggerUnreachableError extends RemoteError {
  constructor(
    readonly unreachable: UnreachableWebServer,
    /** GetEnvironment's WebserverAccessMode, when it said one. */
    readonly accessMode: string | undefined,
    /** What the deploy did before (done-so-far.ts), as one sentence; undefined until known. */
    readonly doneLine: string | undefined,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    const privateOnly = accessMode === PRIVATE_ONLY;
    const lines = [
      `The trigger could not reach the Airflow web server at ${unreachable.endpoint} (${unreachable.request}: ${unreachable.detail}).`,
      privateOnly ? PRIVATE_ONLY_REASON : 'Check the network path to the web server, or rerun later.',
      ...(doneLine ? [doneLine] : []),
      privateOnly
        ? 'From here, deploy with --no-trigger (the uploads and the environment update only), and trigger the DAG from inside ' +
          'the VPC, or from a host in it: the same deploy there finds nothing to upload and only triggers.'
        : 'Once the web server answers, deploy again: with nothing left to upload it only triggers (--no-trigger skips the trigger).',
    ];
    super(
      lines.join('\n'),
      {
        service: 'Airflow web server',
        operation: unreachable.request,
        endpoint: unreachable.endpoint,
        code: unreachable.code,
        kind: unreachable.kind,
      },
      {
        cause: options.cause,
        details: { trigger: 'not reached', ...(accessMode ? { webserverAccessMode: accessMode } : {}), ...options.details },
      },
    );
    this.name = 'TriggerUnreachableError';
  }

  /** The same failure, saying what the deploy had done (`deploy`: its JSON facts). */
  withDone(doneLine: string, deploy: unknown): TriggerUnreachableError {
    return new TriggerUnreachableError(this.unreachable, this.accessMode, doneLine, { cause: this.cause, details: { deploy } });
  }
}

/** `error` as a TriggerUnreachableError when it is a web server request that got no answer; else undefined. */
export function triggerUnreachable(error: unknown, accessMode: string | undefined): TriggerUnreachableError | undefined {
  const unreachable = unreachableWebServer(error);
  return unreachable ? new TriggerUnreachableError(unreachable, accessMode, undefined, { cause: error }) : undefined;
}
