/**
 * Request correlation. Every REST request and every RPC has a request id: the caller's own when it
 * sent a sane one (`X-Request-Id` header, `x-request-id` metadata), a fresh UUID otherwise. A W3C
 * `traceparent` is accepted as well; its trace id goes on the log lines next to the request id and
 * the header is passed on to the gRPC call (unchanged, or naming the gateway's client span when
 * traces are exported: see tracing/tracing.ts).
 */
import { randomUUID } from 'node:crypto';

/** Longest accepted incoming request id. */
export const MAX_REQUEST_ID_LENGTH = 128;
/** Characters of an accepted request id: what proxies and tracers use (UUIDs, hex, base64url, dotted ids). */
const REQUEST_ID_RE = /^[A-Za-z0-9._~:/+=@-]{1,128}$/;
/** W3C Trace Context, version 00: 00-<trace id>-<parent id>-<flags>; all-zero ids are invalid. */
const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The caller's request id when it is sane (bounded length, plain characters), else a new one. */
export function requestIdFrom(incoming: unknown): string {
  return typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
}

/** The trace id of a valid `traceparent`, else null. */
export function traceIdOf(traceparent: unknown): string | null {
  if (typeof traceparent !== 'string') return null;
  const m = TRACEPARENT_RE.exec(traceparent);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return null;
  return m[1];
}
