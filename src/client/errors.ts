/**
 * The error every client call rejects with: the gRPC status plus the Matrix error the service sent
 * in its trailers (`matrix-errcode`, `matrix-http-status`, `matrix-error-extra`). The REST gateway
 * renders Synapse's error bodies from the same object.
 */
import * as grpc from '@grpc/grpc-js';
import { META_ERRCODE, META_ERROR_EXTRA, META_HTTP_STATUS, httpStatusForGrpc } from '../grpc/status';

export class MatrixClientError extends Error {
  /** The gRPC status code. */
  readonly code: grpc.status;
  /** The Matrix errcode (`M_NOT_FOUND`, ...); `M_UNKNOWN` when the status carried none. */
  readonly errcode: string;
  /** The HTTP status Synapse would answer (from the trailer, else grpc-gateway's mapping of the code). */
  readonly httpStatus: number;
  /** Extra fields of the Matrix error body (for example `retry_after_ms`). */
  readonly extra: Record<string, unknown>;
  /** Whether the service itself answered with a Matrix error (false: a transport or deadline failure). */
  readonly fromService: boolean;
  readonly metadata: grpc.Metadata;

  constructor(code: grpc.status, message: string, metadata: grpc.Metadata = new grpc.Metadata()) {
    super(message);
    this.name = 'MatrixClientError';
    this.code = code;
    this.metadata = metadata;
    const errcode = metadata.get(META_ERRCODE)[0];
    const status = Number(metadata.get(META_HTTP_STATUS)[0]);
    const extra = metadata.get(META_ERROR_EXTRA)[0];
    this.fromService = errcode !== undefined;
    this.errcode = errcode !== undefined ? String(errcode) : 'M_UNKNOWN';
    this.httpStatus = Number.isInteger(status) && status >= 400 && status < 600 ? status : httpStatusForGrpc(code);
    this.extra = parseExtra(extra);
  }

  /** The gRPC status name (`NOT_FOUND`). */
  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }

  /** Wraps a grpc-js ServiceError (anything else is returned unchanged). */
  static from(err: unknown): unknown {
    if (err instanceof MatrixClientError || !isServiceError(err)) return err;
    return new MatrixClientError(err.code, err.details, err.metadata);
  }
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    'metadata' in err &&
    (err as grpc.ServiceError).metadata instanceof grpc.Metadata
  );
}

function parseExtra(raw: unknown): Record<string, unknown> {
  if (raw === undefined) return {};
  try {
    const v: unknown = JSON.parse(String(raw));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
