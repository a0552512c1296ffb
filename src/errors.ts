/**
 * The one domain error type. It carries Synapse's HTTP status and Matrix errcode; the gRPC
 * adapter turns it into a status (with the errcode in trailing metadata) and the gateway turns
 * that back into Synapse's `{"errcode", "error"}` body.
 */
export const Codes = {
  UNKNOWN: 'M_UNKNOWN',
  NOT_FOUND: 'M_NOT_FOUND',
  FORBIDDEN: 'M_FORBIDDEN',
  MISSING_TOKEN: 'M_MISSING_TOKEN',
  UNKNOWN_TOKEN: 'M_UNKNOWN_TOKEN',
  NOT_JSON: 'M_NOT_JSON',
  BAD_JSON: 'M_BAD_JSON',
  INVALID_PARAM: 'M_INVALID_PARAM',
  MISSING_PARAM: 'M_MISSING_PARAM',
  UNRECOGNIZED: 'M_UNRECOGNIZED',
  USER_IN_USE: 'M_USER_IN_USE',
  INVALID_USERNAME: 'M_INVALID_USERNAME',
  USER_DEACTIVATED: 'M_USER_DEACTIVATED',
  GUEST_ACCESS_FORBIDDEN: 'M_GUEST_ACCESS_FORBIDDEN',
  USER_LOCKED: 'M_USER_LOCKED',
  USER_SUSPENDED: 'M_USER_SUSPENDED',
  LIMIT_EXCEEDED: 'M_LIMIT_EXCEEDED',
  TOO_LARGE: 'M_TOO_LARGE',
  ROOM_IN_USE: 'M_ROOM_IN_USE',
  UNSUPPORTED_ROOM_VERSION: 'M_UNSUPPORTED_ROOM_VERSION',
  INVALID_ROOM_STATE: 'M_INVALID_ROOM_STATE',
} as const;

export type Errcode = (typeof Codes)[keyof typeof Codes] | string;

export class MatrixError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
    readonly errcode: Errcode = Codes.UNKNOWN,
    /** Extra top-level fields of the error body, e.g. `soft_logout`. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  /** Synapse's rendering of an error inside task results: "<code>: <msg>". */
  toTaskError(): string {
    return `${this.httpStatus}: ${this.message}`;
  }
}

/** How much of a request value an error message repeats (UTF-16 code units); the rest is cut. */
export const MAX_ECHO_CHARS = 200;

/**
 * A request value as an error message repeats it: as given when short, else its first
 * `MAX_ECHO_CHARS` characters and an ellipsis, so no error text (and no gRPC trailer carrying it)
 * grows with the input. Never splits a surrogate pair.
 */
export function echo(value: unknown, max = MAX_ECHO_CHARS): string {
  const s = typeof value === 'string' ? value : String(value);
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  const cut = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${s.slice(0, cut)}…`;
}

export const notFound = (msg = 'Not found') => new MatrixError(404, msg, Codes.NOT_FOUND);
export const forbidden = (msg: string) => new MatrixError(403, msg, Codes.FORBIDDEN);
export const badRequest = (msg: string, errcode: Errcode = Codes.UNKNOWN) => new MatrixError(400, msg, errcode);
export const invalidParam = (msg: string) => new MatrixError(400, msg, Codes.INVALID_PARAM);
export const badJson = (msg: string) => new MatrixError(400, msg, Codes.BAD_JSON);
export const missingParams = (keys: string[]) =>
  new MatrixError(400, `Missing params: [${keys.map((k) => `'${k}'`).join(', ')}]`, Codes.MISSING_PARAM);
/** 401 for a token that belongs to no live session (Synapse's text and `soft_logout: false`). */
export const unknownToken = () => new MatrixError(401, 'Invalid access token passed.', Codes.UNKNOWN_TOKEN, { soft_logout: false });
/** A dependency (Redis, PostgreSQL) is unreachable: fail fast, nothing half-done. */
export const unavailable = (msg: string) => new MatrixError(503, msg, Codes.UNKNOWN);
