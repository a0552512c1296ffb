/**
 * The mapping between Matrix errors (HTTP status + errcode) and gRPC statuses. The errcode, the
 * exact HTTP status and any extra body fields travel in trailing metadata so the gateway can
 * rebuild Synapse's error body byte for byte.
 */
import * as grpc from '@grpc/grpc-js';
import { echo } from '../errors';

export const META_ERRCODE = 'matrix-errcode';
export const META_HTTP_STATUS = 'matrix-http-status';
export const META_ERROR_EXTRA = 'matrix-error-extra';

const HTTP_TO_GRPC: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  405: grpc.status.UNIMPLEMENTED,
  409: grpc.status.ALREADY_EXISTS,
  413: grpc.status.RESOURCE_EXHAUSTED,
  429: grpc.status.RESOURCE_EXHAUSTED,
  499: grpc.status.CANCELLED,
  500: grpc.status.INTERNAL,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

/** grpc-gateway's table (runtime/errors.go), used when no Matrix status travelled with the error. */
const GRPC_TO_HTTP: Record<number, number> = {
  [grpc.status.OK]: 200,
  [grpc.status.CANCELLED]: 499,
  [grpc.status.UNKNOWN]: 500,
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.DEADLINE_EXCEEDED]: 504,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.FAILED_PRECONDITION]: 400,
  [grpc.status.ABORTED]: 409,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.UNIMPLEMENTED]: 501,
  [grpc.status.INTERNAL]: 500,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.DATA_LOSS]: 500,
};

export const grpcCodeForHttp = (status: number): grpc.status =>
  HTTP_TO_GRPC[status] ?? (status >= 500 ? grpc.status.INTERNAL : grpc.status.FAILED_PRECONDITION);

export const httpStatusForGrpc = (code: number): number => GRPC_TO_HTTP[code] ?? 500;

/**
 * The most a status message (grpc-message trailer) may hold, in UTF-16 code units. grpc-js
 * percent-encodes it (at most 9 bytes a unit), so it stays far below the 64 KiB an HTTP/2 peer's
 * HPACK decoder accepts for one header field: past that, nghttp2 ends the whole connection with
 * COMPRESSION_ERROR, and a Node client never notices (every call on it hangs).
 */
export const MAX_STATUS_DETAILS_CHARS = 1024;

/**
 * A status message as it may be sent: cut to `MAX_STATUS_DETAILS_CHARS`, and well-formed (a lone
 * surrogate would make encodeURI, grpc-js's grpc-message encoder, throw; it becomes U+FFFD).
 */
export function boundStatusDetails(details: string): string {
  return echo(details, MAX_STATUS_DETAILS_CHARS).replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

/**
 * A server interceptor bounding the message of every status sent by a handler outside the call
 * adapter (grpc-health-check, for one, echoes the service name it was asked about). The services
 * of this contract all answer through the adapter, whose `toServiceError` bounds its statuses, so
 * their calls pass through unwrapped.
 */
export const boundStatusInterceptor: grpc.ServerInterceptor = (method, call) =>
  method.path.startsWith(ADAPTER_PATH_PREFIX)
    ? // grpc-js chains interceptors through the call interface, so the call itself may be returned.
      (call as grpc.ServerInterceptingCall)
    : new grpc.ServerInterceptingCall(call, {
        sendStatus: (status, next) =>
          next(
            status.details && status.details.length > MAX_STATUS_DETAILS_CHARS
              ? { ...status, details: boundStatusDetails(status.details) }
              : status,
          ),
      });

/** The package whose services answer through the call adapter. */
const ADAPTER_PATH_PREFIX = '/synapse.admin.v1.';
