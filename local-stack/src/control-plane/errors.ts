/**
 * MWAA's REST-JSON errors as botocore's service model (mwaa 2020-07-01) declares them: the code in
 * `x-amzn-errortype`, the HTTP status the shape names, and the body members the shape has. Most
 * shapes carry `message`; AccessDeniedException spells it `Message`; the two InvokeRestApi errors
 * carry no message at all, only Airflow's status code and answer.
 */
export type ServiceErrorType =
  | 'ResourceNotFoundException'
  | 'ValidationException'
  | 'InternalServerException'
  | 'AccessDeniedException'
  | 'RestApiClientException'
  | 'RestApiServerException'
  | 'UnknownOperationException';

const STATUS: Record<ServiceErrorType, number> = {
  ResourceNotFoundException: 404,
  ValidationException: 400,
  InternalServerException: 500,
  AccessDeniedException: 403,
  // Both 400 in the model, whatever Airflow answered: its status travels in RestApiStatusCode.
  RestApiClientException: 400,
  RestApiServerException: 400,
  // Not in MWAA's model: what AWS's service framework answers for a request no operation claims
  // (a maintainer of Smithy: "if no handlers claimed the job, the default behavior would be an
  // UnknownOperationException 404", https://github.com/smithy-lang/smithy/issues/1368).
  UnknownOperationException: 404,
};

/** The body member that carries the message, as each shape spells it (none for the RestApi errors). */
const MESSAGE_MEMBER: Record<ServiceErrorType, 'message' | 'Message' | undefined> = {
  ResourceNotFoundException: 'message',
  ValidationException: 'message',
  InternalServerException: 'message',
  AccessDeniedException: 'Message',
  RestApiClientException: undefined,
  RestApiServerException: undefined,
  UnknownOperationException: 'message',
};

export class ServiceError extends Error {
  readonly statusCode: number;

  constructor(
    readonly type: ServiceErrorType,
    message: string,
    /** Members of the error shape besides its message (RestApiStatusCode, RestApiResponse). */
    readonly members: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
    this.statusCode = STATUS[type];
  }

  /** The JSON body as the shape declares it. */
  body(): Record<string, unknown> {
    const key = MESSAGE_MEMBER[this.type];
    return key === undefined ? { ...this.members } : { [key]: this.message, ...this.members };
  }
}
