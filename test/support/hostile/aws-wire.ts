/**
 * AWS errors as each service puts them on the wire, so that the real SDK deserializes the
 * harness's answers exactly as it would AWS's. The protocol and the modeled error shapes (code,
 * status, message member) come from botocore's models (aws-protocols.json); the errors every
 * service can answer without modeling them (throttling, expired credentials, 5xx) come from
 * AWS's documents, cited per row:
 *   [common]  the "Common Errors" page of the AWS API references (JSON and query services)
 *   [s3]      the S3 API reference, "Error responses", list of error codes
 *   [mwaa]    botocore's mwaa model plus API Gateway's throttling answer (429 ThrottlingException)
 *
 * Protocols, as the pinned SDK clients speak them:
 *   S3               rest-xml     <Error><Code/><Message/><RequestId/></Error>; HEAD answers carry no body
 *   MWAA             rest-json    x-amzn-ErrorType header, {"message"} / {"Message"} body
 *   CloudWatch       JSON 1.0, query-compatible: {"__type": "ns#Shape", "message"} and
 *                    x-amzn-query-error: <query code>;Sender|Receiver (botocore lists json among its
 *                    protocols; @aws-sdk/client-cloudwatch 3.1164 uses AwsJson1_0Protocol)
 *   Secrets Manager  JSON 1.1     {"__type": "Shape", "Message"}
 */
import type { ServerResponse } from 'node:http';
import protocols from './aws-protocols.json' with { type: 'json' };
import type { AwsProtocols, AwsService } from './botocore-models.js';

export const AWS_MODELS = protocols as AwsProtocols;

/** The kinds of AWS error the harness answers with; each service names them its own way. */
export const AWS_ERROR_KINDS = [
  'throttled',
  'validation',
  'access-denied',
  'not-found',
  'internal',
  'unavailable',
  'request-timeout',
  'expired-token',
] as const;
export type AwsErrorKind = (typeof AWS_ERROR_KINDS)[number];

export interface WireError {
  /** What the SDK reports as the error's name (the shape or code). */
  code: string;
  status: number;
  /** Query-compatible services: the code of the query protocol (x-amzn-query-error). */
  queryCode?: string;
  fault: 'Sender' | 'Receiver';
  /** `Message` or `message` in JSON bodies. */
  messageMember: 'Message' | 'message';
  message: string;
}

/** The modeled error shapes the table below answers with, by service: what botocore must agree on. */
export const MODELED_SHAPES: Array<{ service: AwsService; shape: string }> = [];

function modeled(service: AwsService, shape: string, status: number, message: string): WireError {
  MODELED_SHAPES.push({ service, shape });
  const model = AWS_MODELS.services[service].errors[shape];
  if (!model) throw new Error(`botocore models no ${shape} for ${service}`);
  const out: WireError = {
    code: shape,
    // botocore's status where it models one; otherwise the status the service answers with.
    status: model.status ?? status,
    fault: model.senderFault || (model.status ?? status) < 500 ? 'Sender' : 'Receiver',
    messageMember: model.messageMember ?? 'message',
    message,
  };
  if (AWS_MODELS.services[service].awsQueryCompatible && model.code !== shape) out.queryCode = model.code;
  return out;
}

function generic(code: string, status: number, message: string, extra: Partial<WireError> = {}): WireError {
  return { code, status, fault: status < 500 ? 'Sender' : 'Receiver', messageMember: 'message', message, ...extra };
}

const TABLE: Record<AwsService, Record<AwsErrorKind, WireError>> = {
  s3: {
    throttled: generic('SlowDown', 503, 'Please reduce your request rate.'), // [s3]
    validation: generic('InvalidArgument', 400, 'Invalid Argument'), // [s3]
    'access-denied': { ...modeled('s3', 'AccessDenied', 403, 'Access Denied'), messageMember: 'Message' },
    'not-found': { ...modeled('s3', 'NoSuchBucket', 404, 'The specified bucket does not exist'), messageMember: 'Message' },
    internal: generic('InternalError', 500, 'We encountered an internal error. Please try again.'), // [s3]
    unavailable: generic('ServiceUnavailable', 503, 'Service is unable to handle request.'), // [s3]
    'request-timeout': generic(
      'RequestTimeout',
      400,
      'Your socket connection to the server was not read from or written to within the timeout period.',
    ), // [s3]
    'expired-token': generic('ExpiredToken', 400, 'The provided token has expired.'), // [s3]
  },
  mwaa: {
    throttled: generic('ThrottlingException', 429, 'Rate exceeded'), // [mwaa]
    validation: modeled('mwaa', 'ValidationException', 400, "1 validation error detected: Value at 'name' failed to satisfy constraint"),
    'access-denied': modeled('mwaa', 'AccessDeniedException', 403, 'User is not authorized to perform: airflow:GetEnvironment'),
    'not-found': modeled('mwaa', 'ResourceNotFoundException', 404, 'Environment not found'),
    internal: modeled('mwaa', 'InternalServerException', 500, 'Internal server error'),
    unavailable: modeled('mwaa', 'ServiceUnavailableException', 503, 'Service unavailable'),
    'request-timeout': generic('RequestTimeoutException', 408, 'Request timed out'), // [common]
    'expired-token': generic('ExpiredTokenException', 403, 'The security token included in the request is expired'), // [common]
  },
  cloudWatch: {
    throttled: generic('ThrottlingException', 400, 'Rate exceeded', { queryCode: 'Throttling' }), // [common]
    validation: modeled('cloudWatch', 'InvalidParameterValueException', 400, 'The parameter AlarmNamePrefix is not valid'),
    'access-denied': generic('AccessDeniedException', 403, 'User is not authorized to perform: cloudwatch:DescribeAlarms', {
      queryCode: 'AccessDenied',
    }), // [common]
    'not-found': modeled('cloudWatch', 'ResourceNotFoundException', 404, 'Alarm not found'),
    internal: modeled('cloudWatch', 'InternalServiceFault', 500, 'Internal service failure'),
    unavailable: generic('ServiceUnavailableException', 503, 'Service unavailable', { queryCode: 'ServiceUnavailable' }), // [common]
    'request-timeout': generic('RequestTimeoutException', 408, 'Request timed out', { queryCode: 'RequestTimeout' }), // [common]
    'expired-token': generic('ExpiredTokenException', 400, 'The security token included in the request is expired', {
      queryCode: 'ExpiredToken',
    }), // [common]
  },
  secretsManager: {
    throttled: generic('ThrottlingException', 400, 'Rate exceeded'), // [common]
    validation: { ...modeled('secretsManager', 'InvalidParameterException', 400, 'Invalid parameter value'), messageMember: 'Message' },
    'access-denied': generic('AccessDeniedException', 400, 'User is not authorized to perform: secretsmanager:GetSecretValue', {
      messageMember: 'Message',
    }), // [common]
    'not-found': { ...modeled('secretsManager', 'ResourceNotFoundException', 400, "Secrets Manager can't find the specified secret.") },
    internal: {
      ...modeled('secretsManager', 'InternalServiceError', 500, 'An error occurred on the server side.'),
      status: 500,
      fault: 'Receiver',
    },
    unavailable: generic('ServiceUnavailable', 503, 'Service unavailable'), // [common]
    'request-timeout': generic('RequestTimeoutException', 408, 'Request timed out'), // [common]
    'expired-token': generic('ExpiredTokenException', 400, 'The security token included in the request is expired', {
      messageMember: 'Message',
    }), // [common]
  },
};

export function wireError(service: AwsService, kind: AwsErrorKind): WireError {
  return TABLE[service][kind];
}

let requestCounter = 0;
function requestId(): string {
  requestCounter += 1;
  return `HOSTILE${String(requestCounter).padStart(10, '0')}`;
}

/** Writes `error` as `service` puts it on the wire; `head` for S3 HEAD requests (status only). */
export function sendAwsError(res: ServerResponse, service: AwsService, error: WireError, head = false): void {
  const id = requestId();
  switch (service) {
    case 's3': {
      const body = head
        ? ''
        : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${xml(error.message)}</Message>` +
          `<RequestId>${id}</RequestId><HostId>${Buffer.from(id).toString('base64')}</HostId></Error>`;
      res.writeHead(error.status, {
        'x-amz-request-id': id,
        'x-amz-id-2': Buffer.from(id).toString('base64'),
        ...(head ? {} : { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }),
      });
      res.end(body);
      return;
    }
    case 'mwaa': {
      const body = JSON.stringify({ [error.messageMember]: error.message });
      res.writeHead(error.status, {
        'content-type': 'application/json',
        'x-amzn-requestid': id,
        // As API Gateway and Coral send it; the SDK keeps the part before the colon.
        'x-amzn-errortype': `${error.code}:http://internal.amazon.com/coral/com.amazonaws.mwaa/`,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    case 'cloudWatch': {
      const body = JSON.stringify({ __type: `com.amazonaws.cloudwatch#${error.code}`, [error.messageMember]: error.message });
      res.writeHead(error.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': id,
        'x-amzn-query-error': `${error.queryCode ?? error.code};${error.fault}`,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    case 'secretsManager': {
      const body = JSON.stringify({ __type: error.code, [error.messageMember]: error.message });
      res.writeHead(error.status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': id,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
  }
}

export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
