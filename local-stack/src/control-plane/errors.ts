/** MWAA's REST-JSON error types, as the SDK decodes them (x-amzn-errortype + `message`). */
export type ServiceErrorType =
  | 'ResourceNotFoundException'
  | 'ValidationException'
  | 'InternalServerException'
  | 'AccessDeniedException'
  | 'UnknownOperationException';

const STATUS: Record<ServiceErrorType, number> = {
  ResourceNotFoundException: 404,
  ValidationException: 400,
  InternalServerException: 500,
  AccessDeniedException: 403,
  UnknownOperationException: 404,
};

export class ServiceError extends Error {
  readonly statusCode: number;

  constructor(
    readonly type: ServiceErrorType,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.statusCode = STATUS[type];
  }
}
